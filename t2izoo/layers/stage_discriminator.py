"""Per-scale discriminator of StackGAN (conditional) and StackGAN++/AttnGAN (joint conditional +
unconditional); `MultiScaleDiscriminator` holds one per scale."""

import math

import keras
from keras import layers

from t2izoo.layers.init import batch_norm, conv_init
from t2izoo.layers.residual_bottleneck import ResidualBottleneck

VARIANTS = ("stackgan", "stackgan_v2")


@keras.saving.register_keras_serializable(package="t2izoo")
class StageDiscriminator(keras.Model):
    """D for one scale: image -> 4x4 x 8ndf code; condition tiled 4x4 and joined -> logit(s).

    Image encoder (bias-free convs, BN after all but the first, LeakyReLU 0.2): stride-2 4x4
    convolutions down to 4x4. Channel plan:
      * `stackgan_v2` (`encode_image_by_16times` + `downBlock`s + `Block3x3_leakRelu`s):
        ndf, 2ndf, 4ndf, 8ndf, then 16ndf, 32ndf, ... for larger images, brought back to 8ndf by
        3x3 conv + BN + LeakyReLU blocks (halving). Heads: conditional = concat(condition
        tiled, code) -> conv3x3 (8ndf) + BN + LeakyReLU -> 4x4 stride-4 conv; unconditional =
        4x4 stride-4 conv on the code. The condition is used as given (StackGAN++: the CA mean
        mu; AttnGAN: the sentence embedding).
      * `stackgan` (StackGAN `d_encode_image` / `hr_d_encode_image`): ndf ... up to 8ndf at 64 px
        (the official Stage-I D has no activation after its 4ndf conv; kept), ndf ... 32ndf at
        256 px brought back with 1x1 convs (16ndf, 8ndf); then a residual bottleneck (2ndf).
        The text embedding is compressed by Dense(text_proj_dim) + LeakyReLU, tiled, joined
        after the code, then conv1x1 (8ndf) + BN + LeakyReLU -> 4x4 conv (no bias). Conditional
        logit only.
    Images smaller than 64 px start the plan further along so that 4x4 still has 8ndf channels.

    Args:
        image_size: input side (power of two >= 16).
        ndf: DF_DIM (64; StackGAN COCO 96).
        variant: `stackgan_v2` (default) or `stackgan`.
        text_proj_dim: `stackgan` only: compressed text size (EMBEDDING_DIM 128).
        sync_batch_norm: synchronise BN statistics across replicas.

    Call: (images [B, S, S, 3], condition [B, N]). Returns `stackgan_v2`: (conditional logits [B],
    unconditional logits [B]); `stackgan`: conditional logits [B].

    Example:
        >>> d = StageDiscriminator(image_size=32, ndf=4)
        >>> [x.shape for x in d((keras.ops.zeros((2, 32, 32, 3)), keras.ops.zeros((2, 8))))]
        [(2,), (2,)]

    Reference: StackGAN++ (TPAMI 2018) Sec. 4.2 and StackGAN-v2 code/model.py `D_NET64/128/256`;
    StackGAN (ICCV 2017) Sec. 3.3-3.4, stageI/model.py and stageII/model.py.
    """

    def __init__(self, image_size=64, ndf=64, variant="stackgan_v2", text_proj_dim=128, sync_batch_norm=False,
                 **kwargs):
        super().__init__(**kwargs)
        if image_size < 16 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 16, got {image_size}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.image_size = image_size
        self.ndf = ndf
        self.variant = variant
        self.text_proj_dim = text_proj_dim
        self.sync_batch_norm = sync_batch_norm
        conv = lambda c, k, s=1, bias=False, pad="same": layers.Conv2D(  # noqa: E731
            c, k, strides=s, padding=pad, use_bias=bias, kernel_initializer=conv_init())
        num_down = int(math.log2(image_size // 4))
        offset = max(0, 4 - num_down)
        # (conv, norm or None, activate?)
        self.encoder = []
        for i in range(num_down):
            activate = not (variant == "stackgan" and num_down <= 4 and i == num_down - 2)
            self.encoder.append((conv(ndf * 2 ** (i + offset), 4, 2), batch_norm(sync_batch_norm) if i else None,
                                 activate))
        channels = ndf * 2 ** (num_down - 1 + offset)
        kernel = 1 if variant == "stackgan" else 3
        while channels > 8 * ndf:
            channels //= 2
            self.encoder.append((conv(channels, kernel), batch_norm(sync_batch_norm), True))
        if variant == "stackgan":
            # The last encoder layer feeds the residual bottleneck un-activated (node1_0).
            last_conv, last_norm, _ = self.encoder[-1]
            self.encoder[-1] = (last_conv, last_norm, False)
            self.residual = ResidualBottleneck(2 * ndf, leaky=True, sync_batch_norm=sync_batch_norm)
            self.text_projection = layers.Dense(text_proj_dim, kernel_initializer=conv_init())
            self.joint = conv(8 * ndf, 1)
            self.logit = conv(1, 4, pad="valid")
        else:
            self.joint = conv(8 * ndf, 3)
            self.logit = conv(1, 4, 4, bias=True, pad="valid")
            self.uncond_logit = conv(1, 4, 4, bias=True, pad="valid")
        self.joint_norm = batch_norm(sync_batch_norm)
        for i, (c, n, _) in enumerate(self.encoder):  # track the tuple members
            setattr(self, f"encode_{i}", c)
            if n is not None:
                setattr(self, f"encode_norm_{i}", n)

    def encode(self, images, training=False):
        h = images
        for c, n, activate in self.encoder:
            h = c(h)
            if n is not None:
                h = n(h, training=training)
            if activate:
                h = keras.ops.leaky_relu(h, 0.2)
        if self.variant == "stackgan":
            h = self.residual(h, training=training)
        return h

    def call(self, inputs, training=False):
        images, condition = inputs
        return self.logits(self.encode(images, training=training), condition, training=training)

    def logits(self, code, condition, training=False, unconditional=True):
        """The heads on an image code from `encode`: what `call` returns for (images, condition).
        A trainer that scores one batch of images against two conditions (real and mismatched
        captions) encodes the images once and calls this twice, as the official trainers reuse
        `real_features`; `unconditional=False` leaves out the unconditional logit (`stackgan_v2`:
        it depends on the code only), returning the conditional logits alone."""
        condition = keras.ops.cast(condition, code.dtype)  # as `__call__` casts it under a mixed policy
        if self.variant == "stackgan":
            t = keras.ops.leaky_relu(self.text_projection(condition), 0.2)
            h = keras.ops.concatenate([code, keras.ops.tile(t[:, None, None, :], (1, 4, 4, 1))], axis=-1)
        else:  # torch.cat((c_code, x_code), 1)
            h = keras.ops.concatenate([keras.ops.tile(condition[:, None, None, :], (1, 4, 4, 1)), code], axis=-1)
        h = keras.ops.leaky_relu(self.joint_norm(self.joint(h), training=training), 0.2)
        cond = keras.ops.reshape(self.logit(h), (-1,))
        if self.variant == "stackgan" or not unconditional:
            return cond
        return cond, keras.ops.reshape(self.uncond_logit(code), (-1,))

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "ndf": self.ndf, "variant": self.variant,
                "text_proj_dim": self.text_proj_dim, "sync_batch_norm": self.sync_batch_norm}
