"""StackGAN (Zhang et al., ICCV 2017) on a frozen, pretrained char-CNN-RNN embedding.

    python -m t2izoo.recipes.stackgan --dataset=shapes --stage=1 --model_dir=runs/stackgan_shapes_s1
    python -m t2izoo.recipes.stackgan --dataset=shapes --stage=2 --model_dir=runs/stackgan_shapes_s2 \
        --override stage1_dir=runs/stackgan_shapes_s1

Stage-II loads the Stage-I run (its EMA generator when it has one) and keeps it frozen. On
`shapes`, a missing text encoder is pretrained first (`--auto_pretrain`).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
from absl import app, flags

from t2izoo.configs import base as config_lib
from t2izoo.configs.stackgan import STACKGAN_PRESETS, STACKGAN_STAGE2_PRESETS, StackGanConfig
from t2izoo.discriminators.stage import StageDiscriminator
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.generators.stacked import StageIGenerator, StageIIGenerator
from t2izoo.recipes import common, frozen_text
from t2izoo.recipes.gan_int_cls import ensure_text_encoder
from t2izoo.trainers import run_loop
from t2izoo.trainers.stackgan import StackGanTrainer
from t2izoo.utils.cli import run_main

NAME = "stackgan"
STAGE1_GENERATOR_CONFIG = "stage1_generator.json"
PRESETS = {1: STACKGAN_PRESETS, 2: STACKGAN_STAGE2_PRESETS}
_STAGE1_ARCHITECTURE = ("image_size", "z_dim", "condition_dim", "ngf", "encoder_dir", "dataset")


def _sync(config):
    return config.sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1


def stage1_generator(config, sync=False):
    return StageIGenerator(config.image_size, config.z_dim, config.condition_dim, config.ngf, sync,
                           name="stage1_generator" if config.stage == 2 else "generator")


class StackGanRecipe(frozen_text.FrozenCharCnnRnnMixin, run_loop.Recipe):
    name = NAME

    def prepare(self, config, model_dir):
        context = frozen_text.FrozenCharCnnRnnMixin.prepare(self, config, model_dir)
        if config.stage == 2:
            context["stage1_generator"] = self._load_stage1(config, model_dir, context)
        return context

    def _load_stage1(self, config, model_dir, context):
        """The Stage-I generator: from `stage1_dir` (EMA weights), or (inference) rebuilt here and
        filled by this run's checkpoint, which holds it too."""
        stored = os.path.join(model_dir, STAGE1_GENERATOR_CONFIG)
        stage1_config_path = os.path.join(config.stage1_dir, config_lib.CONFIG_FILENAME) if config.stage1_dir else ""
        if stage1_config_path and os.path.exists(stage1_config_path):
            stage1_config = config_lib.load_config(StackGanConfig, config.stage1_dir)
            if stage1_config.stage != 1:
                raise ConfigError(f"stage1_dir={config.stage1_dir} holds a stage-{stage1_config.stage} run")
            diffs = [f"{k}: Stage-I {getattr(stage1_config, k)!r}, here {getattr(config, k)!r}"
                     for k in _STAGE1_ARCHITECTURE if getattr(stage1_config, k) != getattr(config, k)]
            if diffs:
                raise ConfigError(f"stage1_dir={config.stage1_dir} does not match this Stage-II config ("
                                  + "; ".join(diffs) + ")")
            stage1_trainer, _ = run_loop.restore_for_inference(StackGanRecipe(), stage1_config, config.stage1_dir)
            z = tf.zeros((1, config.z_dim))
            example = (z, tf.zeros((1, context["text_encoder"].embedding_dim)), tf.zeros((1, config.condition_dim)))
            trained = stage1_trainer.sync_ema_generator(example)
            generator = stage1_generator(config)
            generator(example)
            generator.set_weights(trained.get_weights())
            os.makedirs(model_dir, exist_ok=True)
            with open(stored + ".tmp", "w") as f:
                json.dump(generator.get_config(), f)
            os.replace(stored + ".tmp", stored)
        elif os.path.exists(stored):
            with open(stored) as f:
                generator = StageIGenerator.from_config(json.load(f))
        else:
            raise CheckpointError(
                f"Stage-II needs a trained Stage-I run: pass --override stage1_dir=<Stage-I model_dir> "
                f"(got {config.stage1_dir!r}, which holds no {config_lib.CONFIG_FILENAME})")
        generator.trainable = False
        return generator

    def pipeline_options(self, config):
        from t2izoo.data.pipeline import PipelineOptions

        return PipelineOptions(image_sizes=(config.output_size,), batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed)

    def build_trainer(self, config, context):
        sync = _sync(config)
        if config.stage == 1:
            generator, stage1 = stage1_generator(config, sync), None
        else:
            generator = StageIIGenerator(config.hr_image_size, config.image_size, config.condition_dim, config.ngf,
                                         config.num_residual, sync, name="generator")
            stage1 = context["stage1_generator"]
        discriminator = StageDiscriminator(config.output_size, config.ndf, "stackgan", config.condition_dim, sync,
                                           name="discriminator")
        trainer = StackGanTrainer(generator, discriminator, text_encoder=context["text_encoder"],
                                  stage1_generator=stage1, image_size=config.output_size, kl_coeff=config.kl_coeff,
                                  z_dim=config.z_dim, ema_decay=config.ema_decay, seed=config.seed)

        steps = context["steps_per_epoch"]
        trainer.compile(g_optimizer=common.halving_adam(config, steps), d_optimizer=common.halving_adam(config, steps),
                        jit_compile=common.jit_compile(config))
        return trainer

    def example_batch(self, config, context):
        return frozen_text.example_batch(config, context, (config.output_size,))


def train(config, model_dir, strategy="default", auto_pretrain=True):
    if config.stage not in (1, 2):
        raise ConfigError(f"stage must be 1 or 2, got {config.stage}")
    if auto_pretrain:
        ensure_text_encoder(config)
    return run_loop.train(StackGanRecipe(), config, model_dir, strategy)


def main(argv):
    del argv

    def _run():
        stage = flags.FLAGS.stage
        config = common.resolve_config(PRESETS[stage])
        if config.stage != stage:
            raise ConfigError(f"--stage={stage} but the config says stage={config.stage}; use --stage only")
        model_dir = flags.FLAGS.model_dir or os.path.join("runs", f"{NAME}_{config.dataset}_stage{stage}")
        train(config, model_dir, flags.FLAGS.strategy, flags.FLAGS.auto_pretrain)

    run_main(_run)


if __name__ == "__main__":
    common.define_flags(STACKGAN_PRESETS)
    flags.DEFINE_integer("stage", 1, "1: train Stage-I; 2: train Stage-II on a frozen Stage-I run.",
                         lower_bound=1, upper_bound=2)
    flags.DEFINE_bool("auto_pretrain", True, "Pretrain the shapes text encoder when it is missing.")
    app.run(main)
