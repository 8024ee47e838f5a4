"""StackGAN: Stage-I / Stage-II models, trainer, frozen Stage-I, recipe pieces, pinned sizes."""

import keras
import numpy as np
import pytest

from t2izoo import configs as config_lib
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.models.stackgan.config import STACKGAN_PRESETS, STACKGAN_STAGE2_PRESETS, StackGanConfig
from t2izoo.models.stackgan.generator import StageIGenerator, StageIIGenerator
from t2izoo.models.stackgan.trainer import StackGanTrainer
from t2izoo.testing import gan_checks

B, LO, HI, D, Z, C = 8, 16, 32, 12, 100, 8


def count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def make_batch(rng, size, noise_width=None):
    return gan_checks.embedding_batch(rng, B, (size,), D, noise_width)


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def make_stage1(sync=False):
    return StageIGenerator(LO, Z, C, ngf=4, sync_batch_norm=sync)


def make_trainer(stage1=None, sync=False, optimizer=adam):
    if stage1 is None:
        g, size = make_stage1(sync), LO
    else:
        g, size = StageIIGenerator(HI, LO, C, ngf=8, num_residual=2, sync_batch_norm=sync), HI
    d = StageDiscriminator(size, ndf=4, variant="stackgan", text_proj_dim=C, sync_batch_norm=sync)
    trainer = StackGanTrainer(g, d, stage1_generator=stage1, image_size=size, z_dim=Z, seed=3)
    trainer.compile(optimizer(), optimizer(), jit_compile=False)
    return trainer


@pytest.mark.parametrize("size", [16, 32, 64])
def test_stage1_shapes_and_config(size, rng):
    g = StageIGenerator(size, Z, C, ngf=4)
    inputs = (rng.normal(size=(3, Z)).astype("float32"), rng.normal(size=(3, D)).astype("float32"),
              rng.normal(size=(3, C)).astype("float32"))
    images, mu, log_sigma = gan_checks.check_config_round_trip(g, inputs)
    assert images.shape == (3, size, size, 3) and mu.shape == log_sigma.shape == (3, C)
    assert float(np.max(np.abs(images))) <= 1.0
    d = StageDiscriminator(size, ndf=4, variant="stackgan", text_proj_dim=C)
    logits = gan_checks.check_config_round_trip(d, (np.asarray(images), inputs[1]))
    assert logits.shape == (3,)


@pytest.mark.parametrize("low, high", [(16, 32), (16, 64), (32, 128)])
def test_stage2_shapes_and_config(low, high, rng):
    g = StageIIGenerator(high, low, C, ngf=8, num_residual=2)
    inputs = (rng.uniform(-1, 1, (2, low, low, 3)).astype("float32"), rng.normal(size=(2, D)).astype("float32"),
              rng.normal(size=(2, C)).astype("float32"))
    images, _, _ = gan_checks.check_config_round_trip(g, inputs)
    assert images.shape == (2, high, high, 3)
    d = StageDiscriminator(high, ndf=4, variant="stackgan", text_proj_dim=C)
    assert gan_checks.check_config_round_trip(d, (np.asarray(images), inputs[1])).shape == (2,)


def test_stage1_train_step(rng):
    trainer = make_trainer()
    logs = gan_checks.check_train_step(trainer, make_batch(rng, LO))
    assert set(logs) >= {"d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_fake", "kl"}
    assert trainer.noise_width() == Z + C


def test_stage2_trains_while_stage1_stays_frozen(rng):
    stage1 = make_stage1()
    stage1((np.zeros((2, Z), "float32"), np.zeros((2, D), "float32"), np.zeros((2, C), "float32")))
    trainer = make_trainer(stage1)
    assert trainer.stage == 2 and trainer.noise_width() == Z + 2 * C
    before = gan_checks.weights_of(stage1.weights)  # trainable AND batch-norm statistics
    batch = make_batch(rng, HI)
    gan_checks.check_train_step(trainer, batch)
    trainer.train_step({k: keras.ops.convert_to_tensor(v) for k, v in batch.items()})
    assert gan_checks.max_change(before, gan_checks.weights_of(stage1.weights)) == 0.0
    assert not any(v is w for v in trainer.generator_variables() for w in stage1.weights)
    noise = rng.normal(size=(2, Z)).astype("float32")  # z only: CA noise fixed by the trainer seed
    low, high = trainer.generate({"embedding": batch["embedding"][:2]}, noise, all_scales=True)
    assert low.shape == (2, LO, LO, 3) and high.shape == (2, HI, HI, 3)
    np.testing.assert_allclose(np.asarray(trainer.generate({"embedding": batch["embedding"][:2]}, noise)),
                               np.asarray(high), atol=1e-6)


def test_paper_kl_weighticient_option():
    assert STACKGAN_PRESETS["cub"].kl_weight == 2.0  # official code
    config = config_lib.apply_overrides(STACKGAN_PRESETS["cub"], ["kl_weight=1"])  # paper's lambda
    assert config.kl_weight == 1.0


def test_config_round_trip_and_presets(tmp_path):
    for presets in (STACKGAN_PRESETS, STACKGAN_STAGE2_PRESETS):
        for config in presets.values():
            config_lib.save_config(config, str(tmp_path))
            assert config_lib.load_config(StackGanConfig, str(tmp_path)) == config
    cub1, cub2 = STACKGAN_PRESETS["cub"], STACKGAN_STAGE2_PRESETS["cub"]
    assert (cub1.batch_size, cub1.ngf, cub1.ndf, cub1.condition_dim, cub1.lr_decay_epochs) == (64, 128, 64, 128, 50)
    assert (cub2.stage, cub2.hr_image_size, cub2.lr_decay_epochs, cub2.image_sizes) == (2, 256, 100, (256,))


def _conv(k, cin, cout):
    return k * k * cin * cout


def _bn(c):
    return 2 * c


def official_stackgan_counts(gf=128, df=64, ef=128, z=100, t=1024):
    """Trainable parameters of hanzhanggit/StackGAN's CUB models, from stageI/stageII model.py
    (bias-free `custom_conv2d`, `custom_fully_connected` with bias, BN gamma/beta)."""
    ca = t * 2 * ef + 2 * ef
    bottleneck = lambda c, b: _conv(1, c, b) + _bn(b) + _conv(3, b, b) + _bn(b) + _conv(3, b, c) + _bn(c)  # noqa
    g1 = (ca + (z + ef) * 16 * 8 * gf + 16 * 8 * gf + _bn(16 * 8 * gf) + bottleneck(8 * gf, 2 * gf)
          + _conv(3, 8 * gf, 4 * gf) + _bn(4 * gf) + bottleneck(4 * gf, gf)
          + _conv(3, 4 * gf, 2 * gf) + _bn(2 * gf) + _conv(3, 2 * gf, gf) + _bn(gf) + _conv(3, gf, 3))
    head = t * ef + ef + _conv(1, 8 * df + ef, 8 * df) + _bn(8 * df) + _conv(4, 8 * df, 1)
    d1 = (_conv(4, 3, df) + _conv(4, df, 2 * df) + _bn(2 * df) + _conv(4, 2 * df, 4 * df) + _bn(4 * df)
          + _conv(4, 4 * df, 8 * df) + _bn(8 * df) + bottleneck(8 * df, 2 * df) + head)
    res = 2 * (_conv(3, 4 * gf, 4 * gf) + _bn(4 * gf))
    g2 = (ca + _conv(3, 3, gf) + _conv(4, gf, 2 * gf) + _bn(2 * gf) + _conv(4, 2 * gf, 4 * gf) + _bn(4 * gf)
          + _conv(3, 4 * gf + ef, 4 * gf) + _bn(4 * gf) + 4 * res
          + sum(_conv(3, a, b) + _bn(b) for a, b in ((4 * gf, 2 * gf), (2 * gf, gf), (gf, gf // 2), (gf // 2, gf // 4)))
          + _conv(3, gf // 4, 3))
    widths = [df * 2 ** i for i in range(6)]
    d2 = (_conv(4, 3, df) + sum(_conv(4, a, b) + _bn(b) for a, b in zip(widths, widths[1:]))
          + _conv(1, 32 * df, 16 * df) + _bn(16 * df) + _conv(1, 16 * df, 8 * df) + _bn(8 * df)
          + bottleneck(8 * df, 2 * df) + head)
    return g1, d1, g2, d2


def test_cub_parameter_counts_are_pinned_and_match_the_official_architecture():
    config1, config2 = STACKGAN_PRESETS["cub"], STACKGAN_STAGE2_PRESETS["cub"]
    g1 = StageIGenerator(config1.image_size, config1.z_dim, config1.condition_dim, config1.ngf)
    g1((np.zeros((1, 100), "float32"), np.zeros((1, 1024), "float32")))
    d1 = StageDiscriminator(64, config1.ndf, "stackgan", config1.condition_dim)
    d1((np.zeros((1, 64, 64, 3), "float32"), np.zeros((1, 1024), "float32")))
    g2 = StageIIGenerator(256, 64, config2.condition_dim, config2.ngf, config2.num_residual)
    g2((np.zeros((1, 64, 64, 3), "float32"), np.zeros((1, 1024), "float32")))
    d2 = StageDiscriminator(256, config2.ndf, "stackgan", config2.condition_dim)
    d2((np.zeros((1, 256, 256, 3), "float32"), np.zeros((1, 1024), "float32")))
    ours = (count(g1), count(d1), count(g2), count(d2))
    assert ours == (14_264_192, 4_029_824, 26_290_080, 48_603_520)
    assert ours == official_stackgan_counts()


@pytest.mark.parametrize("stage", [1, 2])
def test_mirrored_step_equals_single_device(rng, stage):
    """One step over 2 replicas (synchronized batch norm) equals one step on one device. SGD, not
    Adam: Adam's first step is lr * sign(g), blind to a wrong replica scaling."""
    size = LO if stage == 1 else HI
    batch = make_batch(rng, size, noise_width=Z + C * stage)  # z and every stage's CA noise
    sgd = lambda: keras.optimizers.SGD(1e-2)  # noqa: E731

    def make():
        keras.utils.set_random_seed(5)  # the frozen Stage-I gets the same weights on both sides
        stage1 = None
        if stage == 2:
            stage1 = make_stage1(sync=True)
            stage1((np.zeros((2, Z), "float32"), np.zeros((2, D), "float32"), np.zeros((2, C), "float32")))
        return make_trainer(stage1, sync=True, optimizer=sgd)

    single, _ = gan_checks.check_mirrored_matches_single(make, batch)
    fresh = make()  # the same initial weights, no step
    fresh.build_from_batch({k: keras.ops.convert_to_tensor(v) for k, v in batch.items()})
    assert gan_checks.max_change(gan_checks.weights_of(fresh.generator_variables()),
                                 gan_checks.weights_of(single.generator_variables())) > 1e-5  # the step moved G


def test_sampling_draws_the_ca_noise_truncated_as_training_does():
    # hanzhanggit/StackGAN: c = mu + sigma * tf.truncated_normal(...) in training and sampling.
    import tensorflow as tf

    from t2izoo.export.adapters import seeded_noise
    from t2izoo.models.stackgan_v2.trainer import StackGanV2Trainer
    from t2izoo.trainers.base import draw_noise

    trainer = make_trainer()
    assert trainer.noise_width() == Z + C and trainer.truncated_noise_width() == C
    noise = trainer.sampling_noise(np.random.default_rng(5), 4000)
    assert noise.shape == (4000, Z + C) and noise.dtype == np.float32
    # z is the draw it was; the CA part is N(0, 1) cut at 2 std (std 0.880, not 1)
    np.testing.assert_array_equal(noise[:, :Z], np.random.default_rng(5).normal(size=(4000, Z)).astype(np.float32))
    eps = noise[:, Z:]
    assert np.abs(eps).max() <= 2.0 and abs(float(eps.std()) - 0.8796) < 0.01 and abs(float(eps.mean())) < 0.01
    # StackGAN++ (and AttnGAN) draw eps from N(0, 1): their sampling noise is the plain draw
    assert not StackGanV2Trainer.truncated_condition_noise
    np.testing.assert_array_equal(draw_noise(np.random.default_rng(5), 3, Z + C),
                                  np.random.default_rng(5).normal(size=(3, Z + C)).astype(np.float32))
    # the SavedModel's seeded noise: z from seed [s, 0], the CA part truncated from seed [s, 1]
    seeded = seeded_noise([7, 8], Z + C, C).numpy()
    for row, s in zip(seeded, (7, 8)):
        np.testing.assert_allclose(row[:Z], tf.random.stateless_normal([Z], [s, 0]).numpy())
        np.testing.assert_allclose(row[Z:], tf.random.stateless_truncated_normal([C], [s, 1]).numpy())
    np.testing.assert_allclose(seeded_noise([7], Z)[0].numpy(), tf.random.stateless_normal([Z], [7, 0]).numpy())


def test_one_generator_pass_per_step_equals_two_passes(rng):
    gan_checks.check_one_pass_matches_two_passes(
        lambda: make_trainer(optimizer=lambda: keras.optimizers.SGD(1e-2)), make_batch(rng, LO, noise_width=Z + C))
