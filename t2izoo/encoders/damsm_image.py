"""DAMSM image encoders: region features [B, h, w, D] and a global vector [B, D].

`DamsmInceptionEncoder` is AttnGAN's CNN_ENCODER (frozen ImageNet Inception-v3, Mixed_6e
regions and pool features each projected to D); `DamsmSmallCnnEncoder` is a small conv net
trained from scratch with the same outputs, for `shapes` and for tests.
"""

import keras
from keras import layers

from t2izoo.encoders.inception import INCEPTION_SIZE, MIXED_6E, POOL, load_inception_v3
from t2izoo.layers.global_batch_norm import GlobalBatchNormalization


def _uniform_init():
    # CNN_ENCODER.init_trainable_weights: U(-0.1, 0.1) for both projections.
    return keras.initializers.RandomUniform(-0.1, 0.1)


class DamsmInceptionEncoder(keras.Model):
    """Frozen Inception-v3 -> (Mixed_6e 17x17x768 -> 1x1 conv -> D, pool 2048 -> linear -> D).

    Only the two projections are trained (the paper's "image encoder" parameters).

    Args:
        embedding_dim: D (256).
        weights_path: Keras Inception-v3 weights file (or `$T2IZOO_INCEPTION_WEIGHTS`); never
            downloaded.

    Inputs: images [B, S, S, 3] in [-1, 1] (resized bilinearly to 299, Inception's own range).
    Outputs: (regions [B, 17, 17, D], global [B, D]).

    Example:
        >>> enc = DamsmInceptionEncoder(256, "inception_v3_weights.h5")  # doctest: +SKIP
        >>> regions, code = enc(keras.ops.zeros((2, 256, 256, 3)))        # doctest: +SKIP
        >>> regions.shape, code.shape                                     # doctest: +SKIP
        ((2, 17, 17, 256), (2, 256))

    Reference: Xu et al., AttnGAN, CVPR 2018, Sec. 3.3 (image encoder); taoxugit/AttnGAN
    code/model.py CNN_ENCODER.
    """

    def __init__(self, embedding_dim=256, weights_path=None, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.weights_path = weights_path
        base = load_inception_v3(weights_path)
        self.backbone = keras.Model(base.inputs, [base.get_layer(MIXED_6E).output, base.get_layer(POOL).output])
        self.backbone.trainable = False
        self.region_projection = layers.Conv2D(embedding_dim, 1, use_bias=False, kernel_initializer=_uniform_init())
        self.global_projection = layers.Dense(embedding_dim, kernel_initializer=_uniform_init())

    def call(self, images, training=False):
        images = keras.ops.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), interpolation="bilinear")
        regions, pooled = self.backbone(images, training=False)  # frozen: BN in inference mode
        return self.region_projection(regions), self.global_projection(pooled)

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "weights_path": self.weights_path}


class DamsmTorchvisionEncoder(keras.Model):
    """AttnGAN's CNN_ENCODER as its released `image_encoder*.pth` holds it: torchvision's
    Inception-v3 (`TorchInceptionV3("torchvision")`: affine batch norm, padding-counting average
    pools) -> (Mixed_6e -> `emb_features` 1x1 conv -> D, pool -> `emb_cnn_code` linear -> D).

    Its weights come from the checkpoint (`t2izoo.conditioning.damsm.convert.assign_image_encoder`),
    not from a weights file; the backbone is frozen as in the official code.

    Args:
        embedding_dim: D (256).

    Inputs: images [B, S, S, 3] in [-1, 1], resized bilinearly to 299 (half-pixel centres, as
    `nn.Upsample(size=(299, 299), mode="bilinear")` in PyTorch >= 0.4). Outputs: (regions
    [B, 17, 17, D], global [B, D]).

    Example:
        >>> enc = DamsmTorchvisionEncoder(16)
        >>> regions, code = enc(keras.ops.zeros((1, 64, 64, 3)))
        >>> regions.shape, code.shape
        ((1, 17, 17, 16), (1, 16))

    Reference: taoxugit/AttnGAN code/model.py CNN_ENCODER; torchvision models/inception.py.
    """

    def __init__(self, embedding_dim=256, **kwargs):
        super().__init__(**kwargs)
        from t2izoo.encoders.torch_inception import TorchInceptionV3

        self.embedding_dim = embedding_dim
        self.backbone = TorchInceptionV3("torchvision", name="inception")
        self.backbone.trainable = False
        self.region_projection = layers.Conv2D(embedding_dim, 1, use_bias=False, kernel_initializer=_uniform_init())
        self.global_projection = layers.Dense(embedding_dim, kernel_initializer=_uniform_init())

    def call(self, images, training=False):
        images = keras.ops.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), interpolation="bilinear",
                                        antialias=False)
        out = self.backbone(images, training=False)  # frozen: BN in inference mode
        return self.region_projection(out["mixed_6e"]), self.global_projection(out["pool"])

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim}


class DamsmSmallCnnEncoder(keras.Model):
    """Stride-2 conv stack: its last map gives the regions, two more stages the global vector.

    Args:
        embedding_dim: D.
        widths: channels of the stride-2 3x3 convolutions up to the region map (an S px image
            gives S / 2**len(widths) regions per side: 8x8 for 64 px and three stages).
        global_widths: channels of the further stride-2 stages before global average pooling.

    Inputs: images [B, S, S, 3] in [-1, 1]. Outputs: (regions [B, h, w, D], global [B, D]).

    Example:
        >>> enc = DamsmSmallCnnEncoder(16, widths=(8, 8), global_widths=(8,))
        >>> regions, code = enc(keras.ops.zeros((2, 32, 32, 3)))
        >>> regions.shape, code.shape
        ((2, 8, 8, 16), (2, 16))

    Reference: the same two outputs as AttnGAN's CNN_ENCODER (code/model.py), at CPU scale.
    """

    def __init__(self, embedding_dim=256, widths=(32, 64, 128), global_widths=(256,), **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.widths = tuple(widths)
        self.global_widths = tuple(global_widths)
        conv = lambda w: layers.Conv2D(w, 3, strides=2, padding="same", use_bias=False)  # noqa: E731
        self.convs = [conv(w) for w in self.widths]
        # Global-batch statistics under a distribution strategy, as on one device (the variables of
        # `BatchNormalization`, so checkpoints are unchanged).
        self.norms = [GlobalBatchNormalization() for _ in self.widths]
        self.global_convs = [conv(w) for w in self.global_widths]
        self.global_norms = [GlobalBatchNormalization() for _ in self.global_widths]
        self.region_projection = layers.Conv2D(embedding_dim, 1, use_bias=False, kernel_initializer=_uniform_init())
        self.global_projection = layers.Dense(embedding_dim, kernel_initializer=_uniform_init())

    def call(self, images, training=False):
        h = images
        for conv, norm in zip(self.convs, self.norms):
            h = keras.ops.leaky_relu(norm(conv(h), training=training), 0.2)
        regions = self.region_projection(h)
        for conv, norm in zip(self.global_convs, self.global_norms):
            h = keras.ops.leaky_relu(norm(conv(h), training=training), 0.2)
        return regions, self.global_projection(keras.ops.mean(h, axis=(1, 2)))

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "widths": self.widths,
                "global_widths": self.global_widths}
