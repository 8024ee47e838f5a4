"""The config fields and presets of the GANs built on frozen DAMSM encoders and AttnGAN's tree
generator (AttnGAN, SD-GAN). Defaults follow taoxugit/AttnGAN code/cfg (bird_attn2.yml,
coco_attn2.yml)."""

import dataclasses

from t2izoo.conditioning.damsm.config import DamsmLossConfig
from t2izoo.configs import TreeGanConfig


@dataclasses.dataclass(frozen=True)
class DamsmGanConfig(TreeGanConfig, DamsmLossConfig):
    """AttnGAN's generator/discriminators and objective (code/cfg/bird_attn2.yml, coco_attn2.yml,
    trainer.py).

    Args:
        text_encoder_dir: model_dir of a DAMSM pretraining run (its frozen encoders condition G and
            give the DAMSM loss; `GanRunConfig`); default runs/damsm_<dataset>.
        base_size, num_stages: 64 px, 3 stages / discriminators (64, 128, 256 px; `TreeGanConfig`).
        ngf, ndf: GF_DIM, DF_DIM (CUB 32/64, COCO 48/96); z_dim: noise size (100).
        condition_dim: conditioning augmentation size (100).
        num_residual: R_NUM residual blocks per attention stage (CUB 2, COCO 3).
        damsm_weight: lambda of the DAMSM loss in G (CUB 5, COCO 50).
        kl_weight: weight of the CA KL term (1, as trainer.py).
        gamma1, gamma2, gamma3, aggregation: the DAMSM loss (`DamsmLossConfig`).
        g_learning_rate, d_learning_rate, g_beta_1, d_beta_1: Adam 2e-4, 0.5 for G and each D;
            no decay (`GanRunConfig`).
        ema_decay: EMA of G (avg_param_G, 0.999) used for samples, attention maps and export.
        eval_images: images per split for the evaluation after training (`GanRunConfig`; 1000).
        jit_compile: off, as every GAN recipe's (`GanRunConfig`: the plain graph ran AttnGAN's
            `shapes` step in 0.168 vs 0.212 s, 0.98 vs 1.57 GB, SD-GAN's in 0.376 vs 0.391 s, and
            AttnGAN `cub` in 21.1 vs 41.1 s; BUILD.md).
    """

    ngf: int = 32
    condition_dim: int = 100
    damsm_weight: float = 5.0
    kl_weight: float = 1.0
    eval_images: int = 1000
    batch_size: int = 20
    num_epochs: int = 600
    checkpoint_every: int = 1000
    sample_every: int = 1000


def damsm_gan_presets(config_class, **shapes_fields) -> dict:
    """{"cub", "coco", "shapes"} presets of `config_class` (a `DamsmGanConfig`): AttnGAN's CUB and
    COCO settings, and its CPU-scale `shapes` preset plus `shapes_fields`."""
    return {
        "cub": config_class(dataset="cub"),
        "coco": config_class(dataset="coco", ngf=48, ndf=96, num_residual=3, batch_size=14, num_epochs=120,
                             damsm_weight=50.0, max_words=12),
        # The same model at CPU scale: two stages (32 -> 64 px), narrow nets, one residual block. EMA
        # 0.99: runs here last ~1-3k steps, after which a 0.999 average still holds 5-37% of the
        # initial weights. N(0, 0.02) kernels, not the official orthogonal `weights_init`: every
        # `shapes` figure in recipes/attngan/README.md was measured with them.
        "shapes": config_class(dataset="shapes", base_size=32, num_stages=2, ngf=16, ndf=16, num_residual=1,
                               batch_size=16, max_words=24, num_epochs=100, ema_decay=0.99, checkpoint_every=250,
                               sample_every=250, log_every=50, weights_init="normal", **shapes_fields),
    }
