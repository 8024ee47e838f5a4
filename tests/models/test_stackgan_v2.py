"""StackGAN++: tree generator, per-scale JCU discriminators, trainer, pinned sizes, Mirrored step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.errors import ConfigError
from t2izoo.layers.multi_scale_discriminator import MultiScaleDiscriminator
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.models.stackgan_v2.config import STACKGAN_V2_PRESETS, StackGanV2Config
from t2izoo.models.stackgan_v2.generator import MultiStageGenerator
from t2izoo.models.stackgan_v2.recipe import build_models
from t2izoo.models.stackgan_v2.trainer import StackGanV2Trainer
from t2izoo.testing import gan_checks

B, D, Z, C = 8, 12, 100, 8
SIZES = (16, 32)


def count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def make_batch(rng, noise=False):
    return gan_checks.embedding_batch(rng, B, SIZES, D, Z + C if noise else None)


def make_trainer(sync=False, optimizer=lambda: keras.optimizers.Adam(2e-4, 0.5, 0.999)):
    g = MultiStageGenerator(SIZES[0], len(SIZES), Z, C, ngf=4, num_residual=1, sync_batch_norm=sync)
    d = MultiScaleDiscriminator([StageDiscriminator(s, ndf=4, sync_batch_norm=sync) for s in SIZES])
    trainer = StackGanV2Trainer(g, d, image_sizes=SIZES, z_dim=Z, seed=5)
    trainer.compile(optimizer(), optimizer(), jit_compile=False)
    return trainer


@pytest.mark.parametrize("base, stages", [(16, 3), (32, 2), (64, 1)])
def test_per_scale_output_shapes_and_config(base, stages, rng):
    g = MultiStageGenerator(base, stages, Z, C, ngf=4, num_residual=1)
    inputs = (rng.normal(size=(2, Z)).astype("float32"), rng.normal(size=(2, D)).astype("float32"),
              rng.normal(size=(2, C)).astype("float32"))
    images, mu, _ = gan_checks.check_config_round_trip(g, inputs)
    assert [tuple(x.shape) for x in images] == [(2, base * 2 ** i, base * 2 ** i, 3) for i in range(stages)]
    assert g.image_sizes == tuple(base * 2 ** i for i in range(stages))
    assert mu.shape == (2, C)
    for x in images:
        d = StageDiscriminator(x.shape[1], ndf=4)
        cond, uncond = gan_checks.check_config_round_trip(d, (np.asarray(x), np.asarray(mu)))
        assert cond.shape == uncond.shape == (2,)


def test_multi_scale_discriminator_round_trip(rng):
    d = MultiScaleDiscriminator([StageDiscriminator(s, ndf=4, name=f"d{s}") for s in SIZES])
    images = [rng.normal(size=(2, s, s, 3)).astype("float32") for s in SIZES]
    out = gan_checks.check_config_round_trip(d, (images, rng.normal(size=(2, C)).astype("float32")))
    assert len(out) == 2


def test_train_step_moves_g_and_every_d(rng):
    trainer = make_trainer()
    batch = make_batch(rng)
    trainer.build_from_batch({k: keras.ops.convert_to_tensor(v) for k, v in batch.items()})
    before = [gan_checks.weights_of(d.trainable_variables) for d in trainer.discriminator.discriminators]
    logs = gan_checks.check_train_step(trainer, batch)
    assert set(logs) >= {"d_loss", "g_loss", "d_loss_16", "d_loss_32", "g_loss_16", "g_loss_32", "kl"}
    for d, b in zip(trainer.discriminator.discriminators, before):
        assert gan_checks.max_change(b, gan_checks.weights_of(d.trainable_variables)) > 0
    images = trainer.generate({"embedding": batch["embedding"][:2]}, np.zeros((2, Z), "float32"), all_scales=True)
    assert [tuple(x.shape) for x in images] == [(2, 16, 16, 3), (2, 32, 32, 3)]
    assert trainer.generate({"embedding": batch["embedding"][:2]}, np.zeros((2, Z + C), "float32")).shape == \
        (2, 32, 32, 3)


def test_discriminator_loss_uses_ca_means_and_jcu_per_scale_and_encodes_the_reals_once(rng):
    from t2izoo.losses.jcu import jcu_discriminator_loss

    trainer = make_trainer()
    batch = {k: keras.ops.convert_to_tensor(v) for k, v in make_batch(rng, noise=True).items()}
    trainer.build_from_batch(batch)
    d_vars = trainer.discriminator_variables()
    with tf.GradientTape(persistent=True) as tape:
        loss, terms = trainer.discriminator_loss(batch, batch["noise"])
        # By hand, three full passes per scale: D_i on (x_i, mu), (x_i, mu of the wrong caption),
        # (G_i(z, c), mu). The trainer encodes x_i once: the same loss and D gradients.
        fakes, mu, _ = trainer.generator((batch["noise"][:, :Z], batch["embedding"], batch["noise"][:, Z:]),
                                         training=True)
        fakes, mu = [tf.stop_gradient(f) for f in fakes], tf.stop_gradient(mu)
        wrong_mu = trainer.generator.ca(batch["wrong_embedding"])[1]
        want = 0.0
        for i, s in enumerate(SIZES):
            d = trainer.discriminator.discriminators[i]
            x = batch[f"image_{s}"]
            term, _ = jcu_discriminator_loss(d((x, mu), training=True), d((x, wrong_mu), training=True),
                                             d((fakes[i], mu), training=True))
            np.testing.assert_allclose(float(terms[f"d_loss_{s}"]), float(term), rtol=1e-5)
            want += term
    np.testing.assert_allclose(float(loss), float(want), rtol=1e-5)
    got_grads, want_grads = tape.gradient(loss, d_vars), tape.gradient(want, d_vars)
    for a, b in zip(got_grads, want_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)  # summation order
    assert max(float(tf.reduce_max(tf.abs(g))) for g in got_grads) > 0


def test_config_round_trip_and_presets(tmp_path):
    for config in STACKGAN_V2_PRESETS.values():
        config_lib.save_config(config, str(tmp_path))
        assert config_lib.load_config(StackGanV2Config, str(tmp_path)) == config
    cub = STACKGAN_V2_PRESETS["cub"]
    assert cub.image_sizes == (64, 128, 256)
    assert (cub.batch_size, cub.ngf, cub.ndf, cub.condition_dim, cub.num_residual, cub.kl_weight,
            cub.uncond_weight, cub.ema_decay, cub.g_beta_2, cub.d_beta_2) == (24, 64, 64, 128, 2, 2.0, 1.0, 0.999, 0.999, 0.999)


def _conv(k, cin, cout):
    return k * k * cin * cout


def _bn(c):
    return 2 * c


def official_stackgan_v2_counts(gf=64, df=64, ef=128, z=100, t=1024):
    """Trainable parameters of hanzhanggit/StackGAN-v2's birds_3stages models (code/model.py:
    bias-free conv3x3/downBlocks, CA Linear with bias, INIT fc without bias, logit convs with bias)."""
    ngf = 16 * gf
    g = t * 4 * ef + 4 * ef + (z + ef) * ngf * 16 * 2 + _bn(ngf * 16 * 2)
    g += sum(_conv(3, ngf // 2 ** i, ngf // 2 ** i) + _bn(ngf // 2 ** i) for i in range(4))  # upBlocks
    for w in (gf, gf // 2):  # NEXT_STAGE_G(w)
        g += _conv(3, w + ef, 2 * w) + _bn(2 * w) + 2 * (_conv(3, w, 2 * w) + _bn(2 * w) + _conv(3, w, w) + _bn(w))
        g += _conv(3, w, w) + _bn(w)
    g += sum(_conv(3, w, 3) for w in (gf, gf // 2, gf // 4))
    enc = _conv(4, 3, df) + sum(_conv(4, df * 2 ** i, df * 2 ** (i + 1)) + _bn(df * 2 ** (i + 1)) for i in range(3))
    heads = 2 * (_conv(4, 8 * df, 1) + 1) + _conv(3, 8 * df + ef, 8 * df) + _bn(8 * df)
    d64 = enc + heads
    d128 = d64 + _conv(4, 8 * df, 16 * df) + _bn(16 * df) + _conv(3, 16 * df, 8 * df) + _bn(8 * df)
    d256 = (d64 + _conv(4, 8 * df, 16 * df) + _bn(16 * df) + _conv(4, 16 * df, 32 * df) + _bn(32 * df)
            + _conv(3, 32 * df, 16 * df) + _bn(16 * df) + _conv(3, 16 * df, 8 * df) + _bn(8 * df))
    return g, d64, d128, d256


def test_cub_parameter_counts_are_pinned_and_match_the_official_architecture():
    g, d = build_models(STACKGAN_V2_PRESETS["cub"])
    g((np.zeros((1, 100), "float32"), np.zeros((1, 1024), "float32")))
    d(([np.zeros((1, s, s, 3), "float32") for s in (64, 128, 256)], np.zeros((1, 128), "float32")))
    ours = (count(g),) + tuple(count(x) for x in d.discriminators)
    assert ours == (21_239_696, 5_723_906, 18_834_178, 71_269_122)
    assert ours == official_stackgan_v2_counts()


def test_mirrored_step_equals_single_device(rng):
    # SGD, not Adam: summed replica gradients match to float precision, but Adam's first step is
    # ~lr * sign(g), which that noise flips for near-zero elements (a 1e-4 = lr/2 flake under load).
    gan_checks.check_mirrored_matches_single(
        lambda: make_trainer(sync=True, optimizer=lambda: keras.optimizers.SGD(1e-3)), make_batch(rng, noise=True))


def test_official_weights_init_is_orthogonal_and_the_paper_presets_default_to_it(rng):
    """StackGAN-v2's `weights_init`: conv and linear kernels orthogonal (gain 1), linear biases 0;
    the default of the paper presets (`shapes` keeps the N(0, 0.02) its figures were measured with)."""
    assert STACKGAN_V2_PRESETS["cub"].weights_init == "orthogonal"
    assert STACKGAN_V2_PRESETS["shapes"].weights_init == "normal"
    g, d = (MultiStageGenerator(base_size=16, num_stages=2, condition_dim=C, ngf=4, num_residual=1),
            MultiScaleDiscriminator([StageDiscriminator(s, 4) for s in SIZES]))
    trainer = StackGanV2Trainer(g, d, image_sizes=SIZES, weights_init="orthogonal", seed=5)
    trainer.compile(g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    trainer.build_from_batch({k: keras.ops.convert_to_tensor(v) for k, v in make_batch(rng).items()})
    kernels = [layer.kernel for model in (g, d) for layer in model._flatten_layers()
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(kernels) > 20
    for kernel in kernels:
        m = np.asarray(kernel).reshape(-1, kernel.shape[-1])  # (k*k*in, out)
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(g.ca.dense.bias), 0.0)
    # The EMA copy starts from the re-drawn weights, not the built ones.
    for ema, live in zip(trainer.ema_weights, g.trainable_variables):
        np.testing.assert_array_equal(np.asarray(ema), np.asarray(live))
    with pytest.raises(ConfigError, match="weights_init"):
        config_lib.apply_overrides(STACKGAN_V2_PRESETS["cub"], ["weights_init=xavier"])


def test_one_generator_pass_per_step_equals_two_passes(rng):
    gan_checks.check_one_pass_matches_two_passes(
        lambda: make_trainer(optimizer=lambda: keras.optimizers.SGD(1e-2)), make_batch(rng, noise=True))
