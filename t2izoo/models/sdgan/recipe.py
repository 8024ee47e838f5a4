"""SD-GAN (Yin et al., CVPR 2019) on frozen, pretrained DAMSM encoders.

    python -m t2izoo.recipes.damsm --dataset=shapes        # pretrain the DAMSM encoders
    python -m t2izoo.recipes.sdgan --dataset=shapes        # train SD-GAN
    python -m t2izoo.recipes.sdgan --dataset=shapes --override siamese=false     # no-Siamese ablation
    python -m t2izoo.recipes.sdgan --dataset=shapes --override scbn_sentence=false \
        --override scbn_words=false                                               # no-SCBN ablation

As the attngan recipe (t2izoo/trainers/damsm_gan_recipe.py): the DAMSM run from
`text_encoder_dir` (default runs/damsm_<dataset>; on `shapes` pretrained first if missing),
sample grids, the evaluation after training, attention figures; the pipeline adds the Siamese
caption pairs (`pair_*`).
"""

from __future__ import annotations

import dataclasses

from t2izoo.models.sdgan.generator import SdGanGenerator
from t2izoo.models.sdgan.trainer import SdGanTrainer
from t2izoo.trainers import optimizers
from t2izoo.trainers.damsm_gan_recipe import DamsmGanRecipe


class SdGanRecipe(DamsmGanRecipe):
    name = "sdgan"

    def pipeline_options(self, config):
        return dataclasses.replace(super().pipeline_options(config), siamese_pairs=config.siamese,
                                   same_pair_fraction=config.same_pair_fraction)

    def build_trainer(self, config, context):
        sync = optimizers.sync_batch_norm(config)
        conditioner = context["conditioner"]
        generator = SdGanGenerator(base_size=config.base_size, num_stages=config.num_stages, z_dim=config.z_dim,
                                   condition_dim=config.condition_dim, ngf=config.ngf,
                                   num_residual=config.num_residual, sync_batch_norm=sync,
                                   scbn_sentence=config.scbn_sentence, scbn_words=config.scbn_words,
                                   scbn_hidden=config.scbn_hidden, name="generator")
        trainer = SdGanTrainer(generator, self.build_discriminator(config, sync), conditioner.encoder,
                               conditioner.image_encoder, siamese=config.siamese,
                               contrastive_weight=config.contrastive_weight,
                               contrastive_margin=config.contrastive_margin,
                               contrastive_alpha=config.contrastive_alpha,
                               contrastive_normalize=config.contrastive_normalize, **self.trainer_arguments(config))
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
