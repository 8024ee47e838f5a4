"""TAGAN: the bi-GRU word features and the word-level local discriminators against direct
computations of their formulas (padded words included), the losses against train.py's formulas,
the networks, the train step, one Mirrored step, the configs and the `cub` parameter counts."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.encoders.bigru_text import BiGruWordEncoder
from t2izoo.errors import ConfigError
from t2izoo.models.tagan.config import TAGAN_PRESETS, TaganConfig
from t2izoo.models.tagan.discriminator import TextAdaptiveDiscriminator
from t2izoo.models.tagan.generator import TaganGenerator
from t2izoo.models.tagan.recipe import TaganRecipe
from t2izoo.models.tagan.trainer import (
    TaganTrainer,
    tagan_discriminator_loss,
    tagan_generator_loss,
)
from t2izoo.testing import gan_checks

B, S, T, V, C = 8, 32, 6, 20, 4


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def bce(p, target):
    p = np.asarray(p, np.float64)
    return np.mean(-(target * np.maximum(np.log(p), -100) + (1 - target) * np.maximum(np.log(1 - p), -100)))


def gru_steps(x, kernel, recurrent, bias, mask, reverse=False):
    """PyTorch GRUCell loop (woozzu/tagan `_encode_txt`): the forward cell runs over every step,
    the backward one only updates at real words; returns the states [T, H] at each position."""
    h = np.zeros(recurrent.shape[0])
    out = np.zeros((len(x), recurrent.shape[0]))
    H = recurrent.shape[0]
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        gx, gh = x[t] @ kernel + bias[0], h @ recurrent + bias[1]
        z, r = sigmoid(gx[:H] + gh[:H]), sigmoid(gx[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gx[2 * H:] + r * gh[2 * H:])
        new = z * h + (1 - z) * n
        h = new if (not reverse or mask[t]) else h
        out[t] = h
    return out


def test_word_features_are_the_masked_bigru_average(rng):
    enc = BiGruWordEncoder(V, 3, 5)
    tokens = rng.integers(2, V, (3, T)).astype("int32")
    lengths = np.array([T, 3, 1], "int32")
    words, sentence, mask = (np.asarray(a) for a in enc((tokens, lengths)))
    table = enc.words.embeddings.numpy()
    fw, bw = enc.rnn.forward_layer.cell, enc.rnn.backward_layer.cell
    for b in range(3):
        m = np.arange(T) < lengths[b]
        x = table[tokens[b]]
        f = gru_steps(x, fw.kernel.numpy(), fw.recurrent_kernel.numpy(), fw.bias.numpy(), m) * m[:, None]
        r = gru_steps(x, bw.kernel.numpy(), bw.recurrent_kernel.numpy(), bw.bias.numpy(), m, reverse=True) * m[:, None]
        u = (f + r) / 2
        np.testing.assert_allclose(words[b], u, atol=1e-5)
        np.testing.assert_allclose(sentence[b], u[m].mean(0), atol=1e-5)
        np.testing.assert_array_equal(mask[b], m)
    # Padding is invisible: other ids beyond the lengths change nothing.
    noisy = np.where(np.arange(T)[None] < lengths[:, None], tokens, rng.integers(2, V, tokens.shape)).astype("int32")
    np.testing.assert_allclose(np.asarray(enc((noisy, lengths))[0]), words, atol=1e-6)


def local_score(d, features, words, sentence, mask, eps=1e-7):
    """D(x, t) = prod_w min(sum_i beta_wi sigmoid(W_wi . f_i + b_wi) + eps, 1) ^ alpha_w, written out
    word by word (Nam et al. 2018, Eq. 1-3; model.py), with padded words at alpha = 0."""
    out = []
    for b in range(words.shape[0]):
        real = mask[b] > 0
        att = np.exp(words[b] @ sentence[b]) * real
        att = att / att.sum()
        score = 1.0
        for w in range(words.shape[1]):
            u = words[b, w]
            logits = u @ d.scale_weights.kernel.numpy() + d.scale_weights.bias.numpy()
            beta = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
            s = 0.0
            for i, layer in enumerate(d.word_filters):
                wb = u @ layer.kernel.numpy() + layer.bias.numpy()
                s += beta[i] * sigmoid(wb[:-1] @ features[i][b] + wb[-1])
            score *= min(s + eps, 1.0) ** att[w]
        out.append(score)
    return np.array(out)


def make_discriminator():
    d = TextAdaptiveDiscriminator(V, S, ndf=2, word_dim=4, text_dim=4)
    d((tf.zeros((1, S, S, 3)), tf.ones((1, 2), tf.int32), tf.constant([2])))
    return d


def test_local_discriminators_follow_the_formula_padded_words_masked(rng):
    d = make_discriminator()
    features = [rng.normal(size=(B, c)).astype("float32") for c in d.scale_channels]
    words = rng.normal(size=(B, T, 4)).astype("float32")
    lengths = rng.integers(1, T + 1, B)
    mask = (np.arange(T)[None] < lengths[:, None]).astype("float32")
    sentence = (words * mask[..., None]).sum(1) / lengths[:, None]
    got = np.asarray(d.conditional_score(features, words, sentence.astype("float32"), mask))
    np.testing.assert_allclose(got, local_score(d, features, words, sentence, mask), rtol=1e-4)
    assert np.all((got > 0) & (got <= 1))
    # Whatever sits at the padded positions changes nothing.
    junk = np.where(mask[..., None] > 0, words, 10 * rng.normal(size=words.shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(d.conditional_score(features, junk, sentence.astype("float32"), mask)),
                               got, rtol=1e-6)
    # End to end on images and tokens: the same with other ids beyond the lengths.
    images = rng.uniform(-1, 1, (B, S, S, 3)).astype("float32")
    tokens = rng.integers(2, V, (B, T)).astype("int32")
    noisy = np.where(mask > 0, tokens, rng.integers(2, V, tokens.shape)).astype("int32")
    logits, scores = d((images, tokens, lengths.astype("int32")))
    np.testing.assert_allclose(np.asarray(d((images, noisy, lengths.astype("int32")))[1]), scores, rtol=1e-6)
    assert logits.shape == (B,)


def test_losses_follow_train_py(rng):
    real, fake = rng.normal(size=B), rng.normal(size=B)
    p_real, p_wrong, p_fake = (rng.uniform(0.01, 0.99, B) for _ in range(3))
    total, terms = tagan_discriminator_loss(*(x.astype("float32") for x in (real, p_real, p_wrong, fake)), 10.0)
    want = bce(sigmoid(real), 1) + 10 * (bce(p_real, 1) + bce(p_wrong, 0)) / 2 + bce(sigmoid(fake), 0)
    assert float(total) == pytest.approx(want, rel=1e-5)
    assert float(terms["d_real_cond"]) == pytest.approx((bce(p_real, 1) + bce(p_wrong, 0)) / 2, rel=1e-5)
    x, recon = rng.uniform(-1, 1, (B, 4, 4, 3)), rng.uniform(-1, 1, (B, 4, 4, 3))
    mu, ls, mu2, ls2 = (0.3 * rng.normal(size=(B, C)) for _ in range(4))
    kl = lambda m, s: np.mean(-s + 0.5 * (np.exp(2 * s) + m ** 2 - 1))  # noqa: E731
    f32 = lambda *a: [np.asarray(v, "float32") for v in a]  # noqa: E731
    total, terms = tagan_generator_loss(*f32(fake, p_fake, recon, x), f32(mu, ls), f32(mu2, ls2), 10.0, 0.2, 0.5)
    want = bce(sigmoid(fake), 1) + 10 * bce(p_fake, 1) + 0.2 * np.abs(recon - x).mean() + 0.5 * (kl(mu, ls)
                                                                                              + kl(mu2, ls2))
    assert float(total) == pytest.approx(want, rel=1e-5)
    assert float(terms["g_recon"]) == pytest.approx(np.abs(recon - x).mean(), rel=1e-5)
    # A score of exactly 0 or 1 costs at most 100 (PyTorch's clamp), not inf.
    total, _ = tagan_discriminator_loss(*f32(real, np.zeros(B), np.ones(B), fake), 10.0)
    assert np.isfinite(float(total))


def test_networks_round_trip_their_configs(rng):
    tokens, lengths = rng.integers(2, V, (2, T)).astype("int32"), np.array([T, 2], "int32")
    images = rng.uniform(-1, 1, (2, S, S, 3)).astype("float32")
    g = TaganGenerator(V, S, ngf=2, condition_dim=C, num_residual=1, word_dim=4, text_dim=4)
    out, mu, _ = gan_checks.check_config_round_trip(g, (images, tokens, lengths, rng.normal(size=(2, C))), atol=1e-5)
    assert out.shape == (2, S, S, 3) and mu.shape == (2, C) and np.abs(np.asarray(out)).max() <= 1.0
    d = TextAdaptiveDiscriminator(V, S, ndf=2, word_dim=4, text_dim=4)
    logits, scores = gan_checks.check_config_round_trip(d, (images, tokens, lengths), atol=1e-5)
    assert logits.shape == scores.shape == (2,)


def test_config_round_trips_and_is_checked(tmp_path):
    config = dataclasses.replace(TAGAN_PRESETS["shapes"], cond_weight=3.0)
    config_lib.save_config(config, str(tmp_path))
    assert config_lib.load_config(TaganConfig, str(tmp_path)) == config
    assert config_lib.apply_overrides(config, ["recon_weight=0.5"]).recon_weight == 0.5
    cub = TAGAN_PRESETS["cub"]
    assert (cub.image_size, cub.cond_weight, cub.recon_weight, cub.kl_weight, cub.word_dim, cub.text_dim,
            cub.condition_dim, cub.num_residual, cub.lr_decay_epochs, cub.max_words) == (128, 10.0, 0.2, 0.5, 300, 512,
                                                                                         128, 4, 100, 50)
    with pytest.raises(ConfigError, match="multiple of 32"):
        dataclasses.replace(cub, image_size=100)
    with pytest.raises(ConfigError, match="no such file"):
        TaganRecipe().pipeline_options(dataclasses.replace(cub, word_vectors=str(tmp_path / "missing.vec")))


def make_trainer(sync=False, optimizer=lambda: keras.optimizers.Adam(2e-4, beta_1=0.5)):
    g = TaganGenerator(V, S, ngf=2, condition_dim=C, num_residual=1, word_dim=4, text_dim=4, sync_batch_norm=sync)
    d = TextAdaptiveDiscriminator(V, S, ndf=2, word_dim=4, text_dim=4, sync_batch_norm=sync)
    trainer = TaganTrainer(g, d, image_size=S, condition_dim=C, seed=2)
    trainer.compile(optimizer(), optimizer(), jit_compile=False)
    return trainer


def make_batch(rng, noise=False):
    return gan_checks.word_token_batch(rng, B, S, T, V, 2 * C if noise else None)


def test_train_step_moves_g_and_d_and_manipulation_is_deterministic(rng):
    trainer = make_trainer()
    logs = gan_checks.check_train_step(trainer, make_batch(rng))
    assert set(logs) >= {"d_loss", "g_loss", "d_real", "d_real_cond", "d_fake", "g_fake", "g_fake_cond", "g_recon",
                         "kl"}
    # Both text encoders learn, each with its own network.
    assert any("text_encoder" in v.path for v in trainer.generator_variables())
    assert any("text_encoder" in v.path for v in trainer.discriminator_variables())
    batch = make_batch(rng)
    images = tf.constant(batch[f"image_{S}"])
    cond = {"tokens": tf.constant(batch["tokens"]), "lengths": tf.constant(batch["lengths"])}
    first = trainer.manipulate(images, cond).numpy()
    np.testing.assert_array_equal(first, trainer.manipulate(images, cond).numpy())
    live = trainer.manipulate(images, cond, use_ema=False).numpy()
    want = trainer.generator((images, cond["tokens"], cond["lengths"], tf.zeros((B, C))), training=False)[0].numpy()
    np.testing.assert_allclose(live, want, atol=1e-6)
    # The result depends on the source image. Checked with batch statistics: after one step the
    # moving statistics are still ~(0, 1), so at ngf=2 inference activations are ~1e-4 and the two
    # ReLU channels may both be dead for every pixel (CI, stop 35: the inference outputs were equal).
    edit = lambda x: trainer.generator((x, cond["tokens"], cond["lengths"], tf.zeros((B, C))), training=True)[0]  # noqa: E731
    assert np.abs(edit(images).numpy() - edit(-images).numpy()).max() > 1e-2


def test_one_generator_pass_per_step_equals_two_passes(rng):
    """The edit pass G(x, t_mis) is shared by the D and G updates (`shared_forward`): the same
    updates as a generator pass in each loss (the reconstruction pass stays G's own)."""
    gan_checks.check_one_pass_matches_two_passes(
        lambda: make_trainer(optimizer=lambda: keras.optimizers.SGD(1e-2)), make_batch(rng, noise=True))


@pytest.mark.slow
def test_one_mirrored_step_equals_one_device(rng):
    """One step on a global batch under MirroredStrategy over two logical CPUs == one device.

    With SGD: its step is proportional to the gradient, so a loss not averaged over the global
    batch shows (Adam's first step is ~lr sign(g), blind to a scale and noisy where g ~ 1e-7)."""
    single, _ = gan_checks.check_mirrored_matches_single(
        lambda: make_trainer(sync=True, optimizer=lambda: keras.optimizers.SGD(0.1)), make_batch(rng, noise=True))
    assert single.g_optimizer.iterations.numpy() == 1


def test_word_vectors_are_loaded_fixed_into_g_and_d(tmp_path):
    from t2izoo.data.text import Vocabulary

    path = tmp_path / "words.vec"
    path.write_text("2 4\nred 1 2 3 4\ncircle 5 6 7 8\n")
    vocab = Vocabulary.build(["a red circle", "a blue star"])
    config = dataclasses.replace(TAGAN_PRESETS["shapes"], image_size=32, ngf=2, ndf=2, num_residual=1, word_dim=4,
                                 text_dim=4, condition_dim=C, word_vectors=str(path))
    trainer = TaganRecipe().build_trainer(config, {"vocab": vocab, "train_set": [], "steps_per_epoch": 1})
    for model in (trainer.generator, trainer.discriminator):
        table = model.text_encoder.words.embeddings
        np.testing.assert_array_equal(table.numpy()[vocab.words.index("red")], [1, 2, 3, 4])
        assert not table.trainable and all(v is not table for v in model.trainable_variables)


def official_generator_params(ngf=64, c=128, res=4, words=300, h=512):
    """Trainable parameters of woozzu/tagan model.py `Generator`, layer by layer (conv weights,
    conv biases where bias=True, BN gamma and beta, Linear weight + bias, GRUCell 3H(in + H) + 6H)."""
    conv = lambda i, o, k, bias=False: i * o * k * k + (o if bias else 0)  # noqa: E731
    bn = lambda n: 2 * n  # noqa: E731
    gru = 3 * h * (words + h) + 6 * h
    encoder = (conv(3, ngf, 3, True) + conv(ngf, 2 * ngf, 4) + bn(2 * ngf) + conv(2 * ngf, 4 * ngf, 4) + bn(4 * ngf)
               + conv(4 * ngf, 8 * ngf, 4) + bn(8 * ngf))
    residual = conv(8 * ngf + c, 8 * ngf, 3) + bn(8 * ngf) + res * 2 * (conv(8 * ngf, 8 * ngf, 3) + bn(8 * ngf))
    decoder = (conv(8 * ngf, 4 * ngf, 3) + bn(4 * ngf) + conv(4 * ngf, 2 * ngf, 3) + bn(2 * ngf)
               + conv(2 * ngf, ngf, 3) + bn(ngf) + conv(ngf, 3, 3, True))
    ca = 2 * (h * c + c)
    return encoder + residual + decoder + ca + 2 * gru


def official_discriminator_params(ndf=64, words=300, h=512):
    """Trainable parameters of woozzu/tagan model.py `Discriminator`, layer by layer."""
    conv = lambda i, o, k, bias=False: i * o * k * k + (o if bias else 0)  # noqa: E731
    bn = lambda n: 2 * n  # noqa: E731
    gru = 3 * h * (words + h) + 6 * h
    encoders = (conv(3, ndf, 4, True) + conv(ndf, 2 * ndf, 4) + bn(2 * ndf) + conv(2 * ndf, 4 * ndf, 4) + bn(4 * ndf)
                + conv(4 * ndf, 8 * ndf, 4) + bn(8 * ndf) + conv(8 * ndf, 8 * ndf, 4) + bn(8 * ndf))
    gaps = sum(conv(c, c, 3) + bn(c) for c in (4 * ndf, 8 * ndf, 8 * ndf))
    filters = sum(h * (c + 1) + c + 1 for c in (4 * ndf, 8 * ndf, 8 * ndf))
    return encoders + gaps + 2 * gru + filters + (h * 3 + 3) + conv(8 * ndf, 1, 4, True)


def test_cub_parameter_counts_match_the_official_layer_list():
    """Trainable parameters of the `cub` networks without the word-vector table (fastText, fixed
    data in the official code): pinned, and equal to model.py's layer list."""
    from t2izoo.data.text import Vocabulary

    config = TAGAN_PRESETS["cub"]
    vocab = Vocabulary.build(["a small bird"])
    g, d = TaganRecipe().build_networks(config, len(vocab))
    count = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_variables  # noqa: E731
                          if "word_vectors" not in v.path)
    assert count(g) == official_generator_params() == 28_771_651
    assert count(d) == official_discriminator_params() == 15_432_263


@pytest.mark.slow
def test_a_tiny_run_evaluates_with_the_cli_options(tmp_path):
    """`python -m t2izoo.evaluate` passes every run its text-to-image options (inception_weights,
    fid_extractor); a manipulation run ignores them and is scored."""
    from t2izoo.evaluate import evaluate_run
    from t2izoo.testing import tiny

    run = tiny.build_tiny_run("tagan", tmp_path)
    result = evaluate_run(run, ["manip_recon"], 4, "test", inception_weights=None, fid_extractor="keras")
    assert result["step"] == 6 and 0.0 < result["recon_l1"] < 1.0
