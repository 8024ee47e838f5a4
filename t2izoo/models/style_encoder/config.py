"""Style encoder (Reed et al., ICML 2016, Sec. 4.4): config, presets and registration."""

import dataclasses

from t2izoo.configs import RunConfig
from t2izoo.registry import MANIPULATION, Family, register


@dataclasses.dataclass(frozen=True)
class StyleEncoderConfig(RunConfig):
    """A style encoder S trained on a finished text-to-image run (`gan_dir`).

    Args:
        gan_dir: model_dir of the trained GAN whose (EMA) generator S inverts; any noise-conditioned
            family of the zoo (GAN-INT-CLS in the paper). Its text encoder, image size and noise
            width are the run's.
        ndf: width of S's first stride-2 convolution (doubled at each of the four).
        learning_rate, beta_1, beta_2: Adam (the GAN's optimiser settings, 2e-4 / 0.5; the paper
            gives none for S).
        num_embeddings: caption embeddings averaged per sample for phi(t) (the GAN's 4).
    """

    gan_dir: str = ""
    ndf: int = 64
    learning_rate: float = 0.0002
    beta_1: float = 0.5
    beta_2: float = 0.999
    num_embeddings: int = 4


STYLE_ENCODER_PRESETS = {
    "cub": StyleEncoderConfig(dataset="cub", num_epochs=100),
    "flowers": StyleEncoderConfig(dataset="flowers", num_epochs=100),
    "coco": StyleEncoderConfig(dataset="coco", num_epochs=20, num_embeddings=3),
    # S sees only the generator's samples, so an epoch is a pass of noise over the captions.
    "shapes": StyleEncoderConfig(dataset="shapes", ndf=32, max_words=24, num_epochs=40, checkpoint_every=250,
                                 sample_every=250, log_every=50),
}


register(Family(
    name="style_encoder", config_class=StyleEncoderConfig, presets=STYLE_ENCODER_PRESETS,
    recipe="t2izoo.models.style_encoder.recipe:StyleEncoderRecipe", task=MANIPULATION,
    tiny=dict(ndf=4, max_steps=4, checkpoint_every=2, sample_every=2, learning_rate=0.01),
    tiny_runs={"style_encoder": dict(gan_dir="<run:gan_int_cls>", max_steps=6, checkpoint_every=3,
                                     sample_every=3)}))
