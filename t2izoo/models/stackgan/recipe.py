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
from absl import flags

from t2izoo import configs as config_lib
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.models.stackgan.config import STACKGAN_STAGE2_PRESETS, StackGanConfig
from t2izoo.models.stackgan.generator import StageIGenerator, StageIIGenerator
from t2izoo.models.stackgan.trainer import StackGanTrainer
from t2izoo.trainers import optimizers, run_loop
from t2izoo.trainers.checkpointing import restore_for_inference
from t2izoo.utils.files import write_json_atomic

STAGE1_GENERATOR_CONFIG = "stage1_generator.json"
_STAGE1_ARCHITECTURE = ("image_size", "z_dim", "condition_dim", "ngf", "text_encoder_dir", "dataset")


def stage1_generator(config, sync=False):
    return StageIGenerator(image_size=config.image_size, z_dim=config.z_dim, condition_dim=config.condition_dim,
                           ngf=config.ngf, sync_batch_norm=sync,
                           name="stage1_generator" if config.stage == 2 else "generator")


class StackGanRecipe(run_loop.Recipe):
    name = "stackgan"

    @classmethod
    def define_flags(cls):
        flags.DEFINE_integer("stage", 1, "1: train Stage-I; 2: train Stage-II on a frozen Stage-I run.",
                             lower_bound=1, upper_bound=2)

    def presets_from_flags(self, presets):
        return presets if flags.FLAGS.stage == 1 else STACKGAN_STAGE2_PRESETS

    def config_from_flags(self, config):
        if config.stage != flags.FLAGS.stage:
            raise ConfigError(f"--stage={flags.FLAGS.stage} but the config says stage={config.stage}; use --stage only")
        return config

    def default_model_dir(self, config):
        return os.path.join("runs", f"{self.name}_{config.dataset}_stage{config.stage}")

    def check_inputs(self, config, model_dir):
        super().check_inputs(config, model_dir)
        if config.stage == 2 and not os.path.exists(os.path.join(model_dir, STAGE1_GENERATOR_CONFIG)):
            if not (config.stage1_dir and os.path.exists(os.path.join(config.stage1_dir, config_lib.CONFIG_FILENAME))):
                raise CheckpointError(self._missing_stage1(config))

    @staticmethod
    def _missing_stage1(config) -> str:
        return (f"Stage-II needs a trained Stage-I run: pass --override stage1_dir=<Stage-I model_dir> "
                f"(got {config.stage1_dir!r}, which holds no {config_lib.CONFIG_FILENAME})")

    def prepare(self, config, model_dir, vocab):
        context = super().prepare(config, model_dir, vocab)
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
            stage1_trainer, _ = restore_for_inference(StackGanRecipe(), stage1_config, config.stage1_dir)
            trained = stage1_trainer.ema_generator  # synced by the restore
            generator = stage1_generator(config)
            embedding = tf.zeros((1, context["conditioner"].dim))
            generator((tf.zeros((1, config.z_dim)), embedding, tf.zeros((1, config.condition_dim))))
            generator.set_weights(trained.get_weights())
            write_json_atomic(stored, generator.get_config())
        elif os.path.exists(stored):
            with open(stored) as f:
                generator = StageIGenerator.from_config(json.load(f))
        else:
            raise CheckpointError(self._missing_stage1(config))
        generator.trainable = False
        return generator

    def pipeline_options(self, config):
        if config.stage not in (1, 2):
            raise ConfigError(f"stage must be 1 or 2, got {config.stage}")
        return PipelineOptions(image_sizes=config.image_sizes, batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed)

    def build_trainer(self, config, context):
        sync = optimizers.sync_batch_norm(config)
        if config.stage == 1:
            generator, stage1 = stage1_generator(config, sync), None
        else:
            generator = StageIIGenerator(image_size=config.hr_image_size, low_size=config.image_size,
                                         condition_dim=config.condition_dim, ngf=config.ngf,
                                         num_residual=config.num_residual, sync_batch_norm=sync, name="generator")
            stage1 = context["stage1_generator"]
        discriminator = StageDiscriminator(image_size=config.output_size, ndf=config.ndf, variant="stackgan",
                                           text_proj_dim=config.condition_dim, sync_batch_norm=sync,
                                           name="discriminator")
        trainer = StackGanTrainer(generator, discriminator, text_encoder=context["conditioner"].encoder,
                                  stage1_generator=stage1, image_size=config.output_size, kl_weight=config.kl_weight,
                                  z_dim=config.z_dim, ema_decay=config.ema_decay,
                                  weights_init=config.weights_init, seed=config.seed)
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
