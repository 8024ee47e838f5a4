"""SD-GAN: contrastive loss, SCBN, Siamese weight sharing, trainer, presets, pipeline pairs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.encoders.bilstm import BiLstmTextEncoder
from t2izoo.encoders.damsm_image import DamsmSmallCnnEncoder
from t2izoo.layers.multi_scale_discriminator import MultiScaleDiscriminator
from t2izoo.layers.scbn import SemanticConditionedBatchNorm
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.losses.contrastive import contrastive_loss
from t2izoo.models.sdgan.config import SDGAN_PRESETS, SdGanConfig
from t2izoo.models.sdgan.generator import SdGanGenerator
from t2izoo.models.sdgan.trainer import SdGanTrainer
from t2izoo.testing import gan_checks

B, T, VOCAB, Z, C = 4, 6, 30, 100, 8
SIZES = (16, 32)


def count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


# -- contrastive loss ---------------------------------------------------------------------------
@pytest.mark.parametrize("margin,alpha", [(1.0, 0.1), (0.5, 0.0), (3.0, 0.8)])
def test_contrastive_loss_matches_its_formula(rng, margin, alpha):
    a = rng.normal(size=(6, 5)).astype("float32") * 0.4
    b = a + rng.normal(size=(6, 5)).astype("float32") * np.array([0.01, 0.1, 0.3, 0.01, 0.5, 2.0])[:, None]
    y = np.array([1, 1, 1, 0, 0, 0], "float32")
    d = np.linalg.norm(a.astype(np.float64) - b, axis=1)
    want = np.sum(y * np.maximum(d, alpha) ** 2 + (1 - y) * np.maximum(margin - d, 0) ** 2) / (2 * len(y))
    np.testing.assert_allclose(float(contrastive_loss(a, b, y, margin, alpha)), want, rtol=1e-5)


def test_contrastive_loss_cases():
    v = np.array([[0.0, 0.0]], "float32")
    far = np.array([[3.0, 4.0]], "float32")  # d = 5
    near = np.array([[0.03, 0.04]], "float32")  # d = 0.05 < alpha
    # same image: d^2 / 2 above alpha, alpha^2 / 2 below it (no pull to identical outputs)
    assert float(contrastive_loss(v, far, [1.0], 1.0, 0.1)) == pytest.approx(25.0 / 2)
    assert float(contrastive_loss(v, near, [1.0], 1.0, 0.1)) == pytest.approx(0.01 / 2)
    # different images: zero beyond the margin, (eps - d)^2 / 2 inside it
    assert float(contrastive_loss(v, far, [0.0], 1.0, 0.1)) == 0.0
    assert float(contrastive_loss(v, near, [0.0], 1.0, 0.1)) == pytest.approx(0.95 ** 2 / 2)
    # identical features: finite gradients
    x = tf.Variable(v)
    with tf.GradientTape() as tape:
        loss = contrastive_loss(x, v, [0.0])
    assert np.all(np.isfinite(tape.gradient(loss, x).numpy()))


# -- SCBN ---------------------------------------------------------------------------------------
def scbn_inputs(rng, b=3):
    lengths = np.array([4, 1, 3][:b])
    return (rng.normal(size=(b, 4, 4, 6)).astype("float32") * 2 + 1, rng.normal(size=(b, 10)).astype("float32"),
            rng.normal(size=(b, 4, 10)).astype("float32"), np.arange(4)[None] < lengths[:, None])


@pytest.mark.parametrize("sentence,words", [(True, True), (True, False), (False, True), (False, False)])
def test_scbn_is_plain_batch_norm_at_zero_condition_and_conditioned_otherwise(rng, sentence, words):
    inputs = scbn_inputs(rng)
    scbn = SemanticConditionedBatchNorm(sentence, words, hidden_dim=8)
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    out = scbn(inputs, training=True).numpy()  # branch outputs start at zero
    bn.build(inputs[0].shape)
    bn.gamma.assign(scbn.gamma.numpy())
    np.testing.assert_allclose(out, bn(inputs[0], training=True).numpy(), rtol=1e-5, atol=1e-5)
    x = inputs[0]
    x_hat = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)
    np.testing.assert_allclose(out, scbn.gamma.numpy() * x_hat, rtol=1e-4, atol=1e-4)
    if not (sentence or words):
        return
    for layer in [getattr(scbn, n) for n, on in (("sentence_out", sentence), ("word_out", words)) if on]:
        layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype("float32"))
    conditioned = scbn(inputs, training=True).numpy()
    assert np.abs(conditioned - out).mean() > 0.1
    other = (inputs[0], inputs[1][::-1], inputs[2][::-1], inputs[3][::-1])  # other captions, same x
    assert np.abs(scbn(other, training=True).numpy() - conditioned).mean() > 0.01
    gamma_c, beta_c = (np.asarray(t) for t in scbn.condition(*inputs))
    np.testing.assert_allclose(conditioned, (scbn.gamma.numpy() + gamma_c) * x_hat + beta_c, rtol=1e-3, atol=1e-3)
    if words:  # the word branch is spatial
        assert gamma_c.shape == (3, 4, 4, 6) and np.std(gamma_c[0], axis=(0, 1)).max() > 0


# -- model --------------------------------------------------------------------------------------
def make_generator(sync=False, scbn=True):
    return SdGanGenerator(base_size=SIZES[0], num_stages=len(SIZES), z_dim=Z, condition_dim=C, ngf=4,
                          num_residual=1, sync_batch_norm=sync, scbn_sentence=scbn, scbn_words=scbn, scbn_hidden=8)


def test_generator_config_round_trip_and_scbn_switch(rng):
    lengths = np.array([6, 2, 4, 1])
    inputs = (rng.normal(size=(B, Z)).astype("float32"), rng.normal(size=(B, 16)).astype("float32"),
              rng.normal(size=(B, T, 16)).astype("float32"), np.arange(T)[None] < lengths[:, None],
              rng.normal(size=(B, C)).astype("float32"))
    images, maps, _, _ = gan_checks.check_config_round_trip(make_generator(), inputs)
    assert [x.shape for x in images] == [(B, s, s, 3) for s in SIZES] and maps[0].shape == (B, 16, 16, T)
    plain = make_generator(scbn=False)
    plain(inputs)
    with_scbn = make_generator()
    with_scbn(inputs)
    assert len(with_scbn.scbns) == 2 and not plain.scbns
    assert count(with_scbn.trainable_variables) > count(plain.trainable_variables)


def make_trainer(sync=False, siamese=True, optimizer=None, contrastive_weight=1.0):
    text = BiLstmTextEncoder(VOCAB, 8, 8)
    image = DamsmSmallCnnEncoder(16, (8, 8), (8,))
    d = MultiScaleDiscriminator([StageDiscriminator(s, 4, sync_batch_norm=sync) for s in SIZES])
    trainer = SdGanTrainer(make_generator(sync), d, text, image, siamese=siamese, image_sizes=SIZES,
                           contrastive_weight=contrastive_weight, seed=3)
    optimizer = optimizer or (lambda: keras.optimizers.Adam(2e-4, beta_1=0.5))
    trainer.compile(optimizer(), optimizer(), jit_compile=False)
    return trainer


def make_batch(rng, noise=False):
    ids = lambda n: (rng.integers(2, VOCAB, (B, T)) * (np.arange(T)[None] < n[:, None])).astype("int32")  # noqa: E731
    batch = {"index": np.arange(B, dtype=np.int32), "pair_same": np.array([1, 0, 1, 0], "float32")}
    for prefix in ("", "pair_"):
        lengths, wrong_lengths = rng.integers(1, T + 1, B), rng.integers(1, T + 1, B)
        batch.update({prefix + "tokens": ids(lengths), prefix + "lengths": lengths.astype("int32"),
                      prefix + "wrong_tokens": ids(wrong_lengths), prefix + "wrong_lengths": wrong_lengths.astype("int32"),
                      prefix + "class_ids": np.array([0, 1, 0, 2], np.int32)})
        for s in SIZES:
            batch[f"{prefix}image_{s}"] = rng.uniform(-1, 1, (B, s, s, 3)).astype("float32")
    if noise:
        batch["noise"] = rng.normal(size=(B, Z + C)).astype("float32")
    return batch


def test_siamese_branches_share_every_weight_and_the_loss_is_their_mean_plus_lc(rng):
    trainer = make_trainer(contrastive_weight=2.0)
    batch = {k: tf.constant(v) for k, v in make_batch(rng).items()}
    trainer.build_from_batch(batch)
    noise = trainer.sample_noise(batch)
    # one generator and one discriminator: both branches run the same variables
    g_vars, d_vars = trainer.generator.trainable_variables, trainer.discriminator.trainable_variables
    assert len({id(v) for v in g_vars}) == len(g_vars)
    with tf.GradientTape(persistent=True) as tape:
        total, terms = trainer.generator_loss(batch, noise)
        pair = {k[5:]: v for k, v in batch.items() if k.startswith("pair_")}
        loss_a, _ = SdGanTrainer.__mro__[1].generator_loss(trainer, batch, noise)
        loss_b, _ = SdGanTrainer.__mro__[1].generator_loss(trainer, pair, noise)
    np.testing.assert_allclose(float(total), float((loss_a + loss_b) / 2 + 2.0 * terms["contrastive"]), rtol=1e-5)
    grads_b = tape.gradient(loss_b, g_vars)
    grads_a = tape.gradient(loss_a, g_vars)
    # every generator weight gets a gradient from the second branch as from the first
    assert all(g is not None for g in grads_a) and all(g is not None for g in grads_b)
    assert sum(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads_b) == sum(
        float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads_a)
    assert float(terms["contrastive"]) > 0
    d_total, _ = trainer.discriminator_loss(batch, noise)
    d_a, _ = SdGanTrainer.__mro__[1].discriminator_loss(trainer, batch, noise)
    d_b, _ = SdGanTrainer.__mro__[1].discriminator_loss(trainer, pair, noise)
    np.testing.assert_allclose(float(d_total), float((d_a + d_b) / 2), rtol=1e-5)
    assert len(d_vars) == sum(len(d.trainable_variables) for d in trainer.discriminator.discriminators)


def test_train_step_moves_g_and_d_and_reports_the_contrastive_term(rng):
    trainer = make_trainer()
    logs = gan_checks.check_train_step(trainer, make_batch(rng))
    assert set(logs) >= {"d_loss", "g_loss", "damsm", "kl", "contrastive"}
    assert logs["contrastive"] > 0
    no_siamese = make_trainer(siamese=False)
    logs = gan_checks.check_train_step(no_siamese, make_batch(rng))
    assert "contrastive" not in logs


def test_mirrored_step_equals_single_device(rng):
    batch = make_batch(rng, noise=True)
    sgd = lambda: keras.optimizers.SGD(1e-3)  # noqa: E731

    def make():
        keras.utils.set_random_seed(7)
        return make_trainer(sync=True, optimizer=sgd)

    gan_checks.check_mirrored_matches_single(make, batch)


# -- config -------------------------------------------------------------------------------------
def test_config_presets_round_trip_and_validate():
    for config in SDGAN_PRESETS.values():
        assert config_lib.from_dict(SdGanConfig, config_lib.to_dict(config)) == config
    cub = SDGAN_PRESETS["cub"]
    assert (cub.ngf, cub.ndf, cub.num_residual, cub.batch_size, cub.damsm_weight) == (32, 64, 2, 20, 5.0)
    assert (cub.contrastive_margin, cub.contrastive_alpha, cub.siamese, cub.scbn_sentence) == (1.0, 0.1, True, True)
    ablation = config_lib.apply_overrides(cub, ["siamese=false", "scbn_words=false", "same_pair_fraction=0.25"])
    assert (ablation.siamese, ablation.scbn_words, ablation.same_pair_fraction) == (False, False, 0.25)
    from t2izoo.errors import ConfigError

    with pytest.raises(ConfigError, match="same_pair_fraction"):
        config_lib.apply_overrides(cub, ["same_pair_fraction=1.5"])


def test_cub_parameter_count_is_pinned():
    config = SDGAN_PRESETS["cub"]
    g = SdGanGenerator(config.base_size, config.num_stages, config.z_dim, config.condition_dim, config.ngf,
                       config.num_residual, scbn_hidden=config.scbn_hidden)
    g((np.zeros((1, 100), "float32"), np.zeros((1, 256), "float32"), np.zeros((1, 4, 256), "float32"),
       np.ones((1, 4), bool)))
    # AttnGAN's G (7,084,592) + 3 SCBNs at ngf = 32 channels, each: gamma, beta (64), sentence MLP
    # 256 -> 256 -> 64 (65,792 + 16,448), word projection 256 -> 32 (8,192), 1x1 conv 32 -> 64 (2,112).
    per_scbn = 64 + (256 * 256 + 256) + (256 * 64 + 64) + 256 * 32 + (32 * 64 + 64)
    assert count(g.trainable_variables) == 7_084_592 + 3 * per_scbn == 7_362_416


def test_one_generator_pass_per_branch_and_step_equals_two_passes(rng):
    def make():
        keras.utils.set_random_seed(7)
        return make_trainer(optimizer=lambda: keras.optimizers.SGD(1e-2))

    one, _ = gan_checks.check_one_pass_matches_two_passes(make, make_batch(rng, noise=True))
    assert one._step_passes is None  # the step's cache does not outlive it
