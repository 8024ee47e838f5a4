"""SD-GAN (Yin et al., CVPR 2019): config, presets and registration. No official code exists;
where the paper gives no value the AttnGAN setting is used (recipes/sdgan/README.md lists which)."""

import dataclasses

from t2izoo.conditioning.damsm.gan_config import DamsmGanConfig, damsm_gan_presets
from t2izoo.errors import ConfigError
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class SdGanConfig(DamsmGanConfig):
    """SD-GAN: AttnGAN's generator/discriminators + Siamese branches, contrastive loss and SCBN.

    Args:
        text_encoder_dir, base_size, num_stages, ngf, ndf, z_dim, condition_dim, num_residual,
            damsm_weight, kl_weight, gamma1-3, aggregation, optimisers, ema_decay, eval_images:
            AttnGAN's (`DamsmGanConfig`; the paper builds on AttnGAN and gives none of them).
        siamese: train two weight-sharing branches on caption pairs with the contrastive loss
            (False: one branch, no contrastive term; the no-Siamese ablation).
        same_pair_fraction: fraction of the pairs whose captions describe the same image (ours: 0.5).
        contrastive_weight: weight of L_c in G's objective (ours: 1).
        contrastive_margin: epsilon of L_c (1.0, paper summaries).
        contrastive_alpha: alpha of L_c (0.1, paper summaries).
        contrastive_normalize: L2-normalise the discriminator features before the distance (ours:
            True, so that epsilon = 1 is on a fixed scale).
        scbn_sentence, scbn_words: SCBN's sentence MLP and word/visual spatial branches (both off:
            the no-SCBN ablation, no SCBN layer at all).
        scbn_hidden: hidden width of SCBN's sentence MLP (ours: 256).
    """

    siamese: bool = True
    same_pair_fraction: float = 0.5
    contrastive_weight: float = 1.0
    contrastive_margin: float = 1.0
    contrastive_alpha: float = 0.1
    contrastive_normalize: bool = True
    scbn_sentence: bool = True
    scbn_words: bool = True
    scbn_hidden: int = 256

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.same_pair_fraction <= 1.0:
            raise ConfigError(f"same_pair_fraction must be in [0, 1], got {self.same_pair_fraction}")
        if self.contrastive_weight < 0 or self.contrastive_margin <= 0 or self.contrastive_alpha < 0:
            raise ConfigError("contrastive_weight and contrastive_alpha must be >= 0 and contrastive_margin > 0")


# AttnGAN's presets; `shapes` with a narrow SCBN MLP.
SDGAN_PRESETS = damsm_gan_presets(SdGanConfig, scbn_hidden=64)


register(Family(
    name="sdgan", config_class=SdGanConfig, presets=SDGAN_PRESETS,
    recipe="t2izoo.models.sdgan.recipe:SdGanRecipe", conditioner="damsm",
    # ngf 8, not AttnGAN's 4: at 4 channels the SCBNs' many small tensors dominate the TFLite files, and
    # the export test's int8 < 0.4 x fp32 size check measures flatbuffer overhead instead of weights.
    tiny=dict(base_size=16, num_stages=2, ngf=8, ndf=4, condition_dim=8, num_residual=1, scbn_hidden=8,
              eval_images=0, max_steps=4, checkpoint_every=2, sample_every=4),
    tiny_runs={"sdgan": dict(g_learning_rate=0.01, d_learning_rate=0.01, max_steps=6, checkpoint_every=3,
                             sample_every=6)}))
