"""StackGAN trainer: Stage-I, or Stage-II on top of a frozen Stage-I generator."""

import tensorflow as tf

from t2izoo.losses.adversarial import generator_bce
from t2izoo.losses.kl import conditioning_kl
from t2izoo.losses.matching_aware import matching_aware_discriminator_loss
from t2izoo.trainers.base import GANTrainer, frozen
from t2izoo.trainers.conditioning_noise import ConditioningNoiseMixin


class StackGanTrainer(ConditioningNoiseMixin, GANTrainer):
    """Alternating D/G updates of one StackGAN stage on precomputed char-CNN-RNN embeddings.

    Stage-I (`stage1_generator=None`): G = `StageIGenerator` at `image_size`.
    Stage-II: G = `StageIIGenerator`, fed the image of the frozen `stage1_generator` (inference
    mode: its weights and BN statistics never change) for the same text; D sees `image_size`
    images.

    D: real + (wrong + fake) / 2 with the matching-aware `StageDiscriminator(variant="stackgan")`
    (StackGAN trainer.py `compute_losses`, B_WRONG); mismatched pairs are {real image,
    embedding of another class's caption}. G: BCE(D(G(z, c), phi_t), 1) + kl_weight * KL.

    Args:
        generator, discriminator: the stage's models.
        text_encoder: the frozen char-CNN-RNN (kept with the checkpoint).
        stage1_generator: Stage-II only: the trained Stage-I generator, frozen.
        image_size: key of the real images in the batch (`image_<size>`).
        kl_weight: COEFF.KL (2.0 in the code; the paper's lambda = 1).

    Reference: Zhang et al., ICCV 2017, Eq. 3-6; hanzhanggit/StackGAN stageI/trainer.py,
    stageII/trainer.py (CA noise is truncated-normal there: `tf.truncated_normal`).
    """

    truncated_condition_noise = True

    def __init__(self, generator, discriminator, text_encoder=None, stage1_generator=None, image_size=64,
                 kl_weight=2.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.stage1_generator = frozen(stage1_generator)
        self.image_size = image_size
        self.kl_weight = kl_weight

    @property
    def stage(self):
        return 1 if self.stage1_generator is None else 2

    def num_condition_codes(self):
        return self.stage

    def loss_term_names(self):
        return ["d_real", "d_wrong", "d_fake", "g_fake", "kl"]

    def batch_conditioning(self, batch):
        return {"embedding": batch["embedding"]}

    def forward(self, generator, conditioning, noise, training=True):
        """([Stage-I images] or [Stage-I, Stage-II images], {"mu", "log_sigma"} of `generator`'s CA).

        Stage-II: the frozen Stage-I generator (inference mode) draws the low-resolution image."""
        embedding = conditioning["embedding"]
        z, eps = self.split_noise(noise)
        if self.stage1_generator is None:
            image, mu, log_sigma = generator((z, embedding, eps[0]), training=training)
            return [image], {"mu": mu, "log_sigma": log_sigma}
        low = tf.stop_gradient(self.stage1_generator((z, embedding, eps[0]), training=False)[0])
        image, mu, log_sigma = generator((low, embedding, eps[1]), training=training)
        return [low, image], {"mu": mu, "log_sigma": log_sigma}

    def generation_models(self, use_ema=True):
        return ([] if self.stage1_generator is None else [self.stage1_generator]) + super().generation_models(use_ema)

    def discriminator_loss(self, batch, noise):
        text = batch["embedding"]
        fake = tf.stop_gradient(self.shared_forward(self.batch_conditioning(batch), noise)[0][-1])
        images = batch[f"image_{self.image_size}"]
        real = self.discriminator((images, text), training=True)
        wrong = self.discriminator((images, batch["wrong_embedding"]), training=True)
        fake = self.discriminator((fake, text), training=True)
        return matching_aware_discriminator_loss(real, wrong, fake, 0.5)

    def generator_loss(self, batch, noise):
        text = batch["embedding"]
        images, extras = self.shared_forward(self.batch_conditioning(batch), noise)
        g_fake = generator_bce(self.discriminator((images[-1], text), training=True))
        kl = conditioning_kl(extras["mu"], extras["log_sigma"])
        return g_fake + self.kl_weight * kl, {"g_fake": g_fake, "kl": kl}

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "kl_weight": self.kl_weight}
