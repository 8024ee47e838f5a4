"""Joint conditional + unconditional (JCU) GAN losses of StackGAN++ (and AttnGAN)."""

import keras

from t2izoo.losses.adversarial import bce_with_logits


def _bce(logits, target):
    return keras.ops.mean(bce_with_logits(logits, target))


def jcu_discriminator_loss(real, wrong, fake, uncond_weight=1.0):
    """Discriminator loss of one scale (StackGAN++, Eq. 7 plus the code's mismatched pairs).

    L_D = BCE(Dc(x, c), 1) + BCE(Dc(x_w, c), 0) + BCE(Dc(G(z, c), c), 0)
          + u * [BCE(Du(x), 1) + BCE(Du(x_w), 1) + BCE(Du(G(z, c)), 0)],

    each a batch mean, where Dc is the conditional and Du the unconditional logit, (x_w, c) a
    mismatched real pair and u = `uncond_weight` (`TRAIN.COEFF.UNCOND_LOSS` = 1). The wrong
    pairs are not in the paper's Eq. 7; StackGAN-v2 trainer.py `train_Dnet` adds them, and
    labels their unconditional term real (the image is real).

    Args:
        real, wrong, fake: (conditional logits [B], unconditional logits [B]) for the real,
            mismatched and generated pairs.
        uncond_weight: u.

    Returns: (total, dict of the six terms).
    """
    terms = {"d_real": _bce(real[0], 1.0), "d_wrong": _bce(wrong[0], 0.0), "d_fake": _bce(fake[0], 0.0),
             "d_real_uncond": _bce(real[1], 1.0), "d_wrong_uncond": _bce(wrong[1], 1.0),
             "d_fake_uncond": _bce(fake[1], 0.0)}
    total = (terms["d_real"] + terms["d_wrong"] + terms["d_fake"]
             + uncond_weight * (terms["d_real_uncond"] + terms["d_wrong_uncond"] + terms["d_fake_uncond"]))
    return total, terms


def jcu_generator_loss(fake, uncond_weight=1.0):
    """Generator loss of one scale (StackGAN++, Eq. 8, non-saturating form of the code).

    L_G = BCE(Dc(G(z, c), c), 1) + u * BCE(Du(G(z, c)), 1).

    Returns: (total, dict with `g_fake`, `g_fake_uncond`).
    """
    cond, uncond = _bce(fake[0], 1.0), _bce(fake[1], 1.0)
    return cond + uncond_weight * uncond, {"g_fake": cond, "g_fake_uncond": uncond}


def scale_term_names(image_sizes, names=("d_loss", "g_loss")) -> list:
    """The names `sum_over_scales` gives the per-scale terms, scale by scale (what a multi-scale
    trainer reports)."""
    return [f"{name}_{s}" for s in image_sizes for name in names]


def sum_over_scales(image_sizes, losses, name: str):
    """(sum of per-scale losses, {f"{name}_{size}": loss}): the total a multi-scale GAN
    optimises (StackGAN++ Eq. 7-8 sum over the tree's branches) and the terms it reports."""
    terms = {f"{name}_{s}": loss for s, loss in zip(image_sizes, losses)}
    return sum(terms.values()), terms
