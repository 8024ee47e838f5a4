"""Pretraining of the char-CNN-RNN text encoder (Reed et al., CVPR 2016, DS-SJE): config and presets.

The frozen encoder conditions GAN-INT-CLS, StackGAN and StackGAN++ (`CharCnnRnnConditioner`).
"""

import dataclasses

from t2izoo.configs import RunConfig
from t2izoo.registry import Family, register


@dataclasses.dataclass(frozen=True)
class CharCnnRnnConfig(RunConfig):
    """DS-SJE pretraining of the char-CNN-RNN text encoder (reedscot/cvpr2016).

    Args:
        conv_channels, rnn_dim, embedding_dim: encoder widths (icml2016 checkpoints: 384/512/512,
            GRU 512, 1024-d).
        image_encoder: `small_cnn` (trained from scratch with the text side) or `inception`
            (frozen Inception-v3 pool features from a local weights file + a linear map).
        inception_weights: path of the Keras Inception-v3 weights file when `image_encoder` is
            `inception`.
        image_size: image side fed to the image encoder.
        learning_rate, lr_decay: RMSprop-free Adam here; lr x `lr_decay` per epoch (0.98).
        grad_clip: global-norm clip (5 in cvpr2016).
        sje_negatives: "class" (the paper: captions of the image's class are not negatives) or,
            NOT IN THE PAPER and `shapes` only, "scene": every caption of a scene that differs in
            any attribute of any object is one. A `shapes` class is object 0's colour and shape,
            so under "class" nothing asks the embedding to tell scenes apart by their second
            object (a linear probe reads that object's colour 59 % of the time).
        sje_hard_negatives: NOT IN THE PAPER, `shapes` only ("" = the paper). Comma-separated
            kinds of `shapes.HARD_NEGATIVE_KINDS`: each image also scores a caption of its own
            scene changed one way (a random kind per row: one attribute of one object, or
            `color_binding`, the two objects' colours exchanged) one margin below its caption,
            an extra image -> text hinge term. Class negatives almost never differ from the
            true caption in binding alone, so nothing else asks the embedding which colour
            goes with which object.
    """

    conv_channels: tuple = (384, 512, 512)
    rnn_dim: int = 512
    embedding_dim: int = 1024
    image_encoder: str = "small_cnn"
    inception_weights: str = ""
    image_size: int = 64
    learning_rate: float = 0.0007
    lr_decay: float = 0.98
    grad_clip: float = 5.0
    sje_negatives: str = "class"
    sje_hard_negatives: str = ""
    batch_size: int = 40
    num_epochs: int = 200


CHAR_CNN_RNN_PRESETS = {
    "cub": CharCnnRnnConfig(dataset="cub"),
    "flowers": CharCnnRnnConfig(dataset="flowers"),
    "coco": CharCnnRnnConfig(dataset="coco"),
    # Small enough to pretrain in ~30 minutes on 2 CPU cores (7.5k steps at ~4 steps/s with XLA).
    # 48 epochs rather than 20: the longer run lifts test R-precision 87 -> 96 % and the
    # shape-swap accuracy 71 -> 94 % (recipes/gan_int_cls/README.md), and GAN-INT-CLS can only
    # draw what the frozen embedding encodes.
    "shapes": CharCnnRnnConfig(
        dataset="shapes", conv_channels=(128, 192, 256), rnn_dim=256, embedding_dim=256, batch_size=64,
        num_epochs=48, max_words=24, learning_rate=0.001, checkpoint_every=200, sample_every=0, log_every=50),
}


register(Family(
    name="char_cnn_rnn", config_class=CharCnnRnnConfig, presets=CHAR_CNN_RNN_PRESETS,
    recipe="t2izoo.conditioning.char_cnn_rnn.pretrain:CharCnnRnnRecipe", generator=False,
    conditioner_class="t2izoo.conditioning.char_cnn_rnn.conditioner:CharCnnRnnConditioner",
    tiny=dict(conv_channels=(8, 8, 8), rnn_dim=8, embedding_dim=16, max_steps=3, checkpoint_every=0),
    tiny_runs={"char_cnn_rnn": dict(max_steps=4)}))
