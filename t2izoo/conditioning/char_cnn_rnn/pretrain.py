"""Pretrain the char-CNN-RNN text encoder with DS-SJE (reedscot/cvpr2016).

    python -m t2izoo.recipes.char_cnn_rnn --dataset=shapes

The encoder is then frozen and conditions GAN-INT-CLS, StackGAN and StackGAN++ (`text_encoder_dir` of
those recipes; `CharCnnRnnConditioner`).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.conditioning.char_cnn_rnn.config import CharCnnRnnConfig
from t2izoo.conditioning.char_cnn_rnn.trainer import SJE_NEGATIVES, SjeTrainer
from t2izoo.data import text as text_lib
from t2izoo.data.datasets import load_dataset
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.data.shapes import parse_hard_negative_kinds
from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder
from t2izoo.encoders.small_cnn import SmallImageEncoder
from t2izoo.errors import ConfigError
from t2izoo.metrics.attribute_swap import shapes_binding_accuracy, shapes_swap_accuracy
from t2izoo.trainers import run_loop
from t2izoo.trainers.checkpointing import restore_for_inference
from t2izoo.trainers.optimizers import jit_compile
from t2izoo.utils.batch_norm import refresh_small_cnn_statistics

NAME = "char_cnn_rnn"
BN_BATCHES = 100  # training batches that re-estimate the image encoder's BN statistics
HARD_CAPTIONS = 4  # captions per changed scene for `sje_hard_negatives`


def build_text_encoder(config: CharCnnRnnConfig) -> CharCnnRnnEncoder:
    return CharCnnRnnEncoder(conv_channels=config.conv_channels, rnn_dim=config.rnn_dim,
                             embedding_dim=config.embedding_dim)


def build_image_encoder(config: CharCnnRnnConfig):
    if config.image_encoder == "small_cnn":
        return SmallImageEncoder(embedding_dim=config.embedding_dim)
    if config.image_encoder == "inception":
        from t2izoo.encoders.inception import InceptionImageEncoder

        return InceptionImageEncoder(embedding_dim=config.embedding_dim, weights_path=config.inception_weights)
    raise ConfigError(f"image_encoder must be small_cnn or inception, not {config.image_encoder!r}")


class CharCnnRnnRecipe(run_loop.Recipe):
    name = NAME

    def pipeline_options(self, config):
        if config.sje_negatives not in SJE_NEGATIVES:
            raise ConfigError(f"sje_negatives={config.sje_negatives!r}: expected one of {', '.join(SJE_NEGATIVES)}")
        if config.sje_negatives == "scene" and config.dataset != "shapes":
            raise ConfigError(f"sje_negatives=scene needs the attributes of `shapes` scenes; "
                              f"--dataset={config.dataset} has none (use class)")
        if config.sje_hard_negatives:
            if config.dataset != "shapes":
                raise ConfigError(f"sje_hard_negatives needs the attributes of `shapes` scenes; "
                                  f"--dataset={config.dataset} has none (leave it empty)")
            parse_hard_negative_kinds(config.sje_hard_negatives, "sje_hard_negatives")
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, with_chars=True, seed=config.seed)

    def hard_negative_chars(self, config, context, image_set):
        """uint8 [N, K, HARD_CAPTIONS, 201]: per scene, captions of it changed in each of the
        `sje_hard_negatives` kinds (`shapes.hard_negative_captions`), or None."""
        if not config.sje_hard_negatives:
            return None
        from t2izoo.data import shapes as shapes_data

        kinds = parse_hard_negative_kinds(config.sje_hard_negatives, "sje_hard_negatives")
        rng = np.random.default_rng([config.seed, 1299709])
        out = np.zeros((len(image_set), len(kinds), HARD_CAPTIONS, text_lib.CHAR_LENGTH), np.uint8)
        for i, objects in enumerate(image_set.attributes):
            for k, captions in enumerate(shapes_data.hard_negative_captions(objects, HARD_CAPTIONS, rng, kinds)):
                out[i, k] = [text_lib.encode_chars(c) for c in captions]
        return out

    def build_trainer(self, config, context):
        trainer = SjeTrainer(build_text_encoder(config), build_image_encoder(config), image_size=config.image_size,
                             negatives=config.sje_negatives, hard_negatives=bool(config.sje_hard_negatives))
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=context["steps_per_epoch"], decay_rate=config.lr_decay, staircase=True)
        trainer.compile(optimizer=keras.optimizers.Adam(schedule, global_clipnorm=config.grad_clip),
                        jit_compile=jit_compile(config))
        return trainer

    def step(self, trainer):
        return int(trainer.optimizer.iterations.numpy())

    def example_batch(self, config, context):
        batch = {"chars": tf.zeros((2, text_lib.CHAR_LENGTH), tf.int32),
                 f"image_{config.image_size}": tf.zeros((2, config.image_size, config.image_size, 3)),
                 "class_ids": tf.constant([0, 1])}
        if config.sje_hard_negatives:
            batch["hard_chars"] = batch["chars"]
        return batch

    def finalize(self, trainer, config, context, batches):
        """Precise BN for a from-scratch image encoder: its running averages lag the fast-moving
        weights."""
        refresh_small_cnn_statistics(trainer.image_encoder, config, batches(BN_BATCHES))

    def finish(self, trainer, config, context, model_dir):
        score = retrieval_r_precision(trainer, config)
        print(f"[{NAME}] test R-precision (caption -> image, 1 true + 99 other-class captions): "
              f"{score[0]:.1f} +- {score[1]:.1f} %")
        lines = [f"r_precision_mean={score[0]:.2f} r_precision_std={score[1]:.2f}"]
        if config.dataset == "shapes":
            probe = shapes_attribute_probe(trainer.text_encoder, config)
            print(f"[{NAME}] linear probe of the caption embedding (one-object test captions): "
                  + ", ".join(f"{k} {100 * v:.1f} %" for k, v in probe.items()))
            lines += [f"probe_{k}={100 * v:.2f}" for k, v in probe.items()]
            test = load_dataset(config, "test")
            encode_i = lambda x: encode_images(trainer.image_encoder, x)  # noqa: E731
            encode_c = lambda c: encode_captions(trainer.text_encoder, c)  # noqa: E731
            swaps = shapes_swap_accuracy(encode_i, encode_c, test, config.image_size, seed=config.seed, cosine=False)
            print(f"[{NAME}] attribute-swap accuracy (image scores its caption above the caption with one "
                  "attribute changed; 50 % = blind): " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in swaps.items()))
            lines += [f"swap_{k}={100 * v:.2f}" for k, v in swaps.items()]
            binding = shapes_binding_accuracy(encode_i, encode_c, test, config.image_size, seed=config.seed,
                                              cosine=False)
            two = shapes_two_object_color_probe(trainer.text_encoder, config)
            print(f"[{NAME}] two-object scenes: colour-binding swap accuracy {100 * binding:.1f} % (50 % = blind to "
                  f"which object has which colour); linear probe of the first / second object's colour "
                  f"{100 * two[0]:.1f} / {100 * two[1]:.1f} %")
            lines += [f"swap_color_binding={100 * binding:.2f}",
                      f"probe_two_object_color_1={100 * two[0]:.2f} probe_two_object_color_2={100 * two[1]:.2f}"]
        with open(os.path.join(model_dir, "retrieval.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def encode_captions(text_encoder, captions, batch_size: int = 256) -> np.ndarray:
    """Embeddings [len(captions), D] of caption strings with a char-CNN-RNN encoder."""
    chars = np.stack([text_lib.encode_chars(c) for c in captions]) if len(captions) else np.zeros((0, 201))
    out = [text_encoder(tf.constant(chars[i:i + batch_size], tf.int32), training=False).numpy()
           for i in range(0, len(chars), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, text_encoder.embedding_dim), np.float32)


def encode_images(image_encoder, images, batch_size: int = 256) -> np.ndarray:
    """Image-side embeddings [N, D] of float images in [-1, 1]."""
    return np.concatenate([image_encoder(tf.constant(images[i:i + batch_size], tf.float32), training=False).numpy()
                           for i in range(0, len(images), batch_size)])


def retrieval_r_precision(trainer, config, num_images: int = 1000):
    """R-precision of the joint embedding on the test split (image -> 1 true + 99 captions)."""
    from t2izoo.metrics.r_precision import r_precision, sample_mismatched_indices

    test = load_dataset(config, "test")
    n = min(num_images, len(test))
    images = test.load_images(np.arange(n), (config.image_size,))[config.image_size]
    image_vecs = encode_images(trainer.image_encoder, images.astype(np.float32) / 127.5 - 1.0)
    text_vecs = encode_captions(trainer.text_encoder, [test.captions[i][0] for i in range(n)])
    mismatched = sample_mismatched_indices(np.asarray(test.class_ids[:n]), rng=config.seed)
    return r_precision(image_vecs, text_vecs, mismatched_indices=mismatched)


def _probe_features(text_encoder, config, num_objects: int, num_images: int):
    """For `shapes` train (seed `config.seed`) and test (`config.seed + 1`): the embedding of one
    random caption of each of the first `num_images` scenes of `num_objects` objects, and those
    scenes' attributes [N, objects, 5]."""
    from t2izoo.data.shapes import ATTR_PRESENT

    out = []
    for split, seed in (("train", config.seed), ("test", config.seed + 1)):
        images = load_dataset(config, split)
        rng = np.random.default_rng(seed)
        chosen = np.flatnonzero(images.attributes[:, 1, ATTR_PRESENT] == (num_objects - 1))[:num_images]
        captions = [images.captions[i][rng.integers(len(images.captions[i]))] for i in chosen]
        out.append((encode_captions(text_encoder, captions), images.attributes[chosen]))
    return out


def shapes_attribute_probe(text_encoder, config, num_images: int = 2000) -> dict:
    """Linear-probe accuracy of each attribute from caption embeddings of one-object scenes.

    Fit on train-split captions, scored on test-split captions: how much of the colour, shape,
    size and position a GAN conditioned on this embedding can read from it.
    """
    from t2izoo.data.shapes import ATTRIBUTE_NAMES
    from t2izoo.metrics.linear_probe import linear_probe_accuracy

    (x_train, a_train), (x_test, a_test) = _probe_features(text_encoder, config, 1, num_images)
    return {name: linear_probe_accuracy(x_train, a_train[:, 0, k + 1], x_test, a_test[:, 0, k + 1])
            for k, name in enumerate(ATTRIBUTE_NAMES)}


def shapes_two_object_color_probe(text_encoder, config, num_images: int = 1500) -> tuple:
    """Linear-probe accuracy of the colour of the first and of the second object in reading
    order (the lower grid cell first) from one caption embedding of two-object scenes (train ->
    test): what a GAN conditioned on it can know of which colour goes where. (The scenes' own
    object order is not recoverable from a caption: templates name either object first.)"""
    from t2izoo.data.shapes import ATTR_COLOR, ATTR_POSITION
    from t2izoo.metrics.linear_probe import linear_probe_accuracy

    def colors_in_reading_order(attributes):
        objects = attributes[:, :2]
        order = np.argsort(objects[:, :, ATTR_POSITION], axis=1)
        return np.take_along_axis(objects[:, :, ATTR_COLOR], order, axis=1)

    (x_train, a_train), (x_test, a_test) = _probe_features(text_encoder, config, 2, num_images)
    c_train, c_test = colors_in_reading_order(a_train), colors_in_reading_order(a_test)
    return tuple(linear_probe_accuracy(x_train, c_train[:, k], x_test, c_test[:, k]) for k in (0, 1))


def load_text_encoder(encoder_dir: str) -> CharCnnRnnEncoder:
    """The frozen text encoder of a finished pretraining run."""
    config = config_lib.load_config(CharCnnRnnConfig, encoder_dir)
    recipe = CharCnnRnnRecipe()
    trainer, _ = restore_for_inference(recipe, config, encoder_dir)
    trainer.text_encoder.trainable = False
    return trainer.text_encoder
