"""Pretrain the char-CNN-RNN text encoder with DS-SJE (reedscot/cvpr2016).

    python -m t2izoo.recipes.char_cnn_rnn --dataset=shapes

The encoder is then frozen and conditions GAN-INT-CLS (`--encoder_dir` of that recipe).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf
from absl import app

from t2izoo.configs import base as config_lib
from t2izoo.configs.gan_int_cls import CHAR_CNN_RNN_PRESETS, CharCnnRnnConfig
from t2izoo.data import text as text_lib
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder
from t2izoo.encoders.small_cnn import SmallImageEncoder
from t2izoo.errors import ConfigError
from t2izoo.recipes import common
from t2izoo.trainers import run_loop
from t2izoo.trainers.sje import SjeTrainer
from t2izoo.utils.cli import run_main

NAME = "char_cnn_rnn"


def build_text_encoder(config: CharCnnRnnConfig) -> CharCnnRnnEncoder:
    return CharCnnRnnEncoder(config.conv_channels, config.rnn_dim, config.embedding_dim)


def build_image_encoder(config: CharCnnRnnConfig):
    if config.image_encoder == "small_cnn":
        return SmallImageEncoder(config.embedding_dim)
    if config.image_encoder == "inception":
        from t2izoo.encoders.inception import InceptionImageEncoder

        return InceptionImageEncoder(config.embedding_dim, config.inception_weights)
    raise ConfigError(f"image_encoder must be small_cnn or inception, not {config.image_encoder!r}")


class CharCnnRnnRecipe(run_loop.Recipe):
    name = NAME

    def pipeline_options(self, config):
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, with_chars=True, seed=config.seed)

    def build_trainer(self, config, context):
        trainer = SjeTrainer(build_text_encoder(config), build_image_encoder(config), config.image_size)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=context["steps_per_epoch"], decay_rate=config.lr_decay, staircase=True)
        trainer.compile(optimizer=keras.optimizers.Adam(schedule, global_clipnorm=config.grad_clip),
                        jit_compile=False)
        return trainer

    def step(self, trainer):
        return int(trainer.optimizer.iterations.numpy())

    def example_batch(self, config, context):
        return {"chars": tf.zeros((2, text_lib.CHAR_LENGTH), tf.int32),
                f"image_{config.image_size}": tf.zeros((2, config.image_size, config.image_size, 3)),
                "class_ids": tf.constant([0, 1])}

    def finish(self, trainer, config, context, model_dir):
        score = retrieval_r_precision(trainer, config)
        print(f"[{NAME}] test R-precision (caption -> image, 1 true + 99 other-class captions): "
              f"{score[0]:.1f} +- {score[1]:.1f} %")
        with open(os.path.join(model_dir, "retrieval.txt"), "w") as f:
            f.write(f"r_precision_mean={score[0]:.2f} r_precision_std={score[1]:.2f}\n")


def encode_captions(text_encoder, captions, batch_size: int = 256) -> np.ndarray:
    """Embeddings [len(captions), D] of caption strings with a char-CNN-RNN encoder."""
    chars = np.stack([text_lib.encode_chars(c) for c in captions]) if len(captions) else np.zeros((0, 201))
    out = [text_encoder(tf.constant(chars[i:i + batch_size], tf.int32), training=False).numpy()
           for i in range(0, len(chars), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, text_encoder.embedding_dim), np.float32)


def retrieval_r_precision(trainer, config, num_images: int = 1000):
    """R-precision of the joint embedding on the test split (image -> 1 true + 99 captions)."""
    from t2izoo.metrics.r_precision import r_precision, sample_mismatched_indices

    test = run_loop.load_dataset(config, "test")
    n = min(num_images, len(test))
    images = test.load_images(np.arange(n), (config.image_size,))[config.image_size]
    image_vecs = np.concatenate([
        trainer.image_encoder(tf.constant(images[i:i + 256], tf.float32) / 127.5 - 1.0, training=False).numpy()
        for i in range(0, n, 256)])
    text_vecs = encode_captions(trainer.text_encoder, [test.captions[i][0] for i in range(n)])
    mismatched = sample_mismatched_indices(np.asarray(test.class_ids[:n]), rng=config.seed)
    return r_precision(image_vecs, text_vecs, mismatched_indices=mismatched)


def load_text_encoder(encoder_dir: str) -> CharCnnRnnEncoder:
    """The frozen text encoder of a finished pretraining run."""
    config = config_lib.load_config(CharCnnRnnConfig, encoder_dir)
    recipe = CharCnnRnnRecipe()
    trainer, _ = run_loop.restore_for_inference(recipe, config, encoder_dir)
    trainer.text_encoder.trainable = False
    return trainer.text_encoder


def train(config, model_dir, strategy="default", **kwargs):
    return run_loop.train(CharCnnRnnRecipe(), config, model_dir, strategy, **kwargs)


def main(argv):
    del argv

    def _run():
        config = common.resolve_config(CHAR_CNN_RNN_PRESETS)
        train(config, common.default_model_dir(NAME, config.dataset), common.FLAGS.strategy)

    run_main(_run)


if __name__ == "__main__":
    common.define_flags(CHAR_CNN_RNN_PRESETS)
    app.run(main)
