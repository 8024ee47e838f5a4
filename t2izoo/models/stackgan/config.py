"""StackGAN (Zhang et al., ICCV 2017): config, presets (one set per stage) and registration."""

import dataclasses

from t2izoo.configs import ConditioningAugmentationConfig, GanRunConfig
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class StackGanConfig(GanRunConfig, ConditioningAugmentationConfig):
    """StackGAN hyper-parameters (defaults: hanzhanggit/StackGAN stageI/cfg/birds.yml).

    One config per stage: `stage=1` trains Stage-I; `stage=2` trains Stage-II on top of the
    frozen Stage-I run in `stage1_dir` (its architecture fields must match that run's).

    Args:
        stage: 1 or 2.
        stage1_dir: Stage-II: model_dir of the trained Stage-I run.
        image_size: Stage-I output side (64).
        hr_image_size: Stage-II output side (256).
        z_dim, condition_dim: Z_DIM = 100, EMBEDDING_DIM (CA size N_g) = 128 (`GanRunConfig`,
            `ConditioningAugmentationConfig`).
        ngf, ndf: GF_DIM = 128, DF_DIM = 64 (COCO, StackGAN-Pytorch: 192 / 96).
        num_residual: Stage-II residual blocks (4 in the TF code; COCO R_NUM = 2).
        num_embeddings: caption embeddings averaged per sample (NUM_EMBEDDING = 4).
        kl_weight: COEFF.KL = 2.0 in the code (the paper's lambda = 1: `--override kl_weight=1`).
        g_learning_rate, d_learning_rate, g_beta_1, d_beta_1: Adam 2e-4, 0.5 (G and D; `GanRunConfig`).
        lr_decay_epochs: both rates halved every this many epochs (LR_DECAY_EPOCH: 50 Stage-I, 100 Stage-II).
        ema_decay: EMA of G for samples and export (not in StackGAN; 0 disables).
    """

    stage: int = 1
    stage1_dir: str = ""
    image_size: int = 64
    hr_image_size: int = 256
    ngf: int = 128
    num_residual: int = 4
    num_embeddings: int = 4
    lr_decay_epochs: int = 50

    @property
    def output_size(self) -> int:
        return self.image_size if self.stage == 1 else self.hr_image_size

    @property
    def image_sizes(self) -> tuple:
        """The real-image scales this stage trains on (what the run loop loads)."""
        return (self.output_size,)


_SHAPES_RUN = dict(dataset="shapes", max_words=24, checkpoint_every=250, sample_every=250, log_every=50)

# Stage-I presets; Stage-II presets are their `stage=2` versions below.
STACKGAN_PRESETS = {
    "cub": StackGanConfig(dataset="cub"),
    "flowers": StackGanConfig(dataset="flowers"),
    # StackGAN-Pytorch code/cfg/coco_s1.yml: batch 128, 120 epochs, decay every 20, GF 192, DF 96.
    "coco": StackGanConfig(dataset="coco", batch_size=128, num_epochs=120, lr_decay_epochs=20, ngf=192, ndf=96,
                           num_residual=2, num_embeddings=1),
    # CPU scale: 32 px Stage-I, 64 px Stage-II, narrow nets.
    "shapes": StackGanConfig(image_size=32, hr_image_size=64, ngf=32, ndf=32, condition_dim=64, num_epochs=100,
                             lr_decay_epochs=100, ema_decay=0.99, **_SHAPES_RUN),
}

STACKGAN_STAGE2_PRESETS = {
    # stageII/cfg/birds.yml: another 600 epochs (MAX_EPOCH 1200 from a 600-epoch Stage-I), decay every 100.
    "cub": dataclasses.replace(STACKGAN_PRESETS["cub"], stage=2, lr_decay_epochs=100),
    "flowers": dataclasses.replace(STACKGAN_PRESETS["flowers"], stage=2, lr_decay_epochs=100),
    # coco_s2.yml: batch 40, 100 epochs, decay every 20, R_NUM 2.
    "coco": dataclasses.replace(STACKGAN_PRESETS["coco"], stage=2, batch_size=40, num_epochs=100),
    "shapes": dataclasses.replace(STACKGAN_PRESETS["shapes"], stage=2),
}


register(Family(
    name="stackgan", config_class=StackGanConfig, presets=STACKGAN_PRESETS,
    recipe="t2izoo.models.stackgan.recipe:StackGanRecipe", conditioner="char_cnn_rnn",
    tiny=dict(image_size=16, hr_image_size=32, ngf=4, ndf=4, condition_dim=8, num_residual=1, max_steps=4,
              checkpoint_every=2, sample_every=4),
    tiny_runs={"stackgan": dict(g_learning_rate=0.01, d_learning_rate=0.01),
               "stackgan_stage2": dict(stage=2, stage1_dir="<run:stackgan>", g_learning_rate=0.01,
                                       d_learning_rate=0.01, max_steps=20, checkpoint_every=10, sample_every=20)}))
