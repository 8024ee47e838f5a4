"""DAMSM: bi-LSTM text encoder, image encoders, word/sentence losses against the paper's formulas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo.conditioning.damsm.trainer import DamsmTrainer
from t2izoo.encoders.bilstm import BiLstmTextEncoder
from t2izoo.encoders.damsm_image import DamsmSmallCnnEncoder
from t2izoo.losses.damsm import damsm_sentence_loss, damsm_word_attention, damsm_word_loss
from t2izoo.testing import gan_checks

G1, G2, G3 = 4.0, 5.0, 10.0


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy_of_diagonal(scores):
    """Mean of -log softmax(row i)[i] (masked entries are -inf)."""
    m = scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(scores - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(log_z - np.diag(scores)))


def paper_attention(words_i, regions_j, gamma1):
    """AttnGAN Eq. 7-9 for one caption (its real words only) and one image."""
    s = words_i @ regions_j.T                   # [T_i, R]: s_ij = e_i^T v_j
    s = softmax(s, axis=0)                      # normalised over the caption's words
    alpha = softmax(gamma1 * s, axis=1)         # attention over regions
    return alpha @ regions_j, alpha             # c_i = sum_j alpha_ij v_j


def paper_word_similarity(regions, words, lengths):
    """R(Q_c, D_i) = log sum_i exp(gamma2 cos(c_i, e_i)) (code's form of Eq. 10), [images, captions]."""
    b = len(words)
    flat = regions.reshape(b, -1, regions.shape[-1])
    out = np.zeros((b, b))
    for c in range(b):
        e = words[c, : lengths[c]]
        for i in range(b):
            context, _ = paper_attention(e, flat[i], G1)
            cos = (context * e).sum(1) / (np.linalg.norm(context, axis=1) * np.linalg.norm(e, axis=1))
            out[i, c] = np.log(np.exp(G2 * cos).sum())
    return out


def mask_same_class(scores, class_ids):
    scores = scores.copy()
    same = (class_ids[:, None] == class_ids[None, :]) & ~np.eye(len(class_ids), dtype=bool)
    scores[same] = -np.inf
    return scores


@pytest.fixture
def features(rng):
    b, t, d = 5, 6, 8
    words = rng.normal(size=(b, t, d)).astype("float32")  # garbage at padded positions on purpose
    regions = rng.normal(size=(b, 3, 3, d)).astype("float32")
    lengths = np.array([6, 2, 4, 1, 3], np.int32)
    return regions, words, lengths, np.array([0, 1, 0, 2, 1], np.int32)


def test_word_attention_matches_eq_7_to_9_per_caption(features):
    regions, words, lengths, _ = features
    context, alpha = damsm_word_attention(words, regions, lengths, G1)
    flat = regions.reshape(len(regions), -1, regions.shape[-1])
    for c in range(len(words)):
        for i in range(len(regions)):
            want_context, want_alpha = paper_attention(words[c, : lengths[c]], flat[i], G1)
            np.testing.assert_allclose(np.asarray(context)[i, c, : lengths[c]], want_context, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(np.asarray(alpha)[i, c, : lengths[c]], want_alpha, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("with_classes", [False, True])
def test_word_loss_matches_paper_formula_with_padding_and_class_mask(features, with_classes):
    regions, words, lengths, class_ids = features
    scores = G3 * paper_word_similarity(regions, words, lengths)
    if with_classes:
        scores = mask_same_class(scores, class_ids)
    want = (cross_entropy_of_diagonal(scores), cross_entropy_of_diagonal(scores.T))
    got = damsm_word_loss(regions, words, lengths, class_ids if with_classes else None, G1, G2, G3)
    np.testing.assert_allclose([float(g) for g in got], want, rtol=1e-4)
    # Padded positions must not matter: change them and the loss stays.
    moved = words.copy()
    for c, n in enumerate(lengths):
        moved[c, n:] += 100.0
    again = damsm_word_loss(regions, moved, lengths, class_ids if with_classes else None, G1, G2, G3)
    np.testing.assert_allclose([float(g) for g in again], want, rtol=1e-4)


def test_word_loss_paper_aggregation_divides_by_gamma2(features):
    regions, words, lengths, _ = features
    scores = G3 * paper_word_similarity(regions, words, lengths) / G2
    got = damsm_word_loss(regions, words, lengths, None, G1, G2, G3, aggregation="paper")
    np.testing.assert_allclose(float(got[0]), cross_entropy_of_diagonal(scores), rtol=1e-4)


def test_sentence_loss_matches_formula(rng):
    image = rng.normal(size=(6, 8)).astype("float32")
    text = rng.normal(size=(6, 8)).astype("float32")
    class_ids = np.array([0, 0, 1, 2, 1, 3])
    cos = (image / np.linalg.norm(image, axis=1, keepdims=True)) @ (text / np.linalg.norm(text, axis=1, keepdims=True)).T
    scores = mask_same_class(G3 * cos, class_ids)
    got = damsm_sentence_loss(image, text, class_ids, G3)
    np.testing.assert_allclose([float(g) for g in got],
                               [cross_entropy_of_diagonal(scores), cross_entropy_of_diagonal(scores.T)], rtol=1e-5)
    per_example = damsm_sentence_loss(image, text, class_ids, G3, reduce=False)
    assert per_example[0].shape == (6,)
    np.testing.assert_allclose(float(np.mean(per_example[1])), float(got[1]), rtol=1e-6)


def test_bilstm_masks_padding_like_packed_sequences(rng):
    enc = BiLstmTextEncoder(vocab_size=30, embedding_dim=8, hidden_dim=4)
    tokens = rng.integers(2, 30, (3, 7)).astype("int32")
    lengths = np.array([7, 3, 5], np.int32)
    padded = tokens.copy()
    for b, n in enumerate(lengths):
        padded[b, n:] = 0
    words, sentence = enc((padded, lengths))
    assert words.shape == (3, 7, 8) and sentence.shape == (3, 8)
    for b, n in enumerate(lengths):  # the same caption without padding gives the same features
        w, s = enc((tokens[b:b + 1, :n], lengths[b:b + 1]))
        np.testing.assert_allclose(np.asarray(words)[b, :n], np.asarray(w)[0], atol=1e-5)
        np.testing.assert_allclose(np.asarray(sentence)[b], np.asarray(s)[0], atol=1e-5)
        assert np.all(np.asarray(words)[b, n:] == 0.0)
    # Sentence = [last forward state at the last real word, backward state at the first word].
    np.testing.assert_allclose(np.asarray(sentence)[1, :4], np.asarray(words)[1, 2, :4], atol=1e-6)
    np.testing.assert_allclose(np.asarray(sentence)[1, 4:], np.asarray(words)[1, 0, 4:], atol=1e-6)


def test_paper_widths_and_config_round_trip(rng):
    enc = BiLstmTextEncoder(vocab_size=50)
    words, sentence = enc((np.ones((2, 18), "int32"), np.array([18, 4])))
    assert words.shape == (2, 18, 256) and sentence.shape == (2, 256)
    assert enc.embedding.output_dim == 300 and enc.dropout == 0.5
    small = BiLstmTextEncoder(vocab_size=20, embedding_dim=8, hidden_dim=4)
    small((np.ones((1, 4), "int32"), np.array([4])))
    clone = BiLstmTextEncoder.from_config(small.get_config())
    assert clone.get_config() == small.get_config()
    image = DamsmSmallCnnEncoder(16, widths=(8, 8), global_widths=(8,))
    regions, code = gan_checks.check_config_round_trip(image, rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"))
    assert regions.shape == (2, 8, 8, 16) and code.shape == (2, 16)


def make_damsm_trainer(clip=0.25):
    trainer = DamsmTrainer(BiLstmTextEncoder(30, 8, 8), DamsmSmallCnnEncoder(16, (8, 8), (8,)), image_size=16)
    trainer.compile(keras.optimizers.Adam(0.002, beta_1=0.5, global_clipnorm=clip),
                    keras.optimizers.Adam(0.002, beta_1=0.5), jit_compile=False)
    return trainer


def damsm_batch(rng, b=6):
    lengths = rng.integers(1, 7, b).astype("int32")
    tokens = rng.integers(2, 30, (b, 6)).astype("int32") * (np.arange(6)[None] < lengths[:, None])
    return {"tokens": tf.constant(tokens.astype("int32")), "lengths": tf.constant(lengths),
            "class_ids": tf.constant(np.array([0, 1, 2, 0, 3, 4], np.int32)[:b]),
            "image_16": tf.constant(rng.uniform(-1, 1, (b, 16, 16, 3)).astype("float32"))}


def test_damsm_train_step_moves_both_encoders_and_clips_rnn(rng):
    trainer = make_damsm_trainer()
    batch = damsm_batch(rng)
    trainer.build_from_batch(batch)
    text_before = gan_checks.weights_of(trainer.text_encoder.trainable_variables)
    image_before = gan_checks.weights_of(trainer.image_encoder.trainable_variables)
    logs = {k: float(v) for k, v in trainer.train_step(batch).items()}
    assert np.isfinite(list(logs.values())).all()
    assert gan_checks.max_change(text_before, gan_checks.weights_of(trainer.text_encoder.trainable_variables)) > 1e-6
    assert gan_checks.max_change(image_before, gan_checks.weights_of(trainer.image_encoder.trainable_variables)) > 1e-6
    np.testing.assert_allclose(logs["damsm_loss"], sum(logs[k] for k in
                               ("word_i2t", "word_t2i", "sentence_i2t", "sentence_t2i")), rtol=1e-5)
    assert trainer.text_optimizer.global_clipnorm == 0.25 and trainer.image_optimizer.global_clipnorm is None


def _slot_norm(optimizer, variables, slot="momentums"):
    """Global norm of an Adam slot (first moments) over `variables`."""
    slots = getattr(optimizer, f"_{slot}")
    by_var = {optimizer._var_key(v): s for v, s in zip(optimizer._trainable_variables, slots)}
    return float(tf.linalg.global_norm([by_var[optimizer._var_key(v)] for v in variables]))


def test_the_recipe_s_rnn_clip_clips_the_text_encoder_s_update(rng):
    """One train_step of the trainer the DAMSM recipe builds: Adam's first moment after it is
    (1 - beta_1) * the gradient it applied, so its norm shows the applied gradient's norm: the
    preset's `rnn_grad_clip` for the text encoder (clipped), more than that for the image encoder
    (not clipped)."""
    from t2izoo.conditioning.damsm.pretrain import DamsmRecipe
    from t2izoo.data.text import Vocabulary
    from t2izoo.testing import tiny

    config = tiny.tiny_config("damsm")
    assert config.rnn_grad_clip == 0.25  # upstream's RNN_GRAD_CLIP, from the preset
    vocab = Vocabulary.build(["a red circle", "a small blue square", "a large green triangle"])
    trainer = DamsmRecipe().build_trainer(config, {"vocab": vocab, "steps_per_epoch": 10})
    s, b = config.image_size, 6
    lengths = rng.integers(1, config.max_words + 1, b).astype("int32")
    tokens = rng.integers(2, len(vocab), (b, config.max_words)) * (np.arange(config.max_words)[None] < lengths[:, None])
    # Images far from the encoders' scale make gradients well above the clip.
    batch = {"tokens": tf.constant(tokens.astype("int32")), "lengths": tf.constant(lengths),
             "class_ids": tf.constant(np.arange(b, dtype=np.int32)),
             f"image_{s}": tf.constant(rng.uniform(-1, 1, (b, s, s, 3)).astype("float32"))}
    trainer.build_from_batch(batch)
    trainer.train_step(batch)
    beta_1 = config.beta_1
    text_norm = _slot_norm(trainer.text_optimizer, trainer.text_encoder.trainable_variables) / (1 - beta_1)
    image_norm = _slot_norm(trainer.image_optimizer, trainer.image_encoder.trainable_variables) / (1 - beta_1)
    np.testing.assert_allclose(text_norm, config.rnn_grad_clip, rtol=1e-4)
    assert image_norm > 2 * config.rnn_grad_clip  # unclipped (and large enough that the text side was cut)


@pytest.mark.parametrize("clip", [None, 0.25])
def test_mirrored_step_equals_single_device(rng, clip):
    """2 replicas take the single-device step: the DAMSM terms over the global batch, the small
    CNN's batch norm on global statistics, and the RNN clip on the summed gradient (SGD: Adam's
    first step is lr * sign(g), blind to a wrong scaling or clip)."""

    def make():
        keras.utils.set_random_seed(13)
        trainer = DamsmTrainer(BiLstmTextEncoder(30, 8, 8, dropout=0.0), DamsmSmallCnnEncoder(16, (8, 8), (8,)),
                               image_size=16)
        trainer.compile(keras.optimizers.SGD(1e-3, global_clipnorm=clip), keras.optimizers.SGD(1e-3),
                        jit_compile=False)
        return trainer

    batch = damsm_batch(rng, b=6)
    gan_checks.check_mirrored_matches_single_seeded(make, {k: np.asarray(v) for k, v in batch.items()})
