"""TAGAN (Nam et al., NeurIPS 2018): config, presets and registration."""

import dataclasses

from t2izoo.configs import ConditioningAugmentationConfig, GanRunConfig
from t2izoo.registry import MANIPULATION, Family, register


@dataclasses.dataclass(frozen=True)
class TaganConfig(GanRunConfig, ConditioningAugmentationConfig):
    """TAGAN hyper-parameters (defaults: woozzu/tagan train.py and model.py).

    Args:
        image_size: 128 (64 on `shapes`; a multiple of 32).
        ngf: the generator's first width: ngf, 2ngf, 4ngf, 8ngf (512 with ngf = 64) down to S/8.
        ndf: the discriminator's first width: ndf ... 8ndf; local discriminators on the 4ndf,
            8ndf and 8ndf features at S/8, S/16 and S/32.
        num_residual: residual blocks after the concatenation (4).
        condition_dim: CA size (128).
        kl_weight: weight of the KL term of each of G's two passes (train.py: 0.5 x KLD for the
            edit and 0.5 x KLD for the reconstruction).
        cond_weight: lambda_cond, weight of the conditional (text-adaptive) losses (10).
        recon_weight: lambda_recon, weight of the L1 reconstruction with the matching text (0.2).
        word_vectors: fastText/GloVe `.vec` file for the words (fastText 300-d in the paper), kept
            fixed; empty: word vectors learned (separately in G and D).
        word_dim, text_dim: word-vector size (300) and bi-GRU size (512).
        lr_decay_epochs: both learning rates halve every this many epochs (StepLR 100, 0.5).
        max_words: caption length in words (`max_nwords` 50).
    """

    image_size: int = 128
    ngf: int = 64
    ndf: int = 64
    num_residual: int = 4
    kl_weight: float = 0.5
    cond_weight: float = 10.0
    recon_weight: float = 0.2
    word_vectors: str = ""
    word_dim: int = 300
    text_dim: int = 512
    lr_decay_epochs: int = 100
    max_words: int = 50

    def __post_init__(self):
        super().__post_init__()
        from t2izoo.errors import ConfigError

        if self.image_size % 32 or self.image_size < 32:
            raise ConfigError(f"image_size={self.image_size}: TAGAN needs a multiple of 32 (128 in the paper)")

    @property
    def image_sizes(self) -> tuple:
        return (self.image_size,)


TAGAN_PRESETS = {
    "cub": TaganConfig(dataset="cub"),
    "flowers": TaganConfig(dataset="flowers"),
    # CPU-sized: 64 px (the shapes evaluator's side), 64 channels at 8x8 in G (G's convolutions are
    # most of a step), learned 64-d word vectors, a 128-d bi-GRU, batches of 32.
    "shapes": TaganConfig(dataset="shapes", image_size=64, ngf=8, ndf=16, word_dim=64, text_dim=128,
                          max_words=24, batch_size=32, num_epochs=100, lr_decay_epochs=0, ema_decay=0.99,
                          checkpoint_every=250, sample_every=250, log_every=50),
}


register(Family(
    name="tagan", config_class=TaganConfig, presets=TAGAN_PRESETS,
    recipe="t2izoo.models.tagan.recipe:TaganRecipe", task=MANIPULATION,
    tiny=dict(image_size=32, ngf=2, ndf=2, num_residual=1, condition_dim=4, word_dim=4, text_dim=4,
              max_steps=4, checkpoint_every=2, sample_every=2, g_learning_rate=0.01),
    tiny_runs={"tagan": dict(max_steps=6, checkpoint_every=3, sample_every=3)}))
