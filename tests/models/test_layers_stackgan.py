"""Shared StackGAN-family blocks and losses against their formulas."""

import keras
import numpy as np
import pytest

from t2izoo.layers.conditioning_augmentation import ConditioningAugmentation
from t2izoo.layers.glu import GLU
from t2izoo.layers.residual_block import ResidualBlock
from t2izoo.layers.upsample_block import UpsampleBlock
from t2izoo.losses.jcu import jcu_discriminator_loss, jcu_generator_loss
from t2izoo.losses.kl import conditioning_kl
from t2izoo.testing import gan_checks


def _kl_closed_form(mu, sigma):
    # KL(N(mu, sigma^2) || N(0, 1)) = ln(1/sigma) + (sigma^2 + mu^2) / 2 - 1/2, per dimension.
    return np.log(1.0 / sigma) + (sigma ** 2 + mu ** 2) / 2.0 - 0.5


def _kl_numerical(mu, sigma):
    x = np.linspace(mu - 12 * sigma, mu + 12 * sigma, 200001)
    p = np.exp(-((x - mu) ** 2) / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    q = np.exp(-(x ** 2) / 2) / np.sqrt(2 * np.pi)
    return np.trapezoid(p * np.log(p / q), x) if hasattr(np, "trapezoid") else np.trapz(p * np.log(p / q), x)


def test_closed_form_kl_matches_numerical_integration():
    for mu, sigma in ((0.0, 1.0), (0.7, 0.5), (-1.3, 2.0)):
        np.testing.assert_allclose(_kl_closed_form(mu, sigma), _kl_numerical(mu, sigma), atol=1e-6)


def test_conditioning_kl_is_the_mean_closed_form(rng):
    mu = rng.normal(size=(5, 7)).astype("float32")
    log_sigma = rng.normal(scale=0.5, size=(5, 7)).astype("float32")
    want = _kl_closed_form(mu.astype("float64"), np.exp(log_sigma.astype("float64"))).mean()
    np.testing.assert_allclose(float(conditioning_kl(mu, log_sigma)), want, rtol=1e-5)
    assert float(conditioning_kl(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))) == 0.0


@pytest.mark.parametrize("gated", [False, True])
def test_conditioning_augmentation_mu_sigma_sample_and_kl(gated, rng):
    d = 5
    ca = ConditioningAugmentation(d, gated=gated)
    text = rng.normal(size=(3, 16)).astype("float32")
    eps = rng.normal(size=(3, d)).astype("float32")
    c, mu, log_sigma = (np.asarray(x) for x in ca(text, eps))
    kernel, bias = (np.asarray(w) for w in ca.dense.weights)
    h = text @ kernel + bias
    if gated:  # GLU -> (mu, log variance)
        h = h[:, : 2 * d] / (1.0 + np.exp(-h[:, 2 * d:]))
        want_mu, want_log_sigma = h[:, :d], 0.5 * h[:, d:]
    else:  # LeakyReLU(0.2) -> (mu, log sigma)
        h = np.where(h > 0, h, 0.2 * h)
        want_mu, want_log_sigma = h[:, :d], h[:, d:]
    np.testing.assert_allclose(mu, want_mu, atol=1e-5)
    np.testing.assert_allclose(log_sigma, want_log_sigma, atol=1e-5)
    np.testing.assert_allclose(c, want_mu + np.exp(want_log_sigma) * eps, atol=1e-5)
    want_kl = _kl_closed_form(want_mu.astype("float64"), np.exp(want_log_sigma.astype("float64"))).mean()
    np.testing.assert_allclose(float(conditioning_kl(mu, log_sigma)), want_kl, rtol=1e-4)
    # Without eps the layer samples: mean mu and standard deviation sigma over many draws.
    many = np.repeat(text[:1], 4000, axis=0)
    draws = np.asarray(ca(many)[0])
    np.testing.assert_allclose(draws.mean(0), want_mu[0], atol=4 * np.exp(want_log_sigma[0]).max() / np.sqrt(4000))
    np.testing.assert_allclose(draws.std(0), np.exp(want_log_sigma[0]), rtol=0.1)


def _bce(logits, target):
    p = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))


def test_jcu_losses_follow_the_formula(rng):
    real, wrong, fake = [tuple(rng.normal(size=8).astype("float32") for _ in range(2)) for _ in range(3)]
    u = 0.7
    want = (_bce(real[0], 1) + _bce(wrong[0], 0) + _bce(fake[0], 0)
            + u * (_bce(real[1], 1) + _bce(wrong[1], 1) + _bce(fake[1], 0)))
    total, terms = jcu_discriminator_loss(real, wrong, fake, uncond_weight=u)
    np.testing.assert_allclose(float(total), want, rtol=1e-5)
    np.testing.assert_allclose(float(terms["d_wrong_uncond"]), _bce(wrong[1], 1), rtol=1e-5)
    g_total, _ = jcu_generator_loss(fake, uncond_weight=u)
    np.testing.assert_allclose(float(g_total), _bce(fake[0], 1) + u * _bce(fake[1], 1), rtol=1e-5)


def test_glu_halves_channels(rng):
    x = rng.normal(size=(2, 3, 3, 6)).astype("float32")
    want = x[..., :3] / (1.0 + np.exp(-x[..., 3:]))
    np.testing.assert_allclose(np.asarray(GLU()(x)), want, atol=1e-6)
    with pytest.raises(ValueError, match="even"):
        GLU()(x[..., :5])


@pytest.mark.parametrize("activation", ["glu", "relu", "linear"])
def test_upsample_block_shapes_and_config(activation, rng):
    block = UpsampleBlock(6, activation=activation)
    x = rng.normal(size=(2, 4, 4, 8)).astype("float32")
    y = np.asarray(block(x))
    assert y.shape == (2, 8, 8, 6)
    assert block.conv.filters == (12 if activation == "glu" else 6)
    if activation == "relu":
        assert y.min() >= 0.0
    clone = UpsampleBlock.from_config(block.get_config())
    clone(x)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), y, atol=1e-6)


@pytest.mark.parametrize("gated", [True, False])
def test_residual_block_is_identity_plus_branch(gated, rng):
    block = ResidualBlock(gated=gated)
    x = rng.normal(size=(2, 4, 4, 8)).astype("float32")
    block(x)
    assert block.conv1.filters == (16 if gated else 8)
    for w in block.conv2.weights:  # zero branch -> x (gated) or relu(x) (StackGAN)
        w.assign(np.zeros(w.shape, "float32"))
    block.norm2.beta.assign(np.zeros(8, "float32"))
    block.norm2.gamma.assign(np.ones(8, "float32"))
    want = x if gated else np.maximum(x, 0)
    np.testing.assert_allclose(np.asarray(block(x)), want, atol=1e-5)


def test_conditioning_augmentation_config_round_trip(rng):
    ca = ConditioningAugmentation(4, gated=True)
    text = rng.normal(size=(2, 6)).astype("float32")
    eps = rng.normal(size=(2, 4)).astype("float32")

    class Wrap(keras.Model):  # round-trip helper wants a model taking one input
        def __init__(self, gated=True, **kwargs):
            super().__init__(**kwargs)
            self.gated = gated
            self.ca = ConditioningAugmentation(4, gated=gated)

        def call(self, inputs, training=False):
            return self.ca(inputs[0], inputs[1])

        def get_config(self):
            return {**super().get_config(), "gated": self.gated}

    out = gan_checks.check_config_round_trip(Wrap(), (text, eps))
    assert [tuple(o.shape) for o in out] == [(2, 4)] * 3
    assert ConditioningAugmentation.from_config(ca.get_config()).get_config() == ca.get_config()
