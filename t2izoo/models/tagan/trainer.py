"""TAGAN trainer: D on real images with matching and mismatched texts and on edits; G adversarial
+ text-adaptive conditional loss + L1 reconstruction with the matching text + KL."""

import keras
import tensorflow as tf

from t2izoo.losses.adversarial import bce_with_logits
from t2izoo.losses.kl import conditioning_kl
from t2izoo.trainers.base import GANTrainer
from t2izoo.trainers.manipulation import ManipulationModel


def probability_bce(p, target):
    """Mean BCE of probabilities `p` against `target`, logs clamped at -100 (PyTorch's
    `F.binary_cross_entropy`, which TAGAN uses on the conditional scores)."""
    p = keras.ops.convert_to_tensor(p)
    log_p = keras.ops.maximum(keras.ops.log(p), -100.0)
    log_q = keras.ops.maximum(keras.ops.log(1.0 - p), -100.0)
    return keras.ops.mean(-(target * log_p + (1.0 - target) * log_q))


def tagan_discriminator_loss(real_logits, real_scores, mismatched_scores, fake_logits, cond_weight=10.0):
    """L_D = BCE(D(x), 1) + lambda_cond / 2 [BCE(D(x, t), 1) + BCE(D(x, t_mis), 0)] + BCE(D(G(x, t_mis)), 0)
    (Nam et al. 2018, Eq. 4 with woozzu/tagan train.py's weights; D(., .) the text-adaptive score,
    D(.) the unconditional logit)."""
    d_real = keras.ops.mean(bce_with_logits(real_logits, 1.0))
    d_real_cond = 0.5 * (probability_bce(real_scores, 1.0) + probability_bce(mismatched_scores, 0.0))
    d_fake = keras.ops.mean(bce_with_logits(fake_logits, 0.0))
    total = d_real + cond_weight * d_real_cond + d_fake
    return total, {"d_real": d_real, "d_real_cond": d_real_cond, "d_fake": d_fake}


def tagan_generator_loss(fake_logits, fake_scores, reconstruction, images, edit_ca, recon_ca, cond_weight=10.0,
                         recon_weight=0.2, kl_weight=0.5):
    """L_G = BCE(D(x_hat), 1) + lambda_cond BCE(D(x_hat, t_mis), 1) + lambda_recon |G(x, t) - x|_1
    + kl_weight (KL_edit + KL_recon), x_hat = G(x, t_mis) (Nam et al. 2018, Eq. 5; train.py: the L1
    is a mean over pixels, each pass's KL weighted 0.5).

    `edit_ca`, `recon_ca`: (mu, log_sigma) of the CA of the edit and of the reconstruction pass.
    """
    g_fake = keras.ops.mean(bce_with_logits(fake_logits, 1.0))
    g_fake_cond = probability_bce(fake_scores, 1.0)
    reconstruction, images = keras.ops.cast(reconstruction, "float32"), keras.ops.cast(images, "float32")
    g_recon = keras.ops.mean(keras.ops.abs(reconstruction - images))
    kl = conditioning_kl(*edit_ca) + conditioning_kl(*recon_ca)
    total = g_fake + cond_weight * g_fake_cond + recon_weight * g_recon + kl_weight * kl
    return total, {"g_fake": g_fake, "g_fake_cond": g_fake_cond, "g_recon": g_recon, "kl": kl}


class TaganTrainer(ManipulationModel, GANTrainer):
    """Alternating D/G updates of TAGAN on batches of images, captions and mismatched captions.

    Batches need `image_<size>`, `tokens`/`lengths` and `wrong_tokens`/`wrong_lengths` (the
    mismatched caption t_mis, the text each image is edited towards). G and D each own their word
    encoder, trained with them. The generator's conditioning is `{"images", "tokens", "lengths"}`;
    the noise is [B, 2 condition_dim]: the CA noise of the edit pass G(x, t_mis), then of the
    reconstruction pass G(x, t) (train.py draws each afresh).

    Args:
        generator: `TaganGenerator`.
        discriminator: `TextAdaptiveDiscriminator`.
        image_size: key of the batch images.
        condition_dim: G's CA size (the noise is twice as wide).
        cond_weight, recon_weight, kl_weight: see `TaganConfig`.

    Reference: Nam et al., NeurIPS 2018, Sec. 3.4; woozzu/tagan train.py.
    """

    def __init__(self, generator, discriminator, image_size=128, condition_dim=128, cond_weight=10.0,
                 recon_weight=0.2, kl_weight=0.5, **kwargs):
        kwargs["z_dim"] = 2 * condition_dim
        super().__init__(generator, discriminator, **kwargs)
        self.image_size = image_size
        self.condition_dim = condition_dim
        self.cond_weight = cond_weight
        self.recon_weight = recon_weight
        self.kl_weight = kl_weight

    def loss_term_names(self):
        return ["d_real", "d_real_cond", "d_fake", "g_fake", "g_fake_cond", "g_recon", "kl"]

    def batch_conditioning(self, batch, prefix=""):
        return {"images": batch[f"image_{self.image_size}"], "tokens": batch[prefix + "tokens"],
                "lengths": batch[prefix + "lengths"]}

    def forward(self, generator, conditioning, noise, training=True):
        """G(x, t) with the first `condition_dim` columns of `noise` as CA noise."""
        images, mu, log_sigma = generator((conditioning["images"], conditioning["tokens"], conditioning["lengths"],
                                           noise[:, :self.condition_dim]), training=training)
        return [images], {"mu": mu, "log_sigma": log_sigma}

    def _edit(self, batch, noise):
        """The edit pass x_hat = G(x, t_mis): one generator pass per train step, shared by the D and
        the G step (`shared_forward`; train.py runs it twice with fresh CA noise)."""
        return self.shared_forward(self.batch_conditioning(batch, "wrong_"), noise)

    def discriminator_loss(self, batch, noise):
        d = self.discriminator
        images = batch[f"image_{self.image_size}"]
        fake = tf.stop_gradient(self._edit(batch, noise)[0][-1])
        real_logits, features = d.image_features(images, training=True)
        real_scores = d.conditional_score(features, *d.word_features(batch["tokens"], batch["lengths"], True))
        wrong_scores = d.conditional_score(features, *d.word_features(batch["wrong_tokens"], batch["wrong_lengths"],
                                                                       True))
        fake_logits, _ = d.image_features(fake, training=True)
        return tagan_discriminator_loss(real_logits, real_scores, wrong_scores, fake_logits, self.cond_weight)

    def generator_loss(self, batch, noise):
        d = self.discriminator
        images = batch[f"image_{self.image_size}"]
        out, edit = self._edit(batch, noise)
        fake_logits, features = d.image_features(out[-1], training=True)
        fake_scores = d.conditional_score(features, *d.word_features(batch["wrong_tokens"], batch["wrong_lengths"],
                                                                      True))
        recon, rec = self.forward(self.generator, self.batch_conditioning(batch), noise[:, self.condition_dim:])
        return tagan_generator_loss(fake_logits, fake_scores, recon[-1], images, (edit["mu"], edit["log_sigma"]),
                                    (rec["mu"], rec["log_sigma"]), self.cond_weight, self.recon_weight,
                                    self.kl_weight)

    def manipulate(self, images, conditioning, use_ema=True):
        """G(x, t') with the CA mean (no CA noise), so an edit is deterministic."""
        images = tf.convert_to_tensor(images, tf.float32)
        tokens = conditioning["tokens"]
        noise = tf.zeros((tf.shape(tokens)[0], self.condition_dim))
        return self.forward(self.generator_for(use_ema), {"images": images, "tokens": tokens,
                                                          "lengths": conditioning["lengths"]}, noise,
                            training=False)[0][-1]

    def manipulation_models(self):
        return [self.generator_for(True)]

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "condition_dim": self.condition_dim,
                "cond_weight": self.cond_weight, "recon_weight": self.recon_weight, "kl_weight": self.kl_weight}
