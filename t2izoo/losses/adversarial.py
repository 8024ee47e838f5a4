"""Binary cross-entropy GAN losses on logits (the papers' BCE on sigmoid outputs)."""

import keras


def bce_with_logits(logits, target):
    """Per-example binary cross-entropy of sigmoid(logits) against `target` (scalar or [B]),
    in float32 (logits of a mixed-precision discriminator are cast)."""
    logits = keras.ops.cast(logits, "float32")
    target = keras.ops.cast(keras.ops.broadcast_to(target, keras.ops.shape(logits)), logits.dtype)
    # max(l, 0) - l*t + log(1 + exp(-|l|)): the stable form of -[t log s(l) + (1-t) log(1-s(l))].
    return keras.ops.relu(logits) - logits * target + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(logits)))


def generator_bce(fake_logits):
    """Non-saturating generator loss: mean BCE(D(G(z)), 1)."""
    return keras.ops.mean(bce_with_logits(fake_logits, 1.0))
