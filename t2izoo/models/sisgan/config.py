"""SISGAN (Dong et al., ICCV 2017): config, presets and registration."""

import dataclasses

from t2izoo.configs import ConditioningAugmentationConfig, GanRunConfig
from t2izoo.registry import MANIPULATION, Family, register

IMAGE_ENCODERS = ("vgg", "cnn")


@dataclasses.dataclass(frozen=True)
class SisganConfig(GanRunConfig, ConditioningAugmentationConfig):
    """SISGAN hyper-parameters (defaults: woozzu/dong_iccv_2017 scripts and train.py).

    Args:
        image_size: 64.
        image_encoder: "vgg" (frozen ImageNet VGG16 conv layers from the local Keras weights file
            `vgg_weights`, never downloaded) or "cnn" (a small encoder trained from scratch,
            `shapes`).
        vgg_weights: VGG16 `include_top=False` weights (.h5) for the generator's encoder; the VSE's
            image side on real data needs the `include_top=True` file, `vgg_top_weights`.
        ngf: the generator's width: 8ngf channels at 16x16 (512 with ngf = 64).
        ndf: the discriminator's first width (64).
        num_residual: residual blocks after the concatenation (4).
        condition_dim, kl_weight: CA size 128, KL weight 1 (train.py's `kld` coefficient).
        text_proj_dim: D's text compression (128).
        cls_weight: weight of {real image, mismatched text} in D; the fake term gets 1 - cls_weight (0.5).
        word_vectors: fastText/GloVe `.vec` file for the text encoder's words (wiki.en 300-d in the
            paper); empty: learned from scratch.
        word_dim, text_dim: word-vector and GRU sizes (300, 300).
        vse_epochs: epochs of the visual-semantic embedding's pretraining, run at the start of the
            run and then frozen (train_text_embedding.py: 300).
        vse_margin, vse_learning_rate: its ranking-loss margin (0.2) and Adam rate (2e-4).
        vse_batch_size: its batch (64).
        hard_negative_fraction: NOT IN THE PAPER, `shapes` only (0 = faithful). The fraction of
            the rows whose mismatched caption (D's {real image, mismatched text} pair, and the
            "relevant" text G edits towards in the first half of the batch) is a caption of the
            row's own scene changed in one attribute. On CUB a caption of another bird is such a
            text (same kind of scene, other attributes); on `shapes` another scene's caption also
            moves, adds and removes objects, which SISGAN cannot do while it keeps the layout.
        hard_negative_kinds: which changes, comma-separated (`shapes.HARD_NEGATIVE_KINDS`; the
            manipulation metrics edit colour, shape and size).
    """

    image_size: int = 64
    image_encoder: str = "vgg"
    vgg_weights: str = ""
    vgg_top_weights: str = ""
    ngf: int = 64
    ndf: int = 64
    num_residual: int = 4
    kl_weight: float = 1.0
    text_proj_dim: int = 128
    cls_weight: float = 0.5
    word_vectors: str = ""
    word_dim: int = 300
    text_dim: int = 300
    vse_epochs: float = 300.0
    vse_margin: float = 0.2
    vse_learning_rate: float = 0.0002
    vse_batch_size: int = 64
    lr_decay_epochs: int = 100
    max_words: int = 50
    hard_negative_fraction: float = 0.0
    hard_negative_kinds: str = "color,shape,size"

    def __post_init__(self):
        super().__post_init__()
        from t2izoo.data.shapes import parse_hard_negative_kinds
        from t2izoo.errors import ConfigError

        if self.image_encoder not in IMAGE_ENCODERS:
            raise ConfigError(f"image_encoder={self.image_encoder!r}: expected one of {', '.join(IMAGE_ENCODERS)}")
        if not 0.0 <= self.hard_negative_fraction <= 1.0:
            raise ConfigError(f"hard_negative_fraction={self.hard_negative_fraction}: expected a value in [0, 1]")
        if self.hard_negative_fraction > 0 and self.dataset != "shapes":
            raise ConfigError(f"hard_negative_fraction needs the attributes of `shapes` scenes; "
                              f"--dataset={self.dataset} has none (use 0)")
        parse_hard_negative_kinds(self.hard_negative_kinds, "hard_negative_kinds")

    @property
    def image_sizes(self) -> tuple:
        return (self.image_size,)


SISGAN_PRESETS = {
    "cub": SisganConfig(dataset="cub"),
    "flowers": SisganConfig(dataset="flowers"),
    # CPU-sized: a small from-scratch image encoder and narrower nets (64 channels at 16x16),
    # learned 64-d word vectors, a 128-d GRU and a short VSE pretraining.
    "shapes": SisganConfig(dataset="shapes", image_encoder="cnn", ngf=8, ndf=16, word_dim=64, text_dim=128,
                           max_words=24, vse_epochs=4.0, vse_learning_rate=0.001, num_epochs=100, ema_decay=0.99,
                           checkpoint_every=250, sample_every=250, log_every=50),
}


register(Family(
    name="sisgan", config_class=SisganConfig, presets=SISGAN_PRESETS,
    recipe="t2izoo.models.sisgan.recipe:SisganRecipe", task=MANIPULATION,
    tiny=dict(image_size=16, ngf=2, ndf=4, num_residual=1, condition_dim=8, text_proj_dim=8, word_dim=8,
              text_dim=8, vse_epochs=0.5, max_steps=4, checkpoint_every=2, sample_every=2, g_learning_rate=0.01),
    tiny_runs={"sisgan": dict(max_steps=6, checkpoint_every=3, sample_every=3)}))
