"""GAN-INT-CLS (Reed et al., ICML 2016): config, presets and registration."""

import dataclasses

from t2izoo.configs import GanRunConfig
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class GanIntClsConfig(GanRunConfig):
    """GAN-INT-CLS hyper-parameters (defaults: icml2016 scripts/train_cub.sh).

    Args:
        image_size: 64 in the paper.
        z_dim, text_proj_dim, ngf, ndf: nz=100, nt=128, ngf=128, ndf=64 (COCO 196/196).
        residual: the residual bottlenecks of icml2016's netG/netD.
        num_embeddings: caption embeddings averaged per sample (numCaption=4; COCO 3).
        cls_weight: weight of the {real image, wrong text} term in D (0.5).
        interp_weight: weight of the GAN-INT term in G (1.0; 0 gives GAN-CLS).
        interp_beta: interpolation coefficient (0.5).
        g_learning_rate, d_learning_rate, g_beta_1, d_beta_1: Adam 2e-4, 0.5 for both (`GanRunConfig`).
        lr_decay_epochs: both rates halved every this many epochs (100; COCO 40).
        ema_decay: EMA of G used for samples and export (not in the paper; 0 disables).
        hard_negative_fraction: NOT IN THE PAPER, `shapes` only (0 = faithful). The fraction of
            D's {real image, wrong text} rows whose text is the row's own scene with one
            attribute (colour, shape, size or position) changed: the mean embedding of
            `num_embeddings` captions of that scene, like the true text. The paper's wrong text
            comes from another image, which on `shapes` also differs in colour and position, so
            D can match text to image without looking at shape.
        hard_negative_kinds: NOT IN THE PAPER: which hard negatives, comma-separated, drawn
            uniformly per row: any of color, shape, size, position (that attribute of one object
            changed) and color_binding (a two-object scene's colours exchanged between its
            objects, the binding that conditioning on one sentence vector most often gets wrong;
            other scenes get a colour change).
        standardize_text: NOT IN THE PAPER (0/false = faithful). G standardises the frozen
            embedding per dimension with training-set statistics before its text projection
            (`EmbeddingStandardization`), so the text code starts at the noise's scale.
        icml2016_activations: G and D activations as icml2016's netG/netD: no ReLU before G's
            residual bottlenecks, no LeakyReLU after D's 4ndf and 8ndf convolutions (True).
        conv_bias: biases on G's to-RGB and D's logit convolutions (False: icml2016 zeroes
            every convolution bias before each step).
        interp_pass: "joint" (icml2016: G's step is one pass of B fake rows and B/2
            interpolated rows through G and D, the BCE summed with weights 1 and
            `interp_weight` and divided by 1.5 B, so fake : interpolated = 2 : 1 at weight 1)
            or "separate" (two passes, each a batch mean, added 1 : `interp_weight`).
        g_fresh_noise: G's step draws new noise (icml2016) instead of reusing D's step's.
        wrong_pair: D's mismatched pair: "wrong_image" (icml2016's code: an image of another
            class with the right text) or "wrong_text" (the real image with another class's
            caption; `hard_negative_fraction` needs it).
        d_text_conditioning: "concat" (the paper) or "projection", NOT IN THE PAPER: D scores the
            text by an inner product with its image features (`MatchingAwareDiscriminator`).
    """

    image_size: int = 64
    text_proj_dim: int = 128
    ngf: int = 128
    residual: bool = True
    num_embeddings: int = 4
    cls_weight: float = 0.5
    interp_weight: float = 1.0
    interp_beta: float = 0.5
    lr_decay_epochs: int = 100
    hard_negative_fraction: float = 0.0
    hard_negative_kinds: str = "color,shape,size,position"
    standardize_text: bool = False
    d_text_conditioning: str = "concat"
    icml2016_activations: bool = True
    conv_bias: bool = False
    interp_pass: str = "joint"
    g_fresh_noise: bool = True
    wrong_pair: str = "wrong_image"

    # What a config.json written before these fields existed was trained with (the README's
    # `shapes` runs): loading such a run keeps its behaviour and its checkpoint's variables.
    STORED_DEFAULTS = {"icml2016_activations": False, "conv_bias": True, "interp_pass": "separate",
                       "g_fresh_noise": False, "wrong_pair": "wrong_text"}

    @property
    def image_sizes(self) -> tuple:
        return (self.image_size,)


GAN_INT_CLS_PRESETS = {
    "cub": GanIntClsConfig(dataset="cub"),
    "flowers": GanIntClsConfig(dataset="flowers"),
    "coco": GanIntClsConfig(dataset="coco", ngf=196, ndf=196, num_embeddings=3, num_epochs=200, lr_decay_epochs=40),
    # Same architecture and losses at CPU scale: narrower nets, same 64 px output.
    # EMA 0.99: a 0.999 average lags ~1000 steps, most of a CPU-length run.
    # G twice as wide as D, the paper's ratio (128 / 64): 60 minutes end at test colour 39 %,
    # position 70 %, against 31 % / 58 % with ngf = ndf = 16 (recipes/gan_int_cls/README.md).
    "shapes": GanIntClsConfig(dataset="shapes", ngf=32, ndf=16, max_words=24, num_epochs=100, lr_decay_epochs=100,
                              ema_decay=0.99, checkpoint_every=250, sample_every=250, log_every=50),
}


register(Family(
    name="gan_int_cls", config_class=GanIntClsConfig, presets=GAN_INT_CLS_PRESETS,
    recipe="t2izoo.models.gan_int_cls.recipe:GanIntClsRecipe", conditioner="char_cnn_rnn",
    tiny=dict(image_size=16, ngf=4, ndf=4, text_proj_dim=8, max_steps=4, checkpoint_every=2, sample_every=2),
    tiny_runs={"gan_int_cls": dict(g_learning_rate=0.01, d_learning_rate=0.01, max_steps=6, checkpoint_every=3,
                                   sample_every=3)}))
