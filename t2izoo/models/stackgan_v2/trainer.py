"""StackGAN++ trainer: a tree generator against one joint conditional/unconditional D per scale."""

import tensorflow as tf

from t2izoo.losses.jcu import jcu_discriminator_loss, jcu_generator_loss, scale_term_names, sum_over_scales
from t2izoo.losses.kl import conditioning_kl
from t2izoo.trainers.base import GANTrainer, frozen
from t2izoo.trainers.conditioning_noise import ConditioningNoiseMixin


class StackGanV2Trainer(ConditioningNoiseMixin, GANTrainer):
    """Alternating updates of StackGAN++: every scale's D, then G on the sum over scales + KL.

    D_i scores (x_i, mu) with mu the generator's CA mean (held constant in the D step, as
    `mu.detach()` in the original) on real, mismatched and generated pairs (`jcu_discriminator_loss`).
    The mismatched pair is {real image, mu of another class's caption}: the original pairs a
    random other image with the right text, i.e. the same kind of mismatched real pair.
    G: sum_i jcu_generator_loss(D_i(G_i(z, c), mu)) + kl_weight * KL (mu not detached).

    Args:
        generator: `MultiStageGenerator`.
        discriminator: `MultiScaleDiscriminator` with one `StageDiscriminator` per scale.
        text_encoder: the frozen char-CNN-RNN (kept with the checkpoint).
        image_sizes: the generator's scales (batch keys `image_<size>`).
        uncond_weight: TRAIN.COEFF.UNCOND_LOSS (1.0).
        kl_weight: TRAIN.COEFF.KL (2.0).

    Reference: Zhang et al., "StackGAN++", TPAMI 2018, Eq. 7-8; hanzhanggit/StackGAN-v2
    code/trainer.py `condGANTrainer.train_Dnet` / `train_Gnet`.
    """

    def __init__(self, generator, discriminator, text_encoder=None, image_sizes=(64, 128, 256), uncond_weight=1.0,
                 kl_weight=2.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.image_sizes = tuple(image_sizes)
        self.uncond_weight = uncond_weight
        self.kl_weight = kl_weight

    def loss_term_names(self):
        return scale_term_names(self.image_sizes) + ["kl"]

    def batch_conditioning(self, batch):
        return {"embedding": batch["embedding"]}

    def forward(self, generator, conditioning, noise, training=True):
        z, eps = self.split_noise(noise)
        images, mu, log_sigma = generator((z, conditioning["embedding"], eps[0]), training=training)
        return list(images), {"mu": mu, "log_sigma": log_sigma}

    def discriminator_loss(self, batch, noise):
        fakes, extras = self.shared_forward(self.batch_conditioning(batch), noise)
        fakes = [tf.stop_gradient(f) for f in fakes]
        mu = tf.stop_gradient(extras["mu"])
        wrong_mu = tf.stop_gradient(self.generator.ca(batch["wrong_embedding"])[1])
        losses = []
        for d, size, fake_images in zip(self.discriminator.discriminators, self.image_sizes, fakes):
            # One image code of the reals scored against mu and wrong_mu: the logits and gradients
            # of two full passes over the same images at one encoder's cost. The unconditional
            # logit depends on the code alone, so the wrong pair's is the real pair's (labelled
            # real in both terms, as train_Dnet labels errD_wrong_uncond).
            code = d.encode(batch[f"image_{size}"], training=True)
            real = d.logits(code, mu, training=True)
            wrong = (d.logits(code, wrong_mu, training=True, unconditional=False), real[1])
            fake = d((fake_images, mu), training=True)
            losses.append(jcu_discriminator_loss(real, wrong, fake, self.uncond_weight)[0])
        return sum_over_scales(self.image_sizes, losses, "d_loss")

    def generator_loss(self, batch, noise):
        fakes, extras = self.shared_forward(self.batch_conditioning(batch), noise)
        outputs = self.discriminator((fakes, extras["mu"]), training=True)
        total, terms = sum_over_scales(self.image_sizes, [jcu_generator_loss(out, self.uncond_weight)[0]
                                                          for out in outputs], "g_loss")
        terms["kl"] = conditioning_kl(extras["mu"], extras["log_sigma"])
        return total + self.kl_weight * terms["kl"], terms

    def get_config(self):
        return {**super().get_config(), "image_sizes": self.image_sizes, "uncond_weight": self.uncond_weight,
                "kl_weight": self.kl_weight}
