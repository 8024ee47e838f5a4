"""The noise of conditioning-augmentation GANs (StackGAN, StackGAN++, AttnGAN and later papers)."""

import tensorflow as tf


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

    def truncated_noise_width(self):
        return self.num_condition_codes() * self.condition_dim() if self.truncated_condition_noise else 0

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
        if noise.shape[-1] == self.z_dim:  # z only: seed the CA noise from the trainer seed
            eps = tf.random.stateless_normal(
                (tf.shape(noise)[0], self.num_condition_codes() * self.condition_dim()), seed=[self.seed, 1])
            noise = tf.concat([noise, eps], axis=1)
        z, rest = noise[:, : self.z_dim], noise[:, self.z_dim:]
        d = self.condition_dim()
        return z, [rest[:, i * d: (i + 1) * d] for i in range(self.num_condition_codes())]
