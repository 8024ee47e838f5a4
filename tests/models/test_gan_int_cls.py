import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder
from t2izoo.models.gan_int_cls.config import GAN_INT_CLS_PRESETS
from t2izoo.models.gan_int_cls.discriminator import MatchingAwareDiscriminator
from t2izoo.models.gan_int_cls.generator import DCGANGenerator
from t2izoo.models.gan_int_cls.trainer import GanIntClsTrainer
from t2izoo.testing import gan_checks
from t2izoo.trainers import optimizers

B, S, D, Z = 8, 16, 12, 100


def make_batch(rng, noise=False):
    return gan_checks.embedding_batch(rng, B, (S,), D, Z if noise else None)


def make_trainer(sync=False, optimizer=lambda: keras.optimizers.Adam(2e-4, beta_1=0.5), jit_compile=False,
                 text_statistics=None):
    g = DCGANGenerator(S, Z, text_proj_dim=8, ngf=4, sync_batch_norm=sync,
                       standardize_text=text_statistics is not None)
    if text_statistics is not None:  # as the recipe does: statistics set before the first step
        g.text_standardization.set_statistics(text_statistics)
    d = MatchingAwareDiscriminator(S, text_proj_dim=8, ndf=4, sync_batch_norm=sync)
    trainer = GanIntClsTrainer(g, d, image_size=S, seed=3)
    trainer.compile(optimizer(), optimizer(), jit_compile=jit_compile)
    return trainer


@pytest.mark.parametrize("size", [16, 32, 64])
def test_generator_and_discriminator_shapes_and_config(size, rng):
    g = DCGANGenerator(size, Z, text_proj_dim=8, ngf=4)
    d = MatchingAwareDiscriminator(size, text_proj_dim=8, ndf=4)
    text = rng.normal(size=(3, D)).astype("float32")
    images = gan_checks.check_config_round_trip(g, (rng.normal(size=(3, Z)).astype("float32"), text))
    assert images.shape == (3, size, size, 3)
    assert float(np.max(np.abs(images))) <= 1.0
    logits = gan_checks.check_config_round_trip(d, (np.asarray(images), text))
    assert logits.shape == (3,)


def test_projection_discriminator_adds_a_text_image_inner_product(rng):
    # Non-paper option: logit = unconditional(x) + <h(x), V t>; V starts at zero (text-blind).
    d = MatchingAwareDiscriminator(S, text_proj_dim=8, ndf=4, text_conditioning="projection")
    images = rng.uniform(-1, 1, (3, S, S, 3)).astype("float32")
    text_a, text_b = rng.normal(size=(2, 3, D)).astype("float32")
    base = np.asarray(gan_checks.check_config_round_trip(d, (images, text_a)))
    np.testing.assert_allclose(np.asarray(d((images, text_b))), base, atol=1e-6)
    # Training mode: BN brings h to unit scale (at init its inference-mode values are ~1e-3).
    blind = np.asarray(d((images, text_a), training=True))
    kernel = rng.normal(0, 0.02, size=d.text_embedding.kernel.shape).astype("float32")
    shifts = []
    for scale in (1.0, 2.0):  # the text term is linear in V, and nothing else depends on V
        d.text_embedding.kernel.assign(scale * kernel)
        shifts.append(np.asarray(d((images, text_a), training=True)) - blind)
    assert np.min(np.abs(shifts[0])) > 1e-4, shifts[0]
    np.testing.assert_allclose(shifts[1], 2 * shifts[0], rtol=1e-3, atol=1e-5)
    assert not np.allclose(np.asarray(d((images, text_b))), np.asarray(d((images, text_a))))
    with pytest.raises(ValueError, match="text_conditioning"):
        MatchingAwareDiscriminator(S, text_conditioning="sum")


def test_projection_discriminator_trains_its_text_embedding(rng):
    g = DCGANGenerator(S, Z, text_proj_dim=8, ngf=4)
    d = MatchingAwareDiscriminator(S, text_proj_dim=8, ndf=4, text_conditioning="projection")
    trainer = GanIntClsTrainer(g, d, image_size=S, seed=3)
    trainer.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    batch = {k: tf.constant(v) for k, v in make_batch(rng).items()}
    trainer.build_from_batch(batch)
    trainer.fit(tf.data.Dataset.from_tensors(batch).repeat(2), epochs=1, verbose=0)
    assert float(np.max(np.abs(np.asarray(d.text_embedding.kernel)))) > 1e-5


def test_generator_rejects_bad_size():
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(48)


def test_paper_widths_of_the_cub_generator():
    # icml2016 netG for 64 px, ngf=128: 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3.
    g = DCGANGenerator(64, 100, 128, 128)
    g((np.zeros((1, 100), "float32"), np.zeros((1, 1024), "float32")))
    widths = [up.filters for _, up, _ in g.blocks]
    assert g.initial.filters == 1024 and widths == [512, 256, 128]
    assert g.text_projection.units == 128


def test_train_step_moves_g_and_d_and_freezes_d_in_g_update(rng):
    trainer = make_trainer()
    logs = gan_checks.check_train_step(trainer, make_batch(rng))
    assert set(logs) >= {"d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_fake", "g_interp"}


def test_ema_generator_follows_the_generator_slowly(rng):
    trainer = make_trainer()
    batch = {k: np.asarray(v) for k, v in make_batch(rng).items()}
    gan_checks.check_train_step(trainer, batch)
    live = trainer.generator.trainable_variables[0].numpy()
    ema = trainer.ema_weights[0].numpy()
    assert not np.allclose(live, ema)  # EMA lags behind
    noise = rng.normal(size=(2, Z)).astype("float32")
    images = trainer.generate({"embedding": batch["embedding"][:2]}, noise).numpy()
    assert images.shape == (2, S, S, 3)
    np.testing.assert_allclose(trainer.ema_generator.trainable_variables[0].numpy(), ema)


def test_char_cnn_rnn_shapes_and_config(rng):
    enc = CharCnnRnnEncoder(conv_channels=(8, 8, 8), rnn_dim=8, embedding_dim=16)
    chars = rng.integers(0, 70, (2, 201)).astype("int32")
    out = gan_checks.check_config_round_trip(enc, chars)
    assert out.shape == (2, 16)


@pytest.mark.slow
@pytest.mark.parametrize("standardize_text", [False, True])
def test_mirrored_step_equals_single_device(rng, standardize_text):
    # SGD, not Adam: summed replica gradients match to float precision, but Adam's first step is
    # ~lr * sign(g), which that noise flips for near-zero elements (a 1e-4 = lr/2 flake under load).
    batch = make_batch(rng, noise=True)
    stats = rng.normal(0.5, 0.2, size=(64, D)).astype("float32") if standardize_text else None
    single, mirrored = gan_checks.check_mirrored_matches_single(
        lambda: make_trainer(sync=True, optimizer=lambda: keras.optimizers.SGD(1e-3), text_statistics=stats), batch)
    if standardize_text:  # the fixed statistics are on every replica's copy and untouched by the step
        want = stats.astype(np.float64).mean(0)
        np.testing.assert_allclose(np.asarray(single.generator.text_standardization.mean), want, rtol=1e-5)
        mean = mirrored.generator.text_standardization.mean.value  # the tf.distribute MirroredVariable
        assert len(mean.values) == 2
        for value in mean.values:
            np.testing.assert_allclose(value.numpy(), want, rtol=1e-5)


def _flat(variables):
    return np.concatenate([np.ravel(v) for v in gan_checks.weights_of(variables)])


def test_xla_step_equals_the_plain_step(rng):
    # The recipes XLA-compile the train step (`jit_compile`): it must make the same update.
    # SGD: Adam's first steps are ~lr * sign(g), which XLA's reordered sums flip for near-zero g.
    # Each step starts from the same weights, and the *updates* are compared as a whole: a ReLU
    # input within rounding (~1e-8) of zero flips its gradient, so a few elements can differ by
    # 1e-4 on some CPUs (seen twice in CI, never here), while the forward pass is continuous.
    # A wrong compiled step (a missed update, other noise, stale state) moves the bulk instead.
    keras.utils.set_random_seed(7)
    batch = {k: tf.constant(v) for k, v in make_batch(rng, noise=True).items()}
    sgd = lambda: keras.optimizers.SGD(1e-2)  # noqa: E731
    plain, xla = make_trainer(optimizer=sgd), make_trainer(optimizer=sgd, jit_compile=True)
    for t in (plain, xla):
        t.build_from_batch(batch)
    data = tf.data.Dataset.from_tensors(batch)
    for step in range(2):  # the second step also checks the state the first one leaves (RNG, step)
        for a, b in zip(xla.weights, plain.weights):
            a.assign(b.numpy())
        start = {name: _flat(getattr(plain, name)()) for name in ("generator_variables", "discriminator_variables")}
        plain_logs = plain.fit(data, epochs=1, verbose=0).history
        xla_logs = xla.fit(data, epochs=1, verbose=0).history
        # D's losses come from the shared starting weights: any difference is rounding alone.
        np.testing.assert_allclose(xla_logs["d_loss"], plain_logs["d_loss"], rtol=1e-5)
        for name, before in start.items():
            want = _flat(getattr(plain, name)()) - before
            got = _flat(getattr(xla, name)()) - before
            assert np.linalg.norm(want) > 1e-3, f"step {step}, {name}: the plain step did not move"
            rel = np.linalg.norm(got - want) / np.linalg.norm(want)
            off = np.abs(got - want) > 1e-5 + 1e-3 * np.abs(want)
            assert rel < 1e-3 and off.mean() < 1e-3, (
                f"step {step}, {name}: XLA update differs from the plain one by {rel:.2e} of its norm, "
                f"{int(off.sum())} of {off.size} elements off (max {np.abs(got - want).max():.2e})")
    for t in (plain, xla):
        assert int(t.g_optimizer.iterations.numpy()) == int(t.d_optimizer.iterations.numpy()) == 2


def test_recipes_turn_xla_off_under_a_multi_replica_strategy():
    config = GAN_INT_CLS_PRESETS["shapes"]
    assert config.jit_compile and optimizers.jit_compile(config)
    assert not optimizers.jit_compile(dataclasses.replace(config, jit_compile=False))
    with gan_checks.mirrored_strategy(("/cpu:0", "/cpu:1")).scope():
        assert not optimizers.jit_compile(config)


def test_embedding_standardization_uses_fixed_statistics_of_non_padding_rows(rng):
    from t2izoo.layers.embedding_standardization import EmbeddingStandardization
    values = rng.normal(3.0, 0.1, size=(50, 10, D)).astype("float32")
    values[:, 7:] = 0.0  # padding caption slots
    layer = EmbeddingStandardization()
    x = rng.normal(size=(4, D)).astype("float32")
    np.testing.assert_allclose(np.asarray(layer(x)), x)  # identity until statistics are set
    layer.set_statistics(values)
    real = values[:, :7].reshape(-1, D)
    want = (x - real.mean(0)) / real.std(0)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-4, atol=1e-4)
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 2
    with pytest.raises(ValueError, match="dims"):
        layer.set_statistics(np.ones((5, D + 1), "float32"))


def test_generator_with_standardized_text_round_trips_and_separates_close_embeddings(rng):
    g = DCGANGenerator(S, Z, text_proj_dim=8, ngf=4, standardize_text=True)
    noise = np.repeat(rng.normal(size=(1, Z)).astype("float32"), 3, axis=0)  # rows differ only in text
    inputs = (noise, rng.normal(5.0, 0.01, size=(3, D)).astype("float32"))
    spread = lambda images: float(np.std(np.asarray(images), axis=0).mean())  # noqa: E731
    before = spread(g(inputs, training=True))
    g.text_standardization.set_statistics(rng.normal(5.0, 0.01, size=(100, D)).astype("float32"))
    after = gan_checks.check_config_round_trip(g, inputs)
    # Embeddings at 5 +- 0.01 look alike to the raw projection; standardised, they differ at unit scale.
    assert spread(g(inputs, training=True)) > 5 * before
    assert after.shape == (3, S, S, 3) and g.get_config()["standardize_text"] is True
