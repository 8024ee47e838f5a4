"""StackGAN++ / StackGAN-v2 (Zhang et al., TPAMI 2018) on a frozen, pretrained char-CNN-RNN embedding.

    python -m t2izoo.recipes.stackgan_v2 --dataset=shapes

On `shapes`, a missing text encoder is pretrained first (`--auto_pretrain`).
"""

from __future__ import annotations

from t2izoo.data.pipeline import PipelineOptions
from t2izoo.layers.multi_scale_discriminator import MultiScaleDiscriminator
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.models.stackgan_v2.generator import MultiStageGenerator
from t2izoo.models.stackgan_v2.trainer import StackGanV2Trainer
from t2izoo.trainers import optimizers, run_loop


def build_models(config, sync=False):
    generator = MultiStageGenerator(base_size=config.base_size, num_stages=config.num_stages, z_dim=config.z_dim,
                                    condition_dim=config.condition_dim, ngf=config.ngf,
                                    num_residual=config.num_residual, sync_batch_norm=sync, name="generator")
    discriminator = MultiScaleDiscriminator(
        [StageDiscriminator(image_size=s, ndf=config.ndf, variant="stackgan_v2", sync_batch_norm=sync,
                            name=f"discriminator_{s}") for s in config.image_sizes], name="discriminator")
    return generator, discriminator


class StackGanV2Recipe(run_loop.Recipe):
    name = "stackgan_v2"

    def pipeline_options(self, config):
        return PipelineOptions(image_sizes=config.image_sizes, batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed)

    def build_trainer(self, config, context):
        generator, discriminator = build_models(config, optimizers.sync_batch_norm(config))
        trainer = StackGanV2Trainer(generator, discriminator, text_encoder=context["conditioner"].encoder,
                                    image_sizes=config.image_sizes, uncond_weight=config.uncond_weight,
                                    kl_weight=config.kl_weight, z_dim=config.z_dim, ema_decay=config.ema_decay,
                                    weights_init=config.weights_init, seed=config.seed)
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
