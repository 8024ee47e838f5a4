"""GAN-CLS / GAN-INT losses of Reed et al. 2016."""

import keras

from t2izoo.losses.adversarial import bce_with_logits


def matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, cls_weight=0.5):
    """Matching-aware D loss (GAN-CLS, Reed et al. 2016, Alg. 1 with icml2016's weights).

    L_D = BCE(s_r, 1) + w * BCE(s_w, 0) + (1 - w) * BCE(s_f, 0), each a batch mean, where s_r
    scores {real image, right text}, s_w {real image, wrong text}, s_f {fake image, right text}
    and w = `cls_weight` (0.5 in icml2016's train scripts; the paper's Alg. 1 is w = 0.5 too:
    (log(1 - s_w) + log(1 - s_f)) / 2).

    Returns: (total, dict of the three terms).
    """
    real = keras.ops.mean(bce_with_logits(real_logits, 1.0))
    wrong = keras.ops.mean(bce_with_logits(wrong_logits, 0.0))
    fake = keras.ops.mean(bce_with_logits(fake_logits, 0.0))
    total = real + cls_weight * wrong + (1.0 - cls_weight) * fake
    return total, {"d_real": real, "d_wrong": wrong, "d_fake": fake}


def gan_int_generator_loss(fake_logits, interp_logits=None, interp_weight=1.0):
    """G loss with GAN-INT (Reed et al. 2016, Eq. 5 with beta = 0.5).

    L_G = BCE(D(G(z, t), t), 1) + lambda * BCE(D(G(z, t_int), t_int), 1), each a batch mean, with
    t_int = beta t_1 + (1 - beta) t_2 the interpolated embeddings and lambda = `interp_weight`.
    """
    loss = keras.ops.mean(bce_with_logits(fake_logits, 1.0))
    terms = {"g_fake": loss}
    if interp_logits is not None:
        interp = keras.ops.mean(bce_with_logits(interp_logits, 1.0))
        terms["g_interp"] = interp
        loss = loss + interp_weight * interp
    return loss, terms


def gan_int_joint_generator_loss(logits, num_fake, interp_weight=1.0):
    """G loss of GAN-INT as icml2016 main_cls_int.lua computes it: one pass, one weighted mean.

    `logits` holds D's scores of `num_fake` generated images with their own text followed by the
    images generated from interpolated text. L_G = (sum_fake BCE(s, 1) + lambda * sum_interp
    BCE(s, 1)) / N over all N rows (Torch's weighted `BCECriterion` divides by the row count, not
    the weight sum), so with B fake rows, B/2 interpolated rows and lambda = 1 the two kinds weigh
    2 : 1 (`gan_int_generator_loss` weighs them 1 : lambda).

    Returns: (total, {"g_fake", "g_interp"}: the batch mean of each kind's BCE).
    """
    bce = bce_with_logits(logits, 1.0)
    fake, interp = bce[:num_fake], bce[num_fake:]
    rows = keras.ops.cast(keras.ops.shape(bce)[0], bce.dtype)
    total = (keras.ops.sum(fake) + interp_weight * keras.ops.sum(interp)) / rows
    return total, {"g_fake": keras.ops.mean(fake), "g_interp": keras.ops.mean(interp)}


def interpolate_embeddings(embeddings, beta=0.5):
    """GAN-INT: beta * t_2i + (1 - beta) * t_2i+1, i.e. B/2 interpolations of random pairs.

    Pairing neighbours (rather than row i with row i + B/2) keeps the pairs identical when a
    distribution strategy splits the global batch over replicas.
    """
    return beta * embeddings[0::2] + (1.0 - beta) * embeddings[1::2]
