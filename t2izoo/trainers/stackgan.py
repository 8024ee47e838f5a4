"""StackGAN trainer: Stage-I, or Stage-II on top of a frozen Stage-I generator."""

import tensorflow as tf

from t2izoo.losses.adversarial import generator_bce
from t2izoo.losses.kl import conditioning_kl
from t2izoo.losses.matching_aware import matching_aware_discriminator_loss
from t2izoo.trainers.base import GANTrainer


class ConditioningNoiseMixin:
    """Noise = [z, eps_1, ..., eps_k]: z for the generator and one CA noise per CA layer.

    Drawing the CA noise in the trainer (from the per-replica `noise_rng`, or from
    `batch["noise"]`) keeps steps reproducible, replica streams distinct, and lets a test feed
    the same noise to a single-device and a mirrored run.
    """

    truncated_condition_noise = False

    def num_condition_codes(self):
        return 1

    def condition_dim(self):
        return self.generator.condition_dim

    def noise_width(self):
        return self.z_dim + self.num_condition_codes() * self.condition_dim()

    def sample_noise(self, batch):
        if "noise" in batch:
            return batch["noise"]
        b = self.batch_size_of(batch)
        z = self.noise_rng.normal((b, self.z_dim))
        shape = (b, self.num_condition_codes() * self.condition_dim())
        eps = self.noise_rng.truncated_normal(shape) if self.truncated_condition_noise else self.noise_rng.normal(shape)
        return tf.concat([z, eps], axis=1)

    def split_noise(self, noise):
        """(z, [eps_1, ...]) from the noise of `sample_noise`; z-only noise gets fixed CA noise."""
        if noise.shape[-1] == self.z_dim:  # e.g. `Text2Image`: seed the CA noise from the trainer seed
            eps = tf.random.stateless_normal(
                (tf.shape(noise)[0], self.num_condition_codes() * self.condition_dim()), seed=[self.seed, 1])
            noise = tf.concat([noise, eps], axis=1)
        z, rest = noise[:, : self.z_dim], noise[:, self.z_dim:]
        d = self.condition_dim()
        return z, [rest[:, i * d: (i + 1) * d] for i in range(self.num_condition_codes())]

    def encode_text(self, chars):
        """Frozen char-CNN-RNN embeddings of int character codes [B, 201]."""
        return self.text_encoder(chars, training=False)


class StackGanTrainer(ConditioningNoiseMixin, GANTrainer):
    """Alternating D/G updates of one StackGAN stage on precomputed char-CNN-RNN embeddings.

    Stage-I (`stage1_generator=None`): G = `StageIGenerator` at `image_size`.
    Stage-II: G = `StageIIGenerator`, fed the image of the frozen `stage1_generator` (inference
    mode: its weights and BN statistics never change) for the same text; D sees `image_size`
    images.

    D: real + (wrong + fake) / 2 with the matching-aware `StageDiscriminator(variant="stackgan")`
    (StackGAN trainer.py `compute_losses`, B_WRONG); mismatched pairs are {real image,
    embedding of another class's caption}. G: BCE(D(G(z, c), phi_t), 1) + kl_coeff * KL.

    Args:
        generator, discriminator: the stage's models.
        text_encoder: the frozen char-CNN-RNN (kept with the checkpoint).
        stage1_generator: Stage-II only: the trained Stage-I generator, frozen.
        image_size: key of the real images in the batch (`image_<size>`).
        kl_coeff: COEFF.KL (2.0 in the code; the paper's lambda = 1).

    Reference: Zhang et al., ICCV 2017, Eq. 3-6; hanzhanggit/StackGAN stageI/trainer.py,
    stageII/trainer.py (CA noise is truncated-normal there: `tf.truncated_normal`).
    """

    truncated_condition_noise = True

    def __init__(self, generator, discriminator, text_encoder=None, stage1_generator=None, image_size=64,
                 kl_coeff=2.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = text_encoder
        if text_encoder is not None:
            text_encoder.trainable = False
        self.stage1_generator = stage1_generator
        if stage1_generator is not None:
            stage1_generator.trainable = False
        self.image_size = image_size
        self.kl_coeff = kl_coeff

    @property
    def stage(self):
        return 1 if self.stage1_generator is None else 2

    def num_condition_codes(self):
        return self.stage

    def loss_term_names(self):
        return ["d_real", "d_wrong", "d_fake", "g_fake", "kl"]

    def forward(self, embedding, noise, training=True):
        """(images of every stage, mu, log_sigma of the trained stage's CA)."""
        z, eps = self.split_noise(noise)
        if self.stage1_generator is None:
            image, mu, log_sigma = self.generator((z, embedding, eps[0]), training=training)
            return [image], mu, log_sigma
        low, _, _ = self.stage1_generator((z, embedding, eps[0]), training=False)
        low = tf.stop_gradient(low)
        image, mu, log_sigma = self.generator((low, embedding, eps[1]), training=training)
        return [low, image], mu, log_sigma

    def discriminator_loss(self, batch, noise):
        text = batch["embedding"]
        fake = tf.stop_gradient(self.forward(text, noise)[0][-1])
        images = batch[f"image_{self.image_size}"]
        real = self.discriminator((images, text), training=True)
        wrong = self.discriminator((images, batch["wrong_embedding"]), training=True)
        fake = self.discriminator((fake, text), training=True)
        return matching_aware_discriminator_loss(real, wrong, fake, 0.5)

    def generator_loss(self, batch, noise):
        text = batch["embedding"]
        images, mu, log_sigma = self.forward(text, noise)
        g_fake = generator_bce(self.discriminator((images[-1], text), training=True))
        kl = conditioning_kl(mu, log_sigma)
        return g_fake + self.kl_coeff * kl, {"g_fake": g_fake, "kl": kl}

    def generate_all_scales(self, conditioning, noise, use_ema=True):
        """[Stage-I images] or [Stage-I images, Stage-II images], each [B, S, S, 3] in [-1, 1]."""
        text = conditioning.get("embedding")
        if text is None:
            text = self.encode_text(conditioning["chars"])
        z, eps = self.split_noise(tf.convert_to_tensor(noise, tf.float32))
        if self.stage1_generator is None:
            g = self.sync_ema_generator((z, text, eps[0])) if use_ema else self.generator
            return [g((z, text, eps[0]), training=False)[0]]
        low = self.stage1_generator((z, text, eps[0]), training=False)[0]
        g = self.sync_ema_generator((low, text, eps[1])) if use_ema else self.generator
        return [low, g((low, text, eps[1]), training=False)[0]]

    def generate(self, conditioning, noise, use_ema=True):
        """Images of the last stage [B, S, S, 3] in [-1, 1] from {"chars"} or {"embedding"}."""
        return self.generate_all_scales(conditioning, noise, use_ema)[-1]

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "kl_coeff": self.kl_coeff}
