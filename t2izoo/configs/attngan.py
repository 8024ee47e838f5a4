"""AttnGAN (Xu et al., CVPR 2018) and its DAMSM text/image encoders: configs and presets.

Defaults follow taoxugit/AttnGAN code/cfg (bird_attn2.yml, coco_attn2.yml, DAMSM/bird.yml);
where the paper text differs (gamma1 = 5, the 1/gamma2 power in R(Q, D)) the code's value is the
default and the paper's an option.
"""

import dataclasses

from t2izoo.configs.base import RunConfig


@dataclasses.dataclass(frozen=True)
class DamsmConfig(RunConfig):
    """DAMSM pretraining (code/pretrain_DAMSM.py, cfg/DAMSM/bird.yml).

    Args:
        image_encoder: `inception` (frozen ImageNet Inception-v3 from a local weights file,
            Mixed_6e regions; the paper) or `small_cnn` (trained from scratch; `shapes`).
        inception_weights: Keras Inception-v3 weights file for `inception`.
        image_size: side of the images fed to the image encoder (299; Inception resizes to
            299 anyway).
        word_embedding_dim, hidden_dim, dropout: bi-LSTM text encoder (300, 128 per
            direction, 0.5); features are 2 * hidden_dim = 256.
        embedding_dim: joint space D (256 = 2 * hidden_dim).
        small_cnn_widths, small_cnn_global_widths: `small_cnn` encoder widths.
        gamma1, gamma2, gamma3: 4.0 / 5.0 / 10.0 (code; the paper text says gamma1 = 5).
        aggregation: `code` (log-sum-exp as in words_loss) or `paper` (Eq. 10's 1/gamma2 power).
        learning_rate, beta_1: Adam 0.002, (0.5, 0.999) (ENCODER_LR).
        lr_decay, lr_floor: lr x 0.98 per epoch while above learning_rate * lr_floor (1/10).
        rnn_grad_clip: global-norm clip of the text encoder's gradients (RNN_GRAD_CLIP 0.25).
    """

    image_encoder: str = "inception"
    inception_weights: str = ""
    image_size: int = 299
    word_embedding_dim: int = 300
    hidden_dim: int = 128
    dropout: float = 0.5
    embedding_dim: int = 256
    small_cnn_widths: tuple = (32, 64, 128)
    small_cnn_global_widths: tuple = (256,)
    gamma1: float = 4.0
    gamma2: float = 5.0
    gamma3: float = 10.0
    aggregation: str = "code"
    learning_rate: float = 0.002
    beta_1: float = 0.5
    lr_decay: float = 0.98
    lr_floor: float = 0.1
    rnn_grad_clip: float = 0.25
    batch_size: int = 48
    num_epochs: int = 600
    checkpoint_every: int = 1000
    sample_every: int = 0


@dataclasses.dataclass(frozen=True)
class AttnGanConfig(RunConfig):
    """AttnGAN generator/discriminators (code/cfg/bird_attn2.yml, coco_attn2.yml, trainer.py).

    Args:
        damsm_dir: model_dir of a DAMSM pretraining run (its frozen encoders condition G and
            give the DAMSM loss); default runs/damsm_<dataset>.
        base_size: side of the first stage's images (64).
        num_stages: generator stages / discriminators (3: 64, 128, 256 px).
        ngf, ndf: GF_DIM, DF_DIM (CUB 32/64, COCO 48/96).
        z_dim: noise size (100).
        condition_dim: conditioning augmentation size (100).
        residual_blocks: R_NUM residual blocks per attention stage (CUB 2, COCO 3).
        damsm_weight: lambda of the DAMSM loss in G (CUB 5, COCO 50).
        kl_weight: weight of the CA KL term (1, as trainer.py).
        gamma1, gamma2, gamma3, aggregation: DAMSM loss settings (as `DamsmConfig`).
        learning_rate, beta_1: Adam 2e-4, 0.5 for G and each D; no decay.
        ema_decay: EMA of G (avg_param_G, 0.999) used for samples, attention maps and export.
        sync_batch_norm: synchronise BN over replicas under a distribution strategy.
        eval_images: images per split for the end-of-training evaluation (`shapes` evaluator and
            R-precision); 0 skips it.
    """

    damsm_dir: str = ""
    base_size: int = 64
    num_stages: int = 3
    ngf: int = 32
    ndf: int = 64
    z_dim: int = 100
    condition_dim: int = 100
    residual_blocks: int = 2
    damsm_weight: float = 5.0
    kl_weight: float = 1.0
    gamma1: float = 4.0
    gamma2: float = 5.0
    gamma3: float = 10.0
    aggregation: str = "code"
    learning_rate: float = 0.0002
    beta_1: float = 0.5
    ema_decay: float = 0.999
    sync_batch_norm: bool = True
    eval_images: int = 1000
    batch_size: int = 20
    num_epochs: int = 600
    checkpoint_every: int = 1000
    sample_every: int = 1000

    @property
    def image_sizes(self) -> tuple:
        return tuple(self.base_size * 2 ** i for i in range(self.num_stages))

    @property
    def image_size(self) -> int:
        return self.image_sizes[-1]


DAMSM_PRESETS = {
    "cub": DamsmConfig(dataset="cub", max_words=18),
    "coco": DamsmConfig(dataset="coco", max_words=12),
    # Small CNN from scratch at 64 px, the paper's batch 48: ~21 min on 2 idle CPU cores. Batch 32 for
    # 4.5 epochs left it nearly blind to shape (attribute-swap accuracy 83 %, see recipes/attngan/README.md).
    "shapes": DamsmConfig(dataset="shapes", image_encoder="small_cnn", image_size=64, max_words=24, batch_size=48,
                          num_epochs=15, checkpoint_every=200, log_every=50),
}

ATTNGAN_PRESETS = {
    "cub": AttnGanConfig(dataset="cub"),
    "coco": AttnGanConfig(dataset="coco", ngf=48, ndf=96, residual_blocks=3, batch_size=14, num_epochs=120,
                          damsm_weight=50.0, max_words=12),
    # The same model at CPU scale: two stages (32 -> 64 px), narrow nets, one residual block. EMA
    # 0.99: runs here last ~1-3k steps, after which a 0.999 average still holds 5-37% of the
    # initial weights.
    "shapes": AttnGanConfig(dataset="shapes", base_size=32, num_stages=2, ngf=16, ndf=16, residual_blocks=1,
                            batch_size=16, max_words=24, num_epochs=100, ema_decay=0.99, checkpoint_every=250,
                            sample_every=250, log_every=50),
}
