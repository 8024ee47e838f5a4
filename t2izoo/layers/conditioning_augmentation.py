"""Conditioning Augmentation (StackGAN): a Gaussian text code sampled around the embedding."""

import keras

from t2izoo.layers.glu import GLU
from t2izoo.layers.init import conv_init


class ConditioningAugmentation(keras.layers.Layer):
    """c = mu(phi_t) + sigma(phi_t) * eps, eps ~ N(0, I), from a sentence embedding phi_t.

    One dense layer gives mu and the log scale. The KL of N(mu, sigma^2) to N(0, I)
    (`t2izoo.losses.kl.conditioning_kl`) regularises it in the generator loss.

    Args:
        condition_dim: size of c (N_g = 128 in StackGAN/StackGAN++, 100 in AttnGAN).
        gated: StackGAN++/AttnGAN form, Dense(4 * condition_dim) + GLU whose halves are
            (mu, log variance); otherwise StackGAN's Dense(2 * condition_dim) + LeakyReLU(0.2)
            whose halves are (mu, log sigma).

    Call:
        embedding: [B, D] sentence embedding.
        eps: optional [B, condition_dim] standard-normal noise. Trainers pass it (drawn from
            their per-replica `tf.random.Generator`) so that steps are reproducible and differ
            across replicas; without it the layer draws its own.
    Returns (c, mu, log_sigma), each [B, condition_dim]; log_sigma = log variance / 2 in the
    gated form.

    Example:
        >>> ca = ConditioningAugmentation(8)
        >>> c, mu, log_sigma = ca(keras.ops.zeros((2, 32)))
        >>> c.shape
        (2, 8)

    Reference: Zhang et al., "StackGAN", ICCV 2017, Sec. 3.2 (Eq. 3 context); code:
    hanzhanggit/StackGAN stageI/model.py `generate_condition`, StackGAN-v2 code/model.py `CA_NET`.
    """

    def __init__(self, condition_dim=128, gated=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.condition_dim = condition_dim
        self.gated = gated
        self.seed = seed
        self.dense = keras.layers.Dense((4 if gated else 2) * condition_dim, kernel_initializer=conv_init())
        self.glu = GLU() if gated else None
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, embedding, eps=None):
        h = self.dense(embedding)
        h = self.glu(h) if self.gated else keras.ops.leaky_relu(h, 0.2)
        mu, log_scale = h[:, : self.condition_dim], h[:, self.condition_dim:]
        log_sigma = 0.5 * log_scale if self.gated else log_scale
        if eps is None:
            eps = keras.random.normal(keras.ops.shape(mu), seed=self.seed_generator, dtype=mu.dtype)
        return mu + keras.ops.exp(log_sigma) * eps, mu, log_sigma

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.condition_dim)
        return shape, shape, shape

    def get_config(self):
        return {**super().get_config(), "condition_dim": self.condition_dim, "gated": self.gated,
                "seed": self.seed}
