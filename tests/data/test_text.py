import numpy as np
import pytest
import tensorflow as tf

from t2izoo.data import text
from t2izoo.errors import DataError


@pytest.fixture
def vocab():
    return text.Vocabulary.build(["A red circle.", "a blue star at the top", "the red star"])


def test_ids_reserved_and_frequency_order(vocab):
    assert vocab.words[:2] == ["<end>", "<unk>"]
    # most frequent first, ties alphabetical
    assert vocab.words[2:] == ["a", "red", "star", "the", "at", "blue", "circle", "top"]


def test_round_trip_oov_and_truncation(vocab):
    ids, length = vocab.encode("The RED star!", max_words=6)
    assert length == 3 and vocab.decode(ids) == "the red star"
    assert list(ids[3:]) == [0, 0, 0]
    ids, length = vocab.encode("a purple star", max_words=6)
    assert ids[1] == text.UNK_ID and length == 3
    ids, length = vocab.encode("a red star at the top of it", max_words=4)
    assert length == 4 and vocab.decode(ids) == "a red star at"


def test_save_load(tmp_path, vocab):
    vocab.save(str(tmp_path))
    assert text.Vocabulary.load(str(tmp_path)) == vocab
    with pytest.raises(DataError, match="no vocabulary"):
        text.Vocabulary.load(str(tmp_path / "missing"))


def test_tf_tokenizer_matches_python(vocab):
    # Non-ASCII upper case: the Kelvin sign lower-cases to "k" in Python, "É" to "é".
    captions = ["The RED star!", "a purple   star, at the top", "top", "\u212a STAR Étoile ✓ red"]
    ids, lengths = text.Vocabulary.tf_tokenize(tf.constant(captions), vocab.tf_table(), 5)
    for i, c in enumerate(captions):
        expected, n = vocab.encode(c, 5)
        np.testing.assert_array_equal(ids[i].numpy(), expected)
        assert int(lengths[i]) == n


def test_subsample_keeps_order(rng):
    ids = np.arange(1, 31, dtype=np.int32)
    out, n = text.subsample_words(ids, 30, 18, rng)
    assert n == 18 and np.all(np.diff(out) > 0) and set(out) <= set(ids)
    out, n = text.subsample_words(ids, 5, 18, rng)
    assert n == 5 and list(out[:5]) == [1, 2, 3, 4, 5] and not out[5:].any()


def test_chars_python_and_tf_agree():
    captions = ["A red Circle, (big)!", "é ünïcode"]
    tf_codes = text.tf_encode_chars(tf.constant(captions)).numpy()
    for i, c in enumerate(captions):
        np.testing.assert_array_equal(tf_codes[i], text.encode_chars(c))
    codes = text.encode_chars("ab " * 100)
    assert codes.shape == (201,) and codes[0] == 1 and codes[1] == 2
    assert text.encode_chars("é")[0] == 0  # outside the alphabet -> 0
    assert text.NUM_CHARS == 70


def test_bad_captions():
    with pytest.raises(DataError, match="empty"):
        text.check_caption("  ...  ")
    with pytest.raises(DataError, match="UTF-8"):
        text.check_caption(b"\xff\xfe red")
    assert text.check_caption(b"a red circle") == "a red circle"


def test_all_oov_caption_warns(vocab):
    with pytest.warns(UserWarning, match="outside the vocabulary"):
        ids, n = vocab.encode_for_generation("zebra giraffe", 5)
    assert n == 2 and list(ids[:2]) == [text.UNK_ID, text.UNK_ID]


def test_encode_batch_stacks_encode_and_gives_empty_captions_one_step():
    vocab = text.Vocabulary.build(["a red circle", "a blue star"])
    tokens, lengths = vocab.encode_batch(["a red star", "zzz", "a blue circle a red star"], max_words=4)
    assert tokens.dtype == np.int32 and lengths.dtype == np.int32 and tokens.shape == (3, 4)
    for row, caption in zip(tokens, ["a red star", "zzz", "a blue circle a red star"]):
        np.testing.assert_array_equal(row, vocab.encode(caption, 4)[0])
    np.testing.assert_array_equal(lengths, [3, 1, 4])  # "zzz" is one <unk>; the last is cut at 4
    empty_tokens, empty_lengths = vocab.encode_batch([], max_words=4)
    assert empty_tokens.shape == (0, 4) and empty_lengths.shape == (0,)


def test_pad_token_lists_pads_every_ragged_level():
    ids, lengths = text.pad_token_lists([[[1, 2], [3]], [[4, 5, 6]]], depth=2)
    assert ids.dtype == np.int32 and ids.tolist() == [[[1, 2, 0], [3, 0, 0]], [[4, 5, 6], [0, 0, 0]]]
    assert lengths.tolist() == [[2, 1], [3, 0]]
    ids, lengths = text.pad_token_lists([[[[7]], [[8, 9]]]], depth=3)
    assert ids.shape == (1, 2, 1, 2) and lengths.tolist() == [[[1], [2]]]
    ids, lengths = text.pad_token_lists([[[]]], depth=2)  # no words: one padding column
    assert ids.shape == (1, 1, 1) and lengths.tolist() == [[0]]
