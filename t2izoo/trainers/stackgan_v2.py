"""StackGAN++ trainer: a tree generator against one joint conditional/unconditional D per scale."""

import tensorflow as tf

from t2izoo.losses.jcu import jcu_discriminator_loss, jcu_generator_loss
from t2izoo.losses.kl import conditioning_kl
from t2izoo.trainers.base import GANTrainer
from t2izoo.trainers.stackgan import ConditioningNoiseMixin


class StackGanV2Trainer(ConditioningNoiseMixin, GANTrainer):
    """Alternating updates of StackGAN++: every scale's D, then G on the sum over scales + KL.

    D_i scores (x_i, mu) with mu the generator's CA mean (held constant in the D step, as
    `mu.detach()` in the original) on real, mismatched and generated pairs (`jcu_discriminator_loss`).
    The mismatched pair is {real image, mu of another class's caption}: the original pairs a
    random other image with the right text, i.e. the same kind of mismatched real pair.
    G: sum_i jcu_generator_loss(D_i(G_i(z, c), mu)) + kl_coeff * KL (mu not detached).

    Args:
        generator: `MultiStageGenerator`.
        discriminator: `MultiScaleDiscriminator` with one `StageDiscriminator` per scale.
        text_encoder: the frozen char-CNN-RNN (kept with the checkpoint).
        image_sizes: the generator's scales (batch keys `image_<size>`).
        uncond_weight: TRAIN.COEFF.UNCOND_LOSS (1.0).
        kl_coeff: TRAIN.COEFF.KL (2.0).

    Reference: Zhang et al., "StackGAN++", TPAMI 2018, Eq. 7-8; hanzhanggit/StackGAN-v2
    code/trainer.py `condGANTrainer.train_Dnet` / `train_Gnet`.
    """

    def __init__(self, generator, discriminator, text_encoder=None, image_sizes=(64, 128, 256), uncond_weight=1.0,
                 kl_coeff=2.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = text_encoder
        if text_encoder is not None:
            text_encoder.trainable = False
        self.image_sizes = tuple(image_sizes)
        self.uncond_weight = uncond_weight
        self.kl_coeff = kl_coeff

    def loss_term_names(self):
        names = []
        for s in self.image_sizes:
            names += [f"d_loss_{s}", f"g_loss_{s}"]
        return names + ["kl"]

    def forward(self, embedding, noise, training=True):
        z, eps = self.split_noise(noise)
        return self.generator((z, embedding, eps[0]), training=training)

    def discriminator_loss(self, batch, noise):
        fakes, mu, _ = self.forward(batch["embedding"], noise)
        fakes = [tf.stop_gradient(f) for f in fakes]
        mu = tf.stop_gradient(mu)
        wrong_mu = tf.stop_gradient(self.generator.ca(batch["wrong_embedding"])[1])
        reals = [batch[f"image_{s}"] for s in self.image_sizes]
        real = self.discriminator((reals, mu), training=True)
        wrong = self.discriminator((reals, wrong_mu), training=True)
        fake = self.discriminator((fakes, mu), training=True)
        total, terms = 0.0, {}
        for s, r, w, f in zip(self.image_sizes, real, wrong, fake):
            loss, _ = jcu_discriminator_loss(r, w, f, self.uncond_weight)
            terms[f"d_loss_{s}"] = loss
            total += loss
        return total, terms

    def generator_loss(self, batch, noise):
        fakes, mu, log_sigma = self.forward(batch["embedding"], noise)
        total, terms = 0.0, {}
        for s, out in zip(self.image_sizes, self.discriminator((fakes, mu), training=True)):
            loss, _ = jcu_generator_loss(out, self.uncond_weight)
            terms[f"g_loss_{s}"] = loss
            total += loss
        kl = conditioning_kl(mu, log_sigma)
        terms["kl"] = kl
        return total + self.kl_coeff * kl, terms

    def generate_all_scales(self, conditioning, noise, use_ema=True):
        """Images of every scale, smallest first, each [B, s, s, 3] in [-1, 1]."""
        text = conditioning.get("embedding")
        if text is None:
            text = self.encode_text(conditioning["chars"])
        z, eps = self.split_noise(tf.convert_to_tensor(noise, tf.float32))
        g = self.sync_ema_generator((z, text, eps[0])) if use_ema else self.generator
        return list(g((z, text, eps[0]), training=False)[0])

    def generate(self, conditioning, noise, use_ema=True):
        """Images at the highest resolution [B, S, S, 3] in [-1, 1]."""
        return self.generate_all_scales(conditioning, noise, use_ema)[-1]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)[0]

    def get_config(self):
        return {**super().get_config(), "image_sizes": self.image_sizes, "uncond_weight": self.uncond_weight,
                "kl_coeff": self.kl_coeff}
