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
    batch = gan_checks.embedding_batch(rng, B, (S,), D, Z if noise else None)
    if noise:  # the G step's own noise (icml2016 draws it anew)
        batch["g_noise"] = rng.normal(size=(B, Z)).astype("float32")
    return batch


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


def test_mirrored_step_equals_single_device(rng):
    # With text standardization on: the same trainer step and generator as with it off, plus the
    # standardization layer, whose fixed statistics must sit on every replica (one run covers both;
    # a second run with it off exercised nothing else).
    # SGD, not Adam: summed replica gradients match to float precision, but Adam's first step is
    # ~lr * sign(g), which that noise flips for near-zero elements (a 1e-4 = lr/2 flake under load).
    batch = make_batch(rng, noise=True)
    stats = rng.normal(0.5, 0.2, size=(64, D)).astype("float32")
    single, mirrored = gan_checks.check_mirrored_matches_single(
        lambda: make_trainer(sync=True, optimizer=lambda: keras.optimizers.SGD(1e-3), text_statistics=stats), batch)
    # the fixed statistics are on every replica's copy and untouched by the step
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
    assert not GAN_INT_CLS_PRESETS["shapes"].jit_compile  # the GAN recipes' default: the plain graph
    config = dataclasses.replace(GAN_INT_CLS_PRESETS["shapes"], jit_compile=True)
    assert optimizers.jit_compile(config)
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


# -- icml2016 main_cls_int.lua faithfulness ---------------------------------------------------------

def _lrelu(x):
    return keras.ops.leaky_relu(x, 0.2)


def _generator_by_hand(g, noise, text, relu_before_residual):
    """icml2016 netG written out layer by layer (inference mode): FullConv -> BN, then at 4x4 and
    8x8 the residual bottleneck (its ReLU after the sum), else a ReLU."""
    h = keras.ops.concatenate([noise, _lrelu(g.text_projection(text))], axis=-1)[:, None, None, :]
    h = g.initial_norm(g.initial(h))
    for i, (res, up, norm) in enumerate(g.blocks):
        if res is not None:
            h = res(keras.ops.relu(h) if relu_before_residual else h)
        else:
            h = keras.ops.relu(h)
        h = norm(up(h))
    return keras.ops.tanh(g.to_rgb(keras.ops.relu(h)))


def _discriminator_by_hand(d, images, text, leaky_after_4ndf_8ndf):
    """icml2016 netD written out (inference mode): conv-LReLU, conv-BN-LReLU, conv-BN, conv-BN,
    residual bottleneck, [code, tiled text] -> 1x1 conv-BN-LReLU -> 4x4 conv."""
    (c0, _, _), (c1, n1, _), (c2, n2, _), (c3, n3, _) = d.downs
    h = n2(c2(_lrelu(n1(c1(_lrelu(c0(images)))))))
    h = n3(c3(_lrelu(h) if leaky_after_4ndf_8ndf else h))
    h = d.res(_lrelu(h) if leaky_after_4ndf_8ndf else h)
    t = _lrelu(d.text_norm(d.text_projection(text)))
    h = keras.ops.concatenate([h, keras.ops.tile(t[:, None, None, :], (1, 4, 4, 1))], axis=-1)
    return keras.ops.reshape(d.logit(_lrelu(d.joint_norm(d.joint(h)))), (-1,))


@pytest.mark.parametrize("official", [True, False])
def test_layers_follow_icml2016_netG_and_netD(rng, official):
    g = DCGANGenerator(64, Z, text_proj_dim=8, ngf=4, icml2016_activations=official, conv_bias=not official)
    d = MatchingAwareDiscriminator(64, text_proj_dim=8, ndf=4, icml2016_activations=official,
                                   conv_bias=not official)
    noise, text = rng.normal(size=(3, Z)).astype("float32"), rng.normal(size=(3, D)).astype("float32")
    images = np.asarray(gan_checks.check_config_round_trip(g, (noise, text)))
    gan_checks.check_config_round_trip(d, (images, text))
    norms = [n for n in g.layers + d.layers if isinstance(n, keras.layers.BatchNormalization)]
    for norm in norms + g.res_0.norms + g.res_1.norms + d.res.norms:  # means away from 0: activations matter
        norm.moving_mean.assign(rng.normal(0, 0.5, norm.moving_mean.shape).astype("float32"))
    images = np.asarray(g((noise, text)))
    scale = np.abs(images).max()  # N(0, 0.02) kernels: images of ~1e-2
    np.testing.assert_allclose(images, np.asarray(_generator_by_hand(g, noise, text, not official)),
                               atol=1e-5 * scale)
    other = np.asarray(_generator_by_hand(g, noise, text, official))  # the other layout differs
    # by 100x the match's tolerance or more: 2e-3-1e-2 of the scale over Keras seeds (the layouts
    # differ by a ReLU before each bottleneck, a no-op wherever its input is positive; 1e-2 failed in
    # CI-like runs at 0.0098)
    assert np.abs(images - other).max() > 1e-3 * scale
    logits = np.asarray(d((images, text)))
    scale = np.abs(logits).max()
    np.testing.assert_allclose(logits, np.asarray(_discriminator_by_hand(d, images, text, not official)),
                               atol=1e-5 * scale)
    assert np.abs(logits - np.asarray(_discriminator_by_hand(d, images, text, official))).max() > 1e-3 * scale
    # icml2016 zeroes every convolution bias before each step: none is created
    assert g.to_rgb.use_bias is d.logit.use_bias is (not official)
    assert all(not getattr(layer, "use_bias", False)
               for layer in g.layers + d.layers if isinstance(layer, (keras.layers.Conv2D,
                                                                       keras.layers.Conv2DTranspose))
               and layer not in (g.to_rgb, d.logit))


def _trainer(**kwargs):
    g = DCGANGenerator(S, Z, text_proj_dim=8, ngf=4)
    d = MatchingAwareDiscriminator(S, text_proj_dim=8, ndf=4)
    trainer = GanIntClsTrainer(g, d, image_size=S, seed=3, **kwargs)
    trainer.compile(keras.optimizers.SGD(1e-3), keras.optimizers.SGD(1e-3))
    return trainer


def _bce_mean(logits, target):
    p = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
    return float(np.mean(-np.log(p if target else 1 - p)))


@pytest.mark.parametrize("wrong_pair", ["wrong_image", "wrong_text"])
def test_discriminator_wrong_pair(rng, wrong_pair):
    trainer = _trainer(wrong_pair=wrong_pair)
    batch = {k: tf.constant(v) for k, v in make_batch(rng, noise=True).items()}
    trainer.build_from_batch(batch)
    _, terms = trainer.discriminator_loss(batch, batch["noise"])
    if wrong_pair == "wrong_image":  # icml2016: {image of another class, right text}
        pair = (batch[f"wrong_image_{S}"], batch["embedding"])
    else:
        pair = (batch[f"image_{S}"], batch["wrong_embedding"])
    want = _bce_mean(trainer.discriminator(pair, training=True), False)
    assert float(terms["d_wrong"]) == pytest.approx(want, rel=1e-5)


def test_generator_step_is_one_joint_pass_on_fresh_noise(rng):
    trainer = _trainer()
    batch = {k: tf.constant(v) for k, v in make_batch(rng, noise=False).items()}
    trainer.build_from_batch(batch)
    d_noise = trainer.sample_noise(batch)
    state = trainer.noise_rng.state.numpy()
    loss, terms = trainer.generator_loss(batch, d_noise)
    trainer.noise_rng.reset_from_seed(0)
    trainer.noise_rng.state.assign(state)
    # the G step's own draws: B fake rows, then B/2 interpolated rows
    noise = tf.concat([trainer.noise_rng.normal((B, Z)), trainer.noise_rng.normal((B // 2, Z))], axis=0)
    text = batch["embedding"]
    t_all = tf.concat([text, (text[0::2] + text[1::2]) / 2], axis=0)
    logits = np.asarray(trainer.discriminator((trainer.generator((noise, t_all), training=True), t_all),
                                              training=True), np.float64)
    bce = -np.log(1 / (1 + np.exp(-logits)))
    assert float(loss) == pytest.approx(bce.sum() / (B + B // 2), rel=1e-5)  # 2 : 1, one mean over 1.5 B rows
    assert float(terms["g_interp"]) == pytest.approx(bce[B:].mean(), rel=1e-5)
    # D's step's noise is not reused
    assert float(trainer.generator_loss(batch, d_noise)[0]) != pytest.approx(float(_trainer(
        g_fresh_noise=False).generator_loss(batch, d_noise)[0]), rel=1e-3)


def test_the_earlier_generator_step_separate_passes_on_the_d_steps_noise(rng):
    trainer = _trainer(interp_pass="separate", g_fresh_noise=False)
    batch = {k: tf.constant(v) for k, v in make_batch(rng, noise=True).items()}
    trainer.build_from_batch(batch)
    noise, text = batch["noise"], batch["embedding"]
    loss, _ = trainer.generator_loss(batch, noise)
    t_int = (text[0::2] + text[1::2]) / 2
    g, d = trainer.generator, trainer.discriminator
    fake = d((g((noise, text), training=True), text), training=True)
    interp = d((g((noise[0::2], t_int), training=True), t_int), training=True)
    assert float(loss) == pytest.approx(_bce_mean(fake, True) + _bce_mean(interp, True), rel=1e-5)
    with pytest.raises(ValueError, match="interp_pass"):
        _trainer(interp_pass="both")


def test_runs_from_before_the_icml2016_switches_keep_their_behaviour(tmp_path):
    import pathlib

    from t2izoo import configs as config_lib
    from t2izoo.errors import ConfigError
    from t2izoo.models.gan_int_cls.config import GanIntClsConfig
    from t2izoo.models.gan_int_cls.recipe import GanIntClsRecipe

    legacy = pathlib.Path(__file__).parents[1] / "fixtures" / "legacy_v0_1" / "gan_int_cls"
    old = config_lib.load_config(GanIntClsConfig, str(legacy))
    assert (old.icml2016_activations, old.conv_bias, old.interp_pass, old.g_fresh_noise, old.wrong_pair) == (
        False, True, "separate", False, "wrong_text")
    new = GAN_INT_CLS_PRESETS["shapes"]
    assert (new.icml2016_activations, new.conv_bias, new.interp_pass, new.g_fresh_noise, new.wrong_pair) == (
        True, False, "joint", True, "wrong_image")
    config_lib.save_config(new, str(tmp_path))  # a run written today loads as written
    assert config_lib.load_config(GanIntClsConfig, str(tmp_path)) == new
    recipe = GanIntClsRecipe()
    assert recipe.pipeline_options(new).wrong_images and not recipe.pipeline_options(old).wrong_images
    with pytest.raises(ConfigError, match="wrong_pair=wrong_text"):
        recipe.pipeline_options(dataclasses.replace(new, hard_negative_fraction=0.5))
    with pytest.raises(ConfigError, match="interp_pass"):
        recipe.pipeline_options(dataclasses.replace(new, interp_pass="twice"))


@pytest.mark.parametrize("g_fresh_noise", [True, False])
def test_one_generator_pass_per_step_equals_two_passes(g_fresh_noise, rng):
    # icml2016's fresh G-step noise keeps a second pass; with D's noise the pass is shared.
    def make():
        g = DCGANGenerator(S, Z, text_proj_dim=8, ngf=4)
        d = MatchingAwareDiscriminator(S, text_proj_dim=8, ndf=4)
        trainer = GanIntClsTrainer(g, d, image_size=S, seed=3, interp_pass="separate", g_fresh_noise=g_fresh_noise)
        trainer.compile(keras.optimizers.SGD(1e-2), keras.optimizers.SGD(1e-2), jit_compile=False)
        return trainer

    gan_checks.check_one_pass_matches_two_passes(make, make_batch(rng, noise=True))
