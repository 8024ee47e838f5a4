"""Pretraining of AttnGAN's DAMSM text and image encoders (Xu et al., CVPR 2018, Sec. 3.3):
config and presets. Defaults follow taoxugit/AttnGAN code/cfg/DAMSM/bird.yml; where the paper text
differs (gamma1 = 5, the 1/gamma2 power in R(Q, D)) the code's value is the default and the
paper's an option. The frozen encoders condition AttnGAN (`DamsmConditioner`).
"""

import dataclasses

from t2izoo.configs import RunConfig
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class DamsmLossConfig:
    """The DAMSM loss settings, shared by its pretraining and every GAN trained with it.

    Args:
        gamma1, gamma2, gamma3: 4.0 / 5.0 / 10.0 (code; the paper text says gamma1 = 5).
        aggregation: `code` (log-sum-exp as in words_loss) or `paper` (Eq. 10's 1/gamma2 power).
    """

    gamma1: float = 4.0
    gamma2: float = 5.0
    gamma3: float = 10.0
    aggregation: str = "code"


@dataclasses.dataclass(frozen=True)
class DamsmConfig(RunConfig, DamsmLossConfig):
    """DAMSM pretraining (code/pretrain_DAMSM.py, cfg/DAMSM/bird.yml).

    Args:
        image_encoder: `inception` (frozen ImageNet Inception-v3 from a local weights file,
            Mixed_6e regions; the paper), `small_cnn` (trained from scratch; `shapes`),
            `inception_torchvision` (the official CNN_ENCODER converted from `image_encoder*.pth`:
            torchvision's Inception-v3 layout, weights in the run's checkpoint) or `none`
            (only in runs converted from official checkpoints without their image encoder: such a
            run generates, evaluates and exports, and refuses to train).
        inception_weights: Keras Inception-v3 weights file for `inception`.
        image_size: side of the images fed to the image encoder (299; Inception resizes to
            299 anyway).
        word_embedding_dim, hidden_dim, dropout: bi-LSTM text encoder (300, 128 per
            direction, 0.5); features are 2 * hidden_dim = 256.
        embedding_dim: joint space D (256 = 2 * hidden_dim).
        small_cnn_widths, small_cnn_global_widths: `small_cnn` encoder widths.
        gamma1, gamma2, gamma3, aggregation: the DAMSM loss (`DamsmLossConfig`).
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
    learning_rate: float = 0.002
    beta_1: float = 0.5
    lr_decay: float = 0.98
    lr_floor: float = 0.1
    rnn_grad_clip: float = 0.25
    batch_size: int = 48
    num_epochs: int = 600
    checkpoint_every: int = 1000
    sample_every: int = 0


DAMSM_PRESETS = {
    "cub": DamsmConfig(dataset="cub", max_words=18),
    "coco": DamsmConfig(dataset="coco", max_words=12),
    # Small CNN from scratch at 64 px, the paper's batch 48: ~21 min on 2 idle CPU cores. Batch 32 for
    # 4.5 epochs left it nearly blind to shape (attribute-swap accuracy 83 %, see recipes/attngan/README.md).
    "shapes": DamsmConfig(dataset="shapes", image_encoder="small_cnn", image_size=64, max_words=24, batch_size=48,
                          num_epochs=15, checkpoint_every=200, log_every=50),
}


register(Family(
    name="damsm", config_class=DamsmConfig, presets=DAMSM_PRESETS,
    recipe="t2izoo.conditioning.damsm.pretrain:DamsmRecipe", generator=False,
    converter="t2izoo.conditioning.damsm.convert:convert_run",
    conditioner_class="t2izoo.conditioning.damsm.conditioner:DamsmConditioner",
    tiny=dict(image_size=32, word_embedding_dim=8, hidden_dim=4, embedding_dim=8, small_cnn_widths=(8, 8, 8),
              small_cnn_global_widths=(8,), max_steps=3, checkpoint_every=0)))
