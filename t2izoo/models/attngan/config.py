"""AttnGAN (Xu et al., CVPR 2018): config, presets and registration. Defaults follow
taoxugit/AttnGAN code/cfg (bird_attn2.yml, coco_attn2.yml)."""

import dataclasses

from t2izoo.conditioning.damsm.gan_config import DamsmGanConfig, damsm_gan_presets
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class AttnGanConfig(DamsmGanConfig):
    """AttnGAN generator/discriminators (code/cfg/bird_attn2.yml, coco_attn2.yml, trainer.py): the
    fields of `DamsmGanConfig` (t2izoo/conditioning/damsm/gan_config.py, shared with SD-GAN)."""


ATTNGAN_PRESETS = damsm_gan_presets(AttnGanConfig)


register(Family(
    name="attngan", config_class=AttnGanConfig, presets=ATTNGAN_PRESETS,
    recipe="t2izoo.models.attngan.recipe:AttnGanRecipe", conditioner="damsm",
    converter="t2izoo.models.attngan.convert:convert_run",
    tiny=dict(base_size=16, num_stages=2, ngf=4, ndf=4, condition_dim=8, num_residual=1, eval_images=0,
              max_steps=4, checkpoint_every=2, sample_every=4),
    tiny_runs={"attngan": dict(g_learning_rate=0.01, d_learning_rate=0.01, max_steps=20, checkpoint_every=10,
                               sample_every=20)}))
