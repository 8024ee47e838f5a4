"""StackGAN++ / StackGAN-v2 (Zhang et al., TPAMI 2018) on a frozen, pretrained char-CNN-RNN embedding.

    python -m t2izoo.recipes.stackgan_v2 --dataset=shapes

On `shapes`, a missing text encoder is pretrained first (`--auto_pretrain`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from absl import app

from t2izoo.configs.stackgan import STACKGAN_V2_PRESETS
from t2izoo.discriminators.stage import MultiScaleDiscriminator, StageDiscriminator
from t2izoo.generators.multi_stage import MultiStageGenerator
from t2izoo.recipes import common, frozen_text
from t2izoo.recipes.gan_int_cls import ensure_text_encoder
from t2izoo.trainers import run_loop
from t2izoo.trainers.stackgan_v2 import StackGanV2Trainer

NAME = "stackgan_v2"


def build_models(config, sync=False):
    generator = MultiStageGenerator(config.base_size, config.num_stages, config.z_dim, config.condition_dim,
                                    config.ngf, config.num_residual, sync, name="generator")
    discriminator = MultiScaleDiscriminator(
        [StageDiscriminator(s, config.ndf, "stackgan_v2", sync_batch_norm=sync, name=f"discriminator_{s}")
         for s in config.image_sizes], name="discriminator")
    return generator, discriminator


class StackGanV2Recipe(frozen_text.FrozenCharCnnRnnMixin, run_loop.Recipe):
    name = NAME

    def pipeline_options(self, config):
        from t2izoo.data.pipeline import PipelineOptions

        return PipelineOptions(image_sizes=config.image_sizes, batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed)

    def build_trainer(self, config, context):
        sync = config.sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1
        generator, discriminator = build_models(config, sync)
        trainer = StackGanV2Trainer(generator, discriminator, text_encoder=context["text_encoder"],
                                    image_sizes=config.image_sizes, uncond_weight=config.uncond_weight,
                                    kl_coeff=config.kl_coeff, z_dim=config.z_dim, ema_decay=config.ema_decay,
                                    seed=config.seed)
        adam = lambda: keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1,  # noqa: E731
                                             beta_2=config.beta_2)
        trainer.compile(g_optimizer=adam(), d_optimizer=adam(), jit_compile=common.jit_compile(config))
        return trainer

    def example_batch(self, config, context):
        return frozen_text.example_batch(config, context, config.image_sizes)


def train(config, model_dir, strategy="default", auto_pretrain=True):
    if auto_pretrain:
        ensure_text_encoder(config)
    return run_loop.train(StackGanV2Recipe(), config, model_dir, strategy)


main = common.recipe_main(STACKGAN_V2_PRESETS, NAME, train, ("auto_pretrain",))


if __name__ == "__main__":
    common.define_flags(STACKGAN_V2_PRESETS)
    common.define_auto_pretrain_flag("text encoder")
    app.run(main)
