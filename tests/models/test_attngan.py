"""AttnGAN: word attention (per-sample mask), generator, trainer, presets, attention figures."""

import os

import keras
import numpy as np
import pytest

from t2izoo import configs as config_lib
from t2izoo.conditioning.damsm.config import DAMSM_PRESETS, DamsmConfig
from t2izoo.data.text import Vocabulary
from t2izoo.encoders.bilstm import BiLstmTextEncoder, damsm_text_conditioning
from t2izoo.encoders.damsm_image import DamsmSmallCnnEncoder
from t2izoo.layers.multi_scale_discriminator import MultiScaleDiscriminator
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.layers.word_attention import WordAttention
from t2izoo.models.attngan.config import ATTNGAN_PRESETS, AttnGanConfig
from t2izoo.models.attngan.generator import AttnGanGenerator
from t2izoo.models.attngan.trainer import AttnGanTrainer
from t2izoo.testing import gan_checks
from t2izoo.utils.attention_maps import save_attention_figures

B, T, VOCAB, Z, C = 4, 6, 30, 100, 8
SIZES = (16, 32)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def test_word_attention_softmax_over_each_samples_own_words(rng):
    hidden = rng.normal(size=(3, 2, 2, 4)).astype("float32")
    words = rng.normal(size=(3, 5, 6)).astype("float32")
    lengths = np.array([5, 2, 3])
    mask = np.arange(5)[None] < lengths[:, None]
    layer = WordAttention()
    context, attention = (np.asarray(x) for x in layer((hidden, words, mask)))
    projection = layer.projection.kernel.numpy()  # U: D -> C (the bias-free 1x1 conv)
    for b in range(3):
        e = words[b, : lengths[b]] @ projection                 # e'_i = U e_i, real words only
        h = hidden[b].reshape(-1, 4)
        beta = softmax(h @ e.T, axis=1)                          # Eq. 2: over this caption's words
        np.testing.assert_allclose(attention[b].reshape(-1, 5)[:, : lengths[b]], beta, rtol=1e-5, atol=1e-6)
        assert np.all(attention[b, ..., lengths[b]:] == 0)
        np.testing.assert_allclose(context[b].reshape(-1, 4), beta @ e, rtol=1e-5, atol=1e-5)


def make_generator(sync=False):
    return AttnGanGenerator(base_size=SIZES[0], num_stages=len(SIZES), z_dim=Z, condition_dim=C, ngf=4,
                            num_residual=1, sync_batch_norm=sync)


def generator_inputs(rng, b=B, d=16):
    lengths = np.array([6, 2, 4, 1][:b])
    return (rng.normal(size=(b, Z)).astype("float32"), rng.normal(size=(b, d)).astype("float32"),
            rng.normal(size=(b, T, d)).astype("float32"), np.arange(T)[None] < lengths[:, None],
            rng.normal(size=(b, C)).astype("float32"))


def test_generator_shapes_attention_and_config_round_trip(rng):
    g = make_generator()
    images, maps, mu, log_sigma = gan_checks.check_config_round_trip(g, generator_inputs(rng))
    assert [x.shape for x in images] == [(B, s, s, 3) for s in SIZES]
    assert [m.shape for m in maps] == [(B, 16, 16, T)]
    assert mu.shape == log_sigma.shape == (B, C)
    assert float(np.max(np.abs(images[-1]))) <= 1.0
    maps = np.asarray(maps[0])
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)     # a distribution over words per region
    assert np.all(maps[1, ..., 2:] == 0) and np.all(maps[3, ..., 1:] == 0)


def upstream_generator_parameters(ngf, r_num, stages=3, z=100, c=100, nef=256):
    """Trainable parameters of taoxugit/AttnGAN G_NET, counted from code/model.py."""
    ca = nef * 4 * c + 4 * c                                            # Linear(nef, c*4) + bias
    fc = (z + c) * 16 * ngf * 16 * 2 + 2 * 16 * ngf * 16 * 2            # Linear (no bias) + BN1d
    up = lambda i, o: 9 * i * 2 * o + 2 * 2 * o                         # noqa: E731  upBlock
    init = fc + sum(up(16 * ngf // 2 ** k, 16 * ngf // 2 ** (k + 1)) for k in range(4))
    res = 9 * 2 * ngf * 4 * ngf + 2 * 4 * ngf + 9 * 2 * ngf * 2 * ngf + 2 * 2 * ngf  # ResBlock(2ngf)
    nxt = nef * ngf + r_num * res + up(2 * ngf, ngf)                    # attention 1x1 + residuals + up
    return ca + init + (stages - 1) * nxt + stages * 9 * ngf * 3


def upstream_discriminator_parameters(ndf, size, nef=256):
    """Trainable parameters of D_NET64/128/256 (code/model.py), BN weight + bias counted."""
    conv = lambda i, o, k: k * k * i * o                                # noqa: E731  bias-free
    n = conv(3, ndf, 4) + sum(conv(ndf * 2 ** k, ndf * 2 ** (k + 1), 4) + 2 * ndf * 2 ** (k + 1) for k in range(3))
    widths = {64: [], 128: [16], 256: [16, 32]}[size]
    prev = 8
    for w in widths:                                                    # downBlocks
        n += conv(ndf * prev, ndf * w, 4) + 2 * ndf * w
        prev = w
    while prev > 8:                                                     # Block3x3_leakRelu back to 8ndf
        n += conv(ndf * prev, ndf * prev // 2, 3) + ndf * prev
        prev //= 2
    joint = conv(8 * ndf + nef, 8 * ndf, 3) + 2 * 8 * ndf
    logits = 2 * (conv(8 * ndf, 1, 4) + 1)                              # conditional + unconditional
    return n + joint + logits


@pytest.mark.parametrize("preset,g_params,d_params", [
    ("cub", 7_084_592, (6_313_730, 19_424_002, 71_858_946)),
    pytest.param("coco", 13_811_456, (13_304_450, 42_800_258, 160_774_274), marks=pytest.mark.slow),
    ("shapes", 1_166_256, (612_482, 619_970)),  # the README's table, row `shapes`
])
def test_parameter_counts_of_paper_presets(preset, g_params, d_params):
    config = ATTNGAN_PRESETS[preset]
    g = AttnGanGenerator(config.base_size, config.num_stages, config.z_dim, config.condition_dim, config.ngf,
                         config.num_residual)
    g((np.zeros((1, 100), "float32"), np.zeros((1, 256), "float32"), np.zeros((1, 4, 256), "float32"),
       np.ones((1, 4), bool)))
    official = preset != "shapes"  # shapes (32 px base, D at 32 px) has no official counterpart
    assert count(g.trainable_variables) == g_params
    if official:
        assert g_params == upstream_generator_parameters(config.ngf, config.num_residual)
    assert len(d_params) == len(config.image_sizes)
    for size, want in zip(config.image_sizes, d_params):
        d = StageDiscriminator(size, config.ndf)
        d((np.zeros((1, size, size, 3), "float32"), np.zeros((1, 256), "float32")))
        assert count(d.trainable_variables) == want
        if official:
            assert want == upstream_discriminator_parameters(config.ndf, size)


def test_config_presets_round_trip_and_follow_the_code():
    for presets, cls in ((ATTNGAN_PRESETS, AttnGanConfig), (DAMSM_PRESETS, DamsmConfig)):
        for config in presets.values():
            assert config_lib.from_dict(cls, config_lib.to_dict(config)) == config
    cub, coco = ATTNGAN_PRESETS["cub"], ATTNGAN_PRESETS["coco"]
    assert (cub.ngf, cub.ndf, cub.num_residual, cub.batch_size, cub.damsm_weight) == (32, 64, 2, 20, 5.0)
    assert (coco.ngf, coco.ndf, coco.num_residual, coco.batch_size, coco.damsm_weight) == (48, 96, 3, 14, 50.0)
    assert cub.image_sizes == (64, 128, 256) and (cub.gamma1, cub.gamma2, cub.gamma3) == (4.0, 5.0, 10.0)
    assert config_lib.apply_overrides(cub, ["damsm_weight=1.5"]).damsm_weight == 1.5
    d = DAMSM_PRESETS["cub"]
    assert (d.learning_rate, d.lr_decay, d.rnn_grad_clip, d.batch_size) == (0.002, 0.98, 0.25, 48)


def make_trainer(sync=False, damsm_weight=5.0, optimizer=None):
    text = BiLstmTextEncoder(VOCAB, 8, 8)
    image = DamsmSmallCnnEncoder(16, (8, 8), (8,))
    d = MultiScaleDiscriminator([StageDiscriminator(s, 4, sync_batch_norm=sync) for s in SIZES])
    trainer = AttnGanTrainer(make_generator(sync), d, text, image, SIZES, damsm_weight=damsm_weight, seed=3)
    optimizer = optimizer or (lambda: keras.optimizers.Adam(2e-4, beta_1=0.5))
    trainer.compile(optimizer(), optimizer(), jit_compile=False)
    return trainer


def make_batch(rng, noise=False):
    lengths = np.array([6, 2, 4, 1])
    wrong_lengths = np.array([3, 6, 1, 5])
    ids = lambda n: (rng.integers(2, VOCAB, (B, T)) * (np.arange(T)[None] < n[:, None])).astype("int32")  # noqa: E731
    batch = {"index": np.arange(B, dtype=np.int32), "tokens": ids(lengths), "lengths": lengths.astype("int32"),
             "wrong_tokens": ids(wrong_lengths), "wrong_lengths": wrong_lengths.astype("int32"),
             "class_ids": np.array([0, 1, 0, 2], np.int32)}
    for s in SIZES:
        batch[f"image_{s}"] = rng.uniform(-1, 1, (B, s, s, 3)).astype("float32")
    if noise:
        batch["noise"] = rng.normal(size=(B, Z + C)).astype("float32")
    return batch


def test_train_step_moves_g_and_d_keeps_damsm_frozen_and_sums_the_loss(rng):
    trainer = make_trainer()
    batch = make_batch(rng)
    frozen = trainer.text_encoder.weights + trainer.image_encoder.weights
    logs = gan_checks.check_train_step(trainer, batch)
    assert gan_checks.max_change(gan_checks.weights_of(frozen), gan_checks.weights_of(
        trainer.text_encoder.weights + trainer.image_encoder.weights)) == 0.0
    assert set(logs) >= {"d_loss", "g_loss", "d_loss_16", "d_loss_32", "g_loss_16", "g_loss_32", "damsm", "kl"}
    assert not set(v.path for v in frozen) & set(v.path for v in trainer.generator_variables())
    import tensorflow as tf

    batch = {k: tf.constant(v) for k, v in batch.items()}
    noise = trainer.sample_noise(batch)
    total, terms = trainer.generator_loss(batch, noise)
    want = terms["g_loss_16"] + terms["g_loss_32"] + 5.0 * terms["damsm"] + terms["kl"]
    np.testing.assert_allclose(float(total), float(want), rtol=1e-5)
    assert float(terms["damsm"]) > 0


def test_generate_and_attention_figures(rng, tmp_path):
    trainer = make_trainer()
    batch = make_batch(rng)
    trainer.build_from_batch({k: np.asarray(v) for k, v in batch.items()})
    tokens = {"tokens": batch["tokens"][:2], "lengths": batch["lengths"][:2]}
    cond = damsm_text_conditioning(trainer.text_encoder, tokens["tokens"], tokens["lengths"])
    noise = rng.normal(size=(2, Z)).astype("float32")  # z only: CA noise fixed from the seed
    images = trainer.generate(cond, noise).numpy()
    assert images.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(trainer.generate(cond, noise).numpy(), images)
    all_images, maps = trainer.attention_maps(cond, noise)
    np.testing.assert_allclose(all_images[-1].numpy(), images)
    vocab = Vocabulary([f"w{i}" for i in range(VOCAB - 2)])
    path = save_attention_figures(str(tmp_path / "attention" / "a.png"), ["first caption", "second"],
                                  [x.numpy() for x in all_images], [m.numpy() for m in maps],
                                  tokens["tokens"], tokens["lengths"], vocab, top_k=3)
    assert os.path.getsize(path) > 1000


def test_mirrored_step_equals_single_device(rng):
    # The DAMSM terms score each replica's examples against the all-gathered global batch.
    # SGD, not Adam: the summed gradients agree to float precision (~1e-6 relative), but Adam's
    # first step is lr * sign(g), which float noise flips for near-zero elements.
    batch = make_batch(rng, noise=True)
    # The helper copies G and D weights; the frozen DAMSM encoders get the same seeded init.
    sgd = lambda: keras.optimizers.SGD(1e-3)  # noqa: E731

    def make():
        keras.utils.set_random_seed(7)
        return make_trainer(sync=True, damsm_weight=50.0, optimizer=sgd)

    single, mirrored = gan_checks.check_mirrored_matches_single(make, batch)
    for a, b in zip(single.text_encoder.weights + single.image_encoder.weights,
                    mirrored.text_encoder.weights + mirrored.image_encoder.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_finished_shapes_run_scores_itself_on_test_and_novel(tmp_path, tiny_run, monkeypatch, capsys):
    """`eval_images` > 0: the end of training runs the evaluator on both splits (eval.jsonl)."""
    import json

    from t2izoo import evaluate as evaluate_lib
    from t2izoo.metrics import shapes_evaluator as se
    from t2izoo.testing import tiny
    from t2izoo.trainers import run_loop

    evaluator = se.ShapesEvaluator(image_size=32, widths=(8, 8, 8), cell_dim=8)
    evaluator(np.zeros((1, 32, 32, 3), np.float32))
    real_evaluate = evaluate_lib.evaluate
    monkeypatch.setattr(evaluate_lib, "evaluate", lambda *a, **k: real_evaluate(*a, shapes_evaluator=evaluator, **k))
    run = str(tmp_path / "gan")
    run_loop.train_config(tiny.tiny_config("attngan", tiny_run("damsm"), eval_images=10), run)
    rows = [json.loads(line) for line in open(os.path.join(run, "eval.jsonl"))]
    assert [(r["split"], r["num_samples"], r["step"]) for r in rows] == [("test", 10, 4), ("novel", 10, 4)]
    assert "novel (10 images, EMA G): colour" in capsys.readouterr().out


def test_one_generator_pass_per_step_equals_two_passes(rng):
    def make():
        keras.utils.set_random_seed(7)  # the frozen DAMSM encoders: same weights on both sides
        return make_trainer(optimizer=lambda: keras.optimizers.SGD(1e-2))

    gan_checks.check_one_pass_matches_two_passes(make, make_batch(rng, noise=True))


def test_d_loss_encodes_the_reals_once_and_equals_three_full_passes(rng):
    """`scale_discriminator_losses` scores one image code of the reals against the matching and the
    mismatched sentence: the loss and D's gradients of three full D calls per scale (real, wrong,
    fake), computed here from the formula of upstream's `discriminator_loss`."""
    import tensorflow as tf

    from t2izoo.models.attngan.trainer import attngan_discriminator_loss

    trainer = make_trainer()
    batch = {k: tf.constant(v) for k, v in make_batch(rng, noise=True).items()}
    trainer.build_from_batch(batch)
    sentence = trainer.batch_conditioning(batch)["sentence"]
    wrong_sentence = damsm_text_conditioning(trainer.text_encoder, batch["wrong_tokens"], batch["wrong_lengths"])[
        "sentence"]
    reals = [batch[f"image_{s}"] for s in SIZES]
    fakes = [tf.constant(rng.uniform(-1, 1, (B, s, s, 3)).astype("float32")) for s in SIZES]
    d_vars = trainer.discriminator_variables()
    with tf.GradientTape(persistent=True) as tape:
        got, terms = trainer.scale_discriminator_losses(reals, fakes, sentence, wrong_sentence)
        want = []
        for d, real_images, fake_images in zip(trainer.discriminator.discriminators, reals, fakes):
            real = d((real_images, sentence), training=True)
            wrong = d((real_images, wrong_sentence), training=True)
            fake = d((fake_images, sentence), training=True)
            want.append(attngan_discriminator_loss(real, wrong, fake))
        want_total = want[0] + want[1]
    np.testing.assert_allclose(float(got), float(want_total), rtol=1e-6)
    np.testing.assert_allclose([float(terms["d_loss_16"]), float(terms["d_loss_32"])], [float(w) for w in want],
                               rtol=1e-6)
    for a, b in zip(tape.gradient(got, d_vars), tape.gradient(want_total, d_vars)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)  # summation order
    assert max(float(tf.reduce_max(tf.abs(g))) for g in tape.gradient(got, d_vars)) > 0
