"""AttnGAN (Xu et al., CVPR 2018) on frozen, pretrained DAMSM encoders.

    python -m t2izoo.recipes.damsm --dataset=shapes        # pretrain the DAMSM encoders
    python -m t2izoo.recipes.attngan --dataset=shapes      # train the GAN
    python -m t2izoo.recipes.attngan --dataset=coco --data_dir=/data/coco \
        --override text_encoder_dir=runs/damsm_coco

On `shapes`, a missing DAMSM run is pretrained first (`--auto_pretrain`). The run directory
gets sample grids (samples/), the evaluation after training (eval.jsonl, `eval_images`) and,
at the end, attention figures (attention/: the top attended words of each attention stage over
the generated image). `python -m t2izoo.evaluate --model_dir=...` scores a finished run;
`python -m t2izoo.generate` samples from it. The recipe pieces shared with SD-GAN are in
t2izoo/trainers/damsm_gan_recipe.py.
"""

from __future__ import annotations

from t2izoo.models.attngan.generator import AttnGanGenerator
from t2izoo.models.attngan.trainer import AttnGanTrainer
from t2izoo.trainers import optimizers
from t2izoo.trainers.damsm_gan_recipe import DamsmGanRecipe


class AttnGanRecipe(DamsmGanRecipe):
    name = "attngan"

    def build_trainer(self, config, context):
        sync = optimizers.sync_batch_norm(config)
        conditioner = context["conditioner"]
        generator = AttnGanGenerator(base_size=config.base_size, num_stages=config.num_stages, z_dim=config.z_dim,
                                     condition_dim=config.condition_dim, ngf=config.ngf,
                                     num_residual=config.num_residual, sync_batch_norm=sync, name="generator")
        trainer = AttnGanTrainer(generator, self.build_discriminator(config, sync), conditioner.encoder,
                                 conditioner.image_encoder, **self.trainer_arguments(config))
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
