"""StackGAN++ / StackGAN-v2 (Zhang et al., TPAMI 2018): config, presets and registration."""

import dataclasses

from t2izoo.configs import TreeGanConfig
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class StackGanV2Config(TreeGanConfig):
    """StackGAN++ hyper-parameters (defaults: hanzhanggit/StackGAN-v2 code/cfg/birds_3stages.yml
    and miscc/config.py).

    Args:
        base_size, num_stages, condition_dim, num_residual: BASE_SIZE 64, BRANCH_NUM 3 (64/128/256),
            EMBEDDING_DIM 128, R_NUM 2 (`TreeGanConfig`).
        z_dim, ngf, ndf: Z_DIM 100, GF_DIM 64, DF_DIM 64 (`GanRunConfig`).
        num_embeddings: caption embeddings averaged per sample (1: the original picks one of the
            10 captions at random each step).
        uncond_weight: COEFF.UNCOND_LOSS 1.0.
        kl_weight: COEFF.KL 2.0 (`ConditioningAugmentationConfig`).
        g_learning_rate, d_learning_rate, g_beta_*, d_beta_*: Adam 2e-4, (0.5, 0.999), G and every D;
            no lr decay (`GanRunConfig`).
        ema_decay: EMA of G (`avg_param_G`, 0.999).
    """

    num_embeddings: int = 1
    uncond_weight: float = 1.0
    batch_size: int = 24


_SHAPES_RUN = dict(dataset="shapes", max_words=24, checkpoint_every=250, sample_every=250, log_every=50)

# Stage-I presets; Stage-II presets are their `stage=2` versions below.
STACKGAN_V2_PRESETS = {
    "cub": StackGanV2Config(dataset="cub"),
    "flowers": StackGanV2Config(dataset="flowers"),
    # No official StackGAN-v2 COCO cfg; the CUB values with COCO's 5 captions and 120 epochs.
    "coco": StackGanV2Config(dataset="coco", num_epochs=120),
    # CPU scale: the same three-branch tree at 16/32/64 px (judged at 64), narrow nets; EMA decay 0.99
    # because a CPU run lasts ~10^3 steps, over which 0.999 would still weigh the initial weights.
    # N(0, 0.02) kernels, not the official orthogonal `weights_init`: the README's `shapes` figures
    # were measured with them.
    "shapes": StackGanV2Config(base_size=16, num_stages=3, ngf=16, ndf=16, condition_dim=64, batch_size=32,
                               ema_decay=0.99, num_epochs=100, weights_init="normal", **_SHAPES_RUN),
}


register(Family(
    name="stackgan_v2", config_class=StackGanV2Config, presets=STACKGAN_V2_PRESETS,
    recipe="t2izoo.models.stackgan_v2.recipe:StackGanV2Recipe", conditioner="char_cnn_rnn",
    converter="t2izoo.models.stackgan_v2.convert:convert_run",
    tiny=dict(base_size=16, num_stages=2, ngf=4, ndf=4, condition_dim=8, num_residual=1, max_steps=4,
              checkpoint_every=2, sample_every=4),
    tiny_runs={"stackgan_v2": dict(g_learning_rate=0.01, d_learning_rate=0.01, max_steps=20, checkpoint_every=10,
                                   sample_every=20)}))
