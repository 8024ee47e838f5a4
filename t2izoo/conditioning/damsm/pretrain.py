"""Pretrain AttnGAN's DAMSM text and image encoders (taoxugit/AttnGAN code/pretrain_DAMSM.py).

    python -m t2izoo.recipes.damsm --dataset=shapes
    python -m t2izoo.recipes.damsm --dataset=cub --override inception_weights=/path/inception_v3.h5

The frozen encoders then condition AttnGAN and give its DAMSM loss (`text_encoder_dir` of that
recipe; `DamsmConditioner`). At the end the test R-precision (image -> its caption among 1 + 99 other-class
captions, global vectors) is printed and written to `retrieval.txt`.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.conditioning.damsm.config import DamsmConfig
from t2izoo.conditioning.damsm.trainer import DamsmTrainer
from t2izoo.data.datasets import load_dataset
from t2izoo.data.pipeline import PipelineOptions, image_to_float
from t2izoo.encoders.bilstm import BiLstmTextEncoder
from t2izoo.encoders.damsm_image import DamsmInceptionEncoder, DamsmSmallCnnEncoder, DamsmTorchvisionEncoder
from t2izoo.errors import ConfigError
from t2izoo.metrics.attribute_swap import shapes_swap_accuracy
from t2izoo.trainers import run_loop
from t2izoo.trainers.checkpointing import make_checkpoint, restore_for_inference
from t2izoo.trainers.optimizers import jit_compile
from t2izoo.utils.batch_norm import refresh_small_cnn_statistics

NAME = "damsm"
BN_BATCHES = 100  # training batches that re-estimate the small-CNN image encoder's BN statistics


class EpochDecayWithFloor(keras.optimizers.schedules.LearningRateSchedule):
    """lr0 * decay^epoch, decaying only while the rate is above lr0 * floor (pretrain_DAMSM.py:
    `if lr > ENCODER_LR / 10.: lr *= 0.98` once per epoch)."""

    def __init__(self, initial_learning_rate, steps_per_epoch, decay=0.98, floor=0.1):
        self.initial_learning_rate = initial_learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.decay = decay
        self.floor = floor
        # The last decayed epoch: the first k with decay^k <= floor.
        self.last_epoch = int(np.ceil(np.log(floor) / np.log(decay))) if 0 < decay < 1 else 0

    def __call__(self, step):
        epoch = keras.ops.floor(keras.ops.cast(step, "float32") / self.steps_per_epoch)
        epoch = keras.ops.minimum(epoch, float(self.last_epoch))
        return self.initial_learning_rate * keras.ops.power(self.decay, epoch)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "steps_per_epoch": self.steps_per_epoch,
                "decay": self.decay, "floor": self.floor}


def build_text_encoder(config: DamsmConfig, vocab_size: int) -> BiLstmTextEncoder:
    return BiLstmTextEncoder(vocab_size=vocab_size, embedding_dim=config.word_embedding_dim,
                             hidden_dim=config.hidden_dim, dropout=config.dropout, name="text_encoder")


def build_image_encoder(config: DamsmConfig):
    if 2 * config.hidden_dim != config.embedding_dim:
        raise ConfigError(f"embedding_dim={config.embedding_dim} must be 2 * hidden_dim={2 * config.hidden_dim} "
                          "(the bi-LSTM's word/sentence features)")
    if config.image_encoder == "small_cnn":
        return DamsmSmallCnnEncoder(embedding_dim=config.embedding_dim, widths=config.small_cnn_widths,
                                    global_widths=config.small_cnn_global_widths, name="image_encoder")
    if config.image_encoder == "none":  # a converted, generation-only run (see DamsmConfig)
        return None
    if config.image_encoder == "inception":
        return DamsmInceptionEncoder(embedding_dim=config.embedding_dim, weights_path=config.inception_weights or None,
                                     name="image_encoder")
    if config.image_encoder == "inception_torchvision":  # converted from an official image_encoder*.pth
        return DamsmTorchvisionEncoder(embedding_dim=config.embedding_dim, name="image_encoder")
    raise ConfigError(f"image_encoder must be small_cnn, inception, inception_torchvision or none, not "
                      f"{config.image_encoder!r}")


class DamsmRecipe(run_loop.Recipe):
    name = NAME

    def pipeline_options(self, config):
        if config.image_encoder in ("none", "inception_torchvision"):
            raise ConfigError(f"image_encoder={config.image_encoder} is for runs converted from official checkpoints; "
                              "DAMSM pretraining needs small_cnn or inception")
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, seed=config.seed)

    def build_trainer(self, config, context):
        trainer = DamsmTrainer(build_text_encoder(config, len(context["vocab"])), build_image_encoder(config),
                               image_size=config.image_size, gamma1=config.gamma1, gamma2=config.gamma2,
                               gamma3=config.gamma3, aggregation=config.aggregation)

        def adam(clip=None):
            schedule = EpochDecayWithFloor(config.learning_rate, context["steps_per_epoch"], config.lr_decay,
                                           config.lr_floor)
            return keras.optimizers.Adam(schedule, beta_1=config.beta_1, global_clipnorm=clip)

        trainer.compile(text_optimizer=adam(config.rnn_grad_clip or None), image_optimizer=adam(),
                        jit_compile=jit_compile(config))
        return trainer

    def step(self, trainer):
        return int(trainer.text_optimizer.iterations.numpy())

    def checkpoint(self, trainer):
        # Explicit variable lists: tf.train.Checkpoint(trainer=...) misses Keras 3 sub-layers.
        return make_checkpoint(trainer, [trainer.text_optimizer, trainer.image_optimizer])

    def example_batch(self, config, context):
        s = config.image_size
        return {"tokens": tf.ones((2, config.max_words), tf.int32), "lengths": tf.constant([config.max_words, 1]),
                f"image_{s}": tf.zeros((2, s, s, 3)), "class_ids": tf.constant([0, 1])}

    def finalize(self, trainer, config, context, batches):
        """Precise BN for the small-CNN image encoder (AttnGAN later runs it with training=False,
        so stale running averages would corrupt its DAMSM loss)."""
        refresh_small_cnn_statistics(trainer.image_encoder, config, batches(BN_BATCHES))

    def finish(self, trainer, config, context, model_dir):
        mean, std = retrieval_r_precision(trainer.text_encoder, trainer.image_encoder, context["vocab"], config)
        print(f"[{NAME}] test R-precision (image -> its caption among 1 + 99 other-class captions): "
              f"{mean:.1f} +- {std:.1f} %")
        lines = [f"r_precision_mean={mean:.2f} r_precision_std={std:.2f}"]
        if config.dataset == "shapes":
            swaps = shapes_swap_accuracy(
                lambda x: encode_images(trainer.image_encoder, x),
                lambda c: encode_captions(trainer.text_encoder, context["vocab"], c, config.max_words)[1],
                load_dataset(config, "test"), config.image_size, seed=config.seed)
            print(f"[{NAME}] attribute-swap accuracy (image closer to its caption than to the caption with one "
                  "attribute changed; 50 % = blind): " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in swaps.items()))
            lines += [f"swap_{k}={100 * v:.2f}" for k, v in swaps.items()]
        with open(os.path.join(model_dir, "retrieval.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def encode_captions(text_encoder, vocab, captions, max_words, batch_size=256):
    """(words [N, T, D], sentence [N, D], tokens [N, T], lengths [N]) of caption strings."""
    tokens, lengths = vocab.encode_batch(captions, max_words)
    words, sentences = [], []
    for i in range(0, len(tokens), batch_size):
        w, s = text_encoder((tf.constant(tokens[i:i + batch_size]), tf.constant(lengths[i:i + batch_size])),
                            training=False)
        words.append(w.numpy())
        sentences.append(s.numpy())
    return np.concatenate(words), np.concatenate(sentences), tokens, lengths


def encode_images(image_encoder, images, batch_size=128):
    """Global vectors [N, D] of float images in [-1, 1]."""
    out = [image_encoder(tf.constant(images[i:i + batch_size], tf.float32), training=False)[1].numpy()
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def retrieval_r_precision(text_encoder, image_encoder, vocab, config, split="test", num_images=1000):
    """R-precision of the DAMSM encoders on real `split` images and their first captions."""
    from t2izoo.metrics.r_precision import r_precision, sample_mismatched_indices

    image_set = load_dataset(config, split)
    n = min(num_images, len(image_set))
    images = image_to_float(image_set.load_images(np.arange(n), (config.image_size,))[config.image_size]
                            .astype(np.float32))
    _, sentences, _, _ = encode_captions(text_encoder, vocab, [image_set.captions[i][0] for i in range(n)],
                                         config.max_words)
    mismatched = sample_mismatched_indices(np.asarray(image_set.class_ids[:n]), rng=config.seed)
    return r_precision(encode_images(image_encoder, images), sentences, mismatched_indices=mismatched)


def load_encoders(damsm_dir: str):
    """(text_encoder, image_encoder, config, vocab) of a DAMSM run, frozen."""
    config = config_lib.load_config(DamsmConfig, damsm_dir)
    trainer, context = restore_for_inference(DamsmRecipe(), config, damsm_dir)
    for model in (trainer.text_encoder, trainer.image_encoder):
        model.trainable = False
    return trainer.text_encoder, trainer.image_encoder, config, context["vocab"]
