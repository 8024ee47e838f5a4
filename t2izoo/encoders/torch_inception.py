"""Inception-v3 in torchvision's module layout (`Inception3`), and pytorch-fid's FID variant.

What PyTorch checkpoints hold: the DAMSM image encoder (`image_encoder*.pth` of AttnGAN, used by
DM-GAN, DF-GAN and later papers for R-precision) keeps torchvision's Inception-v3 modules under
their names (`Conv2d_1a_3x3`, ..., `Mixed_7c`), and pytorch-fid's `pt_inception-2015-12-05`
weights are the same layout with the `FIDInception*` blocks (ported from the TF1 graph that
TTUR's FID uses). This model has those modules under those names, so a state dict converts
name by name (`assign_inception`), and computes what they compute:

* every convolution is torchvision's `BasicConv2d`: a bias-free conv, BatchNorm(eps=1e-3) with
  its affine weight (Keras' own InceptionV3 has none), ReLU;
* the 3x3 average pools of the A, C and E blocks count the zero padding in torchvision
  (`F.avg_pool2d(..., padding=1)`, count_include_pad=True); pytorch-fid's `FIDInceptionA/C/E_1`
  do not (`count_include_pad=False`, as Keras' "same" pooling), and `FIDInceptionE_2` max-pools.

Inputs: images [B, 299, 299, 3] as the checkpoint expects them (DAMSM: [-1, 1]; pytorch-fid:
2 x - 1 of [0, 1]); outputs ({"mixed_6e": [B, 17, 17, 768], "pool": [B, 2048]}).

Reference: Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016; torchvision
`models/inception.py`; pytorch-fid `inception.py` (mseitzer/pytorch-fid).
"""

from __future__ import annotations

import keras
from keras import layers

VARIANTS = ("torchvision", "fid")
# How each block's 3x3 stride-1 branch pool treats the padding.
POOL_INCLUDE_PAD, POOL_EXCLUDE_PAD, POOL_MAX = "avg_include_pad", "avg_exclude_pad", "max"


class BasicConv(layers.Layer):
    """torchvision `BasicConv2d`: bias-free conv -> BatchNorm(eps 1e-3) -> ReLU.

    Args:
        filters, kernel_size, strides: as the official module; padding "valid" or "same" (the
            official paddings are all either none or half the kernel at stride 1).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides, self.padding = filters, kernel_size, strides, padding
        self.conv = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False)
        self.bn = layers.BatchNormalization(epsilon=1e-3, momentum=0.9)

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.bn.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, x, training=False):
        return keras.ops.relu(self.bn(self.conv(x), training=training))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}


def branch_pool_3x3(x, mode: str):
    """The 3x3 stride-1 pool before a block's `branch_pool` conv."""
    if mode == POOL_MAX:
        return keras.ops.max_pool(x, 3, 1, padding="same")
    if mode == POOL_EXCLUDE_PAD:  # Keras/TF "same" averages over the window's real pixels only
        return keras.ops.average_pool(x, 3, 1, padding="same")
    padded = keras.ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # zeros counted, as torchvision
    return keras.ops.average_pool(padded, 3, 1, padding="valid")


class _Block(layers.Layer):
    """A Mixed block: named `BasicConv`s (torchvision's attribute names) and the way they join."""

    def __init__(self, convs: dict, pool_mode: str = POOL_INCLUDE_PAD, **kwargs):
        super().__init__(**kwargs)
        self.pool_mode = pool_mode
        self.conv_names = list(convs)
        for name, conv in convs.items():
            setattr(self, name, conv)

    def c(self, name, x, training):
        return getattr(self, name)(x, training=training)

    def named_convs(self):
        return [(name, getattr(self, name)) for name in self.conv_names]


class InceptionA(_Block):
    def __init__(self, pool_features, pool_mode=POOL_INCLUDE_PAD, **kwargs):
        super().__init__({"branch1x1": BasicConv(64, 1), "branch5x5_1": BasicConv(48, 1),
                          "branch5x5_2": BasicConv(64, 5, padding="same"), "branch3x3dbl_1": BasicConv(64, 1),
                          "branch3x3dbl_2": BasicConv(96, 3, padding="same"),
                          "branch3x3dbl_3": BasicConv(96, 3, padding="same"),
                          "branch_pool": BasicConv(pool_features, 1)}, pool_mode, **kwargs)

    def call(self, x, training=False):
        c = lambda name, h: self.c(name, h, training)  # noqa: E731
        return keras.ops.concatenate([
            c("branch1x1", x), c("branch5x5_2", c("branch5x5_1", x)),
            c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x))),
            c("branch_pool", branch_pool_3x3(x, self.pool_mode))], axis=-1)


class InceptionB(_Block):
    def __init__(self, **kwargs):
        super().__init__({"branch3x3": BasicConv(384, 3, strides=2), "branch3x3dbl_1": BasicConv(64, 1),
                          "branch3x3dbl_2": BasicConv(96, 3, padding="same"),
                          "branch3x3dbl_3": BasicConv(96, 3, strides=2)}, **kwargs)

    def call(self, x, training=False):
        c = lambda name, h: self.c(name, h, training)  # noqa: E731
        return keras.ops.concatenate([
            c("branch3x3", x), c("branch3x3dbl_3", c("branch3x3dbl_2", c("branch3x3dbl_1", x))),
            keras.ops.max_pool(x, 3, 2, padding="valid")], axis=-1)


class InceptionC(_Block):
    def __init__(self, channels_7x7, pool_mode=POOL_INCLUDE_PAD, **kwargs):
        c7 = channels_7x7
        super().__init__({"branch1x1": BasicConv(192, 1), "branch7x7_1": BasicConv(c7, 1),
                          "branch7x7_2": BasicConv(c7, (1, 7), padding="same"),
                          "branch7x7_3": BasicConv(192, (7, 1), padding="same"),
                          "branch7x7dbl_1": BasicConv(c7, 1),
                          "branch7x7dbl_2": BasicConv(c7, (7, 1), padding="same"),
                          "branch7x7dbl_3": BasicConv(c7, (1, 7), padding="same"),
                          "branch7x7dbl_4": BasicConv(c7, (7, 1), padding="same"),
                          "branch7x7dbl_5": BasicConv(192, (1, 7), padding="same"),
                          "branch_pool": BasicConv(192, 1)}, pool_mode, **kwargs)

    def call(self, x, training=False):
        c = lambda name, h: self.c(name, h, training)  # noqa: E731
        b7 = c("branch7x7_3", c("branch7x7_2", c("branch7x7_1", x)))
        d7 = x
        for i in range(1, 6):
            d7 = c(f"branch7x7dbl_{i}", d7)
        return keras.ops.concatenate([c("branch1x1", x), b7, d7, c("branch_pool", branch_pool_3x3(x, self.pool_mode))],
                                     axis=-1)


class InceptionD(_Block):
    def __init__(self, **kwargs):
        super().__init__({"branch3x3_1": BasicConv(192, 1), "branch3x3_2": BasicConv(320, 3, strides=2),
                          "branch7x7x3_1": BasicConv(192, 1),
                          "branch7x7x3_2": BasicConv(192, (1, 7), padding="same"),
                          "branch7x7x3_3": BasicConv(192, (7, 1), padding="same"),
                          "branch7x7x3_4": BasicConv(192, 3, strides=2)}, **kwargs)

    def call(self, x, training=False):
        c = lambda name, h: self.c(name, h, training)  # noqa: E731
        b7 = x
        for i in range(1, 5):
            b7 = c(f"branch7x7x3_{i}", b7)
        return keras.ops.concatenate([c("branch3x3_2", c("branch3x3_1", x)), b7,
                                      keras.ops.max_pool(x, 3, 2, padding="valid")], axis=-1)


class InceptionE(_Block):
    def __init__(self, pool_mode=POOL_INCLUDE_PAD, **kwargs):
        super().__init__({"branch1x1": BasicConv(320, 1), "branch3x3_1": BasicConv(384, 1),
                          "branch3x3_2a": BasicConv(384, (1, 3), padding="same"),
                          "branch3x3_2b": BasicConv(384, (3, 1), padding="same"),
                          "branch3x3dbl_1": BasicConv(448, 1), "branch3x3dbl_2": BasicConv(384, 3, padding="same"),
                          "branch3x3dbl_3a": BasicConv(384, (1, 3), padding="same"),
                          "branch3x3dbl_3b": BasicConv(384, (3, 1), padding="same"),
                          "branch_pool": BasicConv(192, 1)}, pool_mode, **kwargs)

    def call(self, x, training=False):
        c = lambda name, h: self.c(name, h, training)  # noqa: E731
        b3 = c("branch3x3_1", x)
        d3 = c("branch3x3dbl_2", c("branch3x3dbl_1", x))
        return keras.ops.concatenate([
            c("branch1x1", x), c("branch3x3_2a", b3), c("branch3x3_2b", b3), c("branch3x3dbl_3a", d3),
            c("branch3x3dbl_3b", d3), c("branch_pool", branch_pool_3x3(x, self.pool_mode))], axis=-1)


STEM = (("Conv2d_1a_3x3", dict(filters=32, kernel_size=3, strides=2)),
        ("Conv2d_2a_3x3", dict(filters=32, kernel_size=3)),
        ("Conv2d_2b_3x3", dict(filters=64, kernel_size=3, padding="same")),
        ("maxpool1", None),
        ("Conv2d_3b_1x1", dict(filters=80, kernel_size=1)),
        ("Conv2d_4a_3x3", dict(filters=192, kernel_size=3)),
        ("maxpool2", None))


class TorchInceptionV3(keras.Model):
    """Inception-v3 up to its 2048-d pool, in torchvision's (`variant="torchvision"`) or
    pytorch-fid's (`variant="fid"`) form; see the module docstring.

    Args:
        variant: "torchvision" (`torchvision.models.inception_v3`; the DAMSM image encoder) or
            "fid" (pytorch-fid's `fid_inception_v3`: FIDInceptionA/C/E_1/E_2 blocks).

    Example:
        >>> net = TorchInceptionV3("fid")
        >>> net(keras.ops.zeros((1, 299, 299, 3)))["pool"].shape
        (1, 2048)
    """

    def __init__(self, variant="torchvision", **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        fid = variant == "fid"
        pool_ac = POOL_EXCLUDE_PAD if fid else POOL_INCLUDE_PAD
        self.stem_names = []
        for name, spec in STEM:
            if spec is not None:
                setattr(self, name, BasicConv(**spec))
            self.stem_names.append(name)
        self.block_names = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                            "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
        blocks = [InceptionA(32, pool_ac), InceptionA(64, pool_ac), InceptionA(64, pool_ac), InceptionB(),
                  InceptionC(128, pool_ac), InceptionC(160, pool_ac), InceptionC(160, pool_ac),
                  InceptionC(192, pool_ac), InceptionD(), InceptionE(pool_ac),
                  InceptionE(POOL_MAX if fid else POOL_INCLUDE_PAD)]
        for name, block in zip(self.block_names, blocks):
            setattr(self, name, block)

    def call(self, images, training=False):
        h = images
        for name in self.stem_names:
            h = keras.ops.max_pool(h, 3, 2, padding="valid") if name.startswith("maxpool") else getattr(self, name)(
                h, training=training)
        out = {}
        for name in self.block_names:
            h = getattr(self, name)(h, training=training)
            if name == "Mixed_6e":
                out["mixed_6e"] = h
        out["pool"] = keras.ops.mean(h, axis=(1, 2))  # avg_pool2d(8) / adaptive pool over the 8x8 map
        return out

    def named_convs(self):
        """[(torchvision module name, BasicConv)] of every convolution, in the official order."""
        convs = [(name, getattr(self, name)) for name in self.stem_names if not name.startswith("maxpool")]
        for block in self.block_names:
            convs += [(f"{block}.{name}", conv) for name, conv in getattr(self, block).named_convs()]
        return convs

    def get_config(self):
        return {**super().get_config(), "variant": self.variant}
