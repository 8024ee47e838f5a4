"""GAN-INT-CLS (Reed et al., ICML 2016) and its char-CNN-RNN text encoder: configs and presets."""

import dataclasses

from t2izoo.configs.base import RunConfig


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


@dataclasses.dataclass(frozen=True)
class GanIntClsConfig(RunConfig):
    """GAN-INT-CLS hyper-parameters (defaults: icml2016 scripts/train_cub.sh).

    Args:
        encoder_dir: model_dir of a pretrained char-CNN-RNN run (its frozen encoder conditions G/D).
        image_size: 64 in the paper.
        z_dim, text_proj_dim, ngf, ndf: nz=100, nt=128, ngf=128, ndf=64 (COCO 196/196).
        residual: the residual bottlenecks of icml2016's netG/netD.
        num_embeddings: caption embeddings averaged per sample (numCaption=4; COCO 3).
        cls_weight: weight of the {real image, wrong text} term in D (0.5).
        interp_weight: weight of the GAN-INT term in G (1.0; 0 gives GAN-CLS).
        interp_beta: interpolation coefficient (0.5).
        learning_rate, beta_1: Adam 2e-4, 0.5.
        lr_decay_epochs: lr halved every this many epochs (100; COCO 40).
        ema_decay: EMA of G used for samples and export (not in the paper; 0 disables).
        sync_batch_norm: synchronise BN over replicas under a distribution strategy.
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
        d_text_conditioning: "concat" (the paper) or "projection", NOT IN THE PAPER: D scores the
            text by an inner product with its image features (`MatchingAwareDiscriminator`).
    """

    encoder_dir: str = ""
    image_size: int = 64
    z_dim: int = 100
    text_proj_dim: int = 128
    ngf: int = 128
    ndf: int = 64
    residual: bool = True
    num_embeddings: int = 4
    cls_weight: float = 0.5
    interp_weight: float = 1.0
    interp_beta: float = 0.5
    learning_rate: float = 0.0002
    beta_1: float = 0.5
    lr_decay_epochs: int = 100
    ema_decay: float = 0.999
    sync_batch_norm: bool = True
    hard_negative_fraction: float = 0.0
    hard_negative_kinds: str = "color,shape,size,position"
    standardize_text: bool = False
    d_text_conditioning: str = "concat"


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
