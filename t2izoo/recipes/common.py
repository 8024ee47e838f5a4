"""Flags and config resolution shared by the recipe modules."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
from absl import flags

from t2izoo.configs import base as config_lib
from t2izoo.data.datasets import DATASETS
from t2izoo.errors import ConfigError
from t2izoo.trainers.run_loop import STRATEGIES
from t2izoo.utils.batch_norm import recompute_batch_norm_statistics
from t2izoo.utils.cli import run_main

FLAGS = flags.FLAGS


def define_flags(presets: dict, default_dataset: str = "shapes"):
    flags.DEFINE_enum("dataset", default_dataset, list(DATASETS), "Dataset to train on.")
    flags.DEFINE_string("preset", None, f"Named preset ({', '.join(presets)}); defaults to --dataset.")
    flags.DEFINE_string("data_dir", None, "Root of a real dataset (overrides the preset).")
    flags.DEFINE_string("model_dir", None, "Run directory (default runs/<recipe>_<dataset>).")
    flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
    flags.DEFINE_multi_string("override", [], "key=value overrides of config fields (repeatable).")
    flags.register_validator("preset", lambda v: v is None or v in presets,
                             message=f"--preset must be one of {', '.join(presets)}")


def resolve_config(presets: dict):
    """Preset (named or from --dataset) + --data_dir + --override, type-checked."""
    name = FLAGS.preset or FLAGS.dataset
    if name not in presets:
        raise config_lib.ConfigError(f"no preset for dataset {name!r}; choose --preset from {', '.join(presets)}")
    config = dataclasses.replace(presets[name], dataset=FLAGS.dataset)
    if FLAGS.data_dir:
        config = dataclasses.replace(config, data_dir=FLAGS.data_dir)
    return config_lib.apply_overrides(config, FLAGS.override)


def halving_adam(config, steps_per_epoch: int):
    """Adam(lr, beta_1) whose learning rate halves every `config.lr_decay_epochs` epochs
    (icml2016's and StackGAN's schedule)."""
    import keras

    schedule = keras.optimizers.schedules.ExponentialDecay(
        config.learning_rate, decay_steps=config.lr_decay_epochs * steps_per_epoch, decay_rate=0.5, staircase=True)
    return keras.optimizers.Adam(schedule, beta_1=config.beta_1)


def jit_compile(config) -> bool:
    """`config.jit_compile`, except under a multi-replica strategy (XLA cannot address
    MirroredStrategy's per-device variables: "Trying to access resource ... located in device
    CPU:1 from device CPU:0"). Call inside the strategy's scope."""
    return bool(config.jit_compile) and tf.distribute.get_strategy().num_replicas_in_sync == 1


def default_model_dir(recipe_name: str, dataset: str) -> str:
    return FLAGS.model_dir or os.path.join("runs", f"{recipe_name}_{dataset}")


def recipe_main(presets: dict, name: str, train_fn, flag_args: tuple = ()):
    """The absl `main` of a recipe module: resolve the config, pick the run directory and call
    `train_fn(config, model_dir, strategy, *[FLAGS.<f> for f in flag_args])`, with bad flags,
    paths or data reported as one line."""
    def main(argv):
        del argv

        def _run():
            config = resolve_config(presets)
            extra = [FLAGS[f].value for f in flag_args]
            return train_fn(config, default_model_dir(name, config.dataset), FLAGS.strategy, *extra)

        run_main(_run)

    return main


def define_auto_pretrain_flag(what: str):
    flags.DEFINE_bool("auto_pretrain", True, f"Pretrain the shapes {what} when it is missing.")


def refresh_small_cnn_statistics(image_encoder, config, batches):
    """Precise BN for a pretraining recipe's image encoder when it is the from-scratch `small_cnn`
    (a pretrained Inception stays frozen, statistics included); `batches` are training batches."""
    if config.image_encoder != "small_cnn":
        return
    key = f"image_{config.image_size}"
    recompute_batch_norm_statistics(image_encoder, batches, lambda b: image_encoder(b[key], training=True))


def parse_hard_negative_kinds(value: str, field: str) -> tuple:
    """A comma-separated list of `shapes.HARD_NEGATIVE_KINDS` (config field `field`) as a tuple;
    ConfigError when empty, repeated or unknown."""
    from t2izoo.data.shapes import HARD_NEGATIVE_KINDS

    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in HARD_NEGATIVE_KINDS]
    if bad or not kinds or len(set(kinds)) != len(kinds):
        raise ConfigError(f"{field}={value!r}: expected distinct comma-separated kinds from "
                          f"{', '.join(HARD_NEGATIVE_KINDS)}")
    return kinds
