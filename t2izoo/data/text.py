"""Caption text: word vocabulary (AttnGAN style) and character codes (char-CNN-RNN style).

Words follow AttnGAN's `RegexpTokenizer(r'\\w+')` on lower-cased text. Index 0 is `<end>`
(padding, as in AttnGAN) and index 1 is `<unk>` for out-of-vocabulary words. The same
tokenization exists twice, in Python (`Vocabulary.tokenize`) and in TensorFlow ops
(`Vocabulary.tf_tokenize`, stock ops only, so that it runs inside a SavedModel under TF
Serving); tests check that they agree.

Characters follow reedscot/cvpr2016: a 70-symbol alphabet, 201 characters per caption,
code 0 for padding and for characters outside the alphabet.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter

import numpy as np

from t2izoo.errors import DataError
from t2izoo.utils.files import write_json_atomic

PAD_ID = 0
UNK_ID = 1
PAD_TOKEN = "<end>"
UNK_TOKEN = "<unk>"
WORD_PATTERN = r"[a-z0-9_]+"  # `\w+` restricted to ASCII after lower-casing, as AttnGAN does
# reedscot/cvpr2016 util: letters, digits, punctuation and space (70 symbols).
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
CHAR_LENGTH = 201
VOCAB_FILENAME = "vocab.json"

_WORD_RE = re.compile(WORD_PATTERN)


def check_caption(caption, where: str = "caption") -> str:
    """Returns `caption` as str; raises DataError for bytes that are not UTF-8 or empty text."""
    if isinstance(caption, bytes):
        try:
            caption = caption.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{where}: caption is not valid UTF-8 ({err.reason} at byte {err.start})") from None
    if not isinstance(caption, str):
        raise DataError(f"{where}: caption must be a string, got {type(caption).__name__}")
    if not _WORD_RE.search(caption.lower()):
        raise DataError(f"{where}: caption is empty (no words in {caption!r})")
    return caption


def split_words(caption: str) -> list:
    return _WORD_RE.findall(caption.lower())


class Vocabulary:
    """Word <-> id mapping built from training captions.

    Args:
        words: the vocabulary words in id order, starting at id 2 (ids 0 and 1 are reserved).

    Example:
        >>> vocab = Vocabulary.build(["a red circle", "a blue star"])
        >>> vocab.encode("A red STAR!", max_words=4)
        (array([2, 4, 6, 0], dtype=int32), 3)
    """

    def __init__(self, words):
        words = [w for w in words if w not in (PAD_TOKEN, UNK_TOKEN)]
        self.words = [PAD_TOKEN, UNK_TOKEN] + list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise DataError("vocabulary has duplicate words")

    @classmethod
    def build(cls, captions, min_count: int = 1) -> "Vocabulary":
        """Builds a vocabulary of every word seen `min_count` times, most frequent first."""
        counts = Counter(w for c in captions for w in split_words(c))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and other.words == self.words

    def tokenize(self, caption: str) -> list:
        return [self.index.get(w, UNK_ID) for w in split_words(caption)]

    def encode(self, caption: str, max_words: int):
        """Ids padded/truncated to `max_words` (first words kept) and the kept length."""
        ids = self.tokenize(caption)[:max_words]
        out = np.zeros(max_words, np.int32)
        out[: len(ids)] = ids
        return out, len(ids)

    def encode_batch(self, captions, max_words: int):
        """(ids int32 [N, max_words], lengths int32 [N]) of many captions, as `encode`; a caption
        with no known word gets length 1 (its padding), as encoders need at least one step."""
        encoded = [self.encode(c, max_words) for c in captions]
        tokens = np.stack([e[0] for e in encoded]).astype(np.int32) if encoded else np.zeros((0, max_words), np.int32)
        return tokens, np.array([max(e[1], 1) for e in encoded], np.int32)

    def decode(self, ids) -> str:
        return " ".join(self.words[i] for i in ids if i != PAD_ID)

    def oov_fraction(self, caption: str) -> float:
        ids = self.tokenize(caption)
        return sum(i == UNK_ID for i in ids) / max(len(ids), 1)

    def encode_for_generation(self, caption, max_words: int, where: str = "caption"):
        """Like `encode`, after checking the caption; warns when every word is unknown."""
        caption = check_caption(caption, where)
        if self.oov_fraction(caption) == 1.0:
            warnings.warn(f"{where}: every word of {caption!r} is outside the vocabulary; the model "
                          "will see only <unk> tokens", stacklevel=2)
        return self.encode(caption, max_words)

    # -- TensorFlow view (stock ops only, for SavedModels) --------------------------------------
    def tf_table(self):
        import tensorflow as tf

        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.words[2:]), tf.range(2, len(self.words), dtype=tf.int64))
        return tf.lookup.StaticHashTable(init, default_value=UNK_ID)

    @staticmethod
    def tf_tokenize(captions, table, max_words: int):
        """captions: tf.string [B] -> (ids int32 [B, max_words], lengths int32 [B])."""
        import tensorflow as tf

        text = tf.strings.lower(captions, encoding="utf-8")  # Unicode-aware, as Python's str.lower
        text = tf.strings.regex_replace(text, r"[^a-z0-9_]+", " ")
        words = tf.strings.split(tf.strings.strip(text))
        ids = tf.ragged.map_flat_values(table.lookup, words)
        ids = ids[:, :max_words]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=PAD_ID, shape=[None, max_words])
        return tf.cast(dense, tf.int32), lengths

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str) -> str:
        path = os.path.join(directory, VOCAB_FILENAME)
        write_json_atomic(path, {"words": self.words})
        return path

    @classmethod
    def load(cls, directory: str) -> "Vocabulary":
        path = os.path.join(directory, VOCAB_FILENAME)
        if not os.path.exists(path):
            raise DataError(f"no vocabulary at {path}: the run directory should hold {VOCAB_FILENAME}")
        try:
            with open(path, encoding="utf-8") as f:
                words = json.load(f)["words"]
        except (ValueError, KeyError) as err:
            raise DataError(f"{path} is not a vocabulary file ({err})") from None
        return cls(words[2:])


def pad_token_lists(nested, depth: int):
    """Token-id lists nested `depth` lists deep (ragged at every level) -> (ids int32 [..., L],
    lengths int32 [...]) with `depth` leading dimensions, zero-padded to the longest list at each
    level (L >= 1).

    Example:
        >>> pad_token_lists([[[1, 2], [3]], [[4, 5, 6]]], depth=2)[1]   # [[2, 1], [3, 0]]
    """
    shape = [0] * (depth + 1)

    def measure(level, d):
        shape[d] = max(shape[d], len(level))
        if d < depth:
            for item in level:
                measure(item, d + 1)

    def fill(level, index):
        if len(index) == depth:
            ids[index][: len(level)], lengths[index] = level, len(level)
            return
        for i, item in enumerate(level):
            fill(item, index + (i,))

    measure(nested, 0)
    ids = np.zeros(shape[:-1] + [max(shape[-1], 1)], np.int32)
    lengths = np.zeros(shape[:-1], np.int32)
    fill(nested, ())
    return ids, lengths


def subsample_words(ids: np.ndarray, length: int, max_words: int, rng: np.random.Generator):
    """AttnGAN's training-time truncation: keep `max_words` random words, in their order."""
    if length <= max_words:
        out = np.zeros(max_words, ids.dtype)
        out[:length] = ids[:length]
        return out, length
    keep = np.sort(rng.choice(length, size=max_words, replace=False))
    return ids[keep], max_words


_CHAR_INDEX = {c: i + 1 for i, c in enumerate(dict.fromkeys(ALPHABET))}
NUM_CHARS = len(_CHAR_INDEX) + 1  # + padding/unknown code 0


def encode_chars(caption: str, length: int = CHAR_LENGTH) -> np.ndarray:
    """Character codes (1..len(alphabet), 0 = padding/unknown), truncated/padded to `length`."""
    codes = np.zeros(length, np.uint8)
    for k, ch in enumerate(caption.lower()[:length]):
        codes[k] = _CHAR_INDEX.get(ch, 0)
    return codes


def char_code_table() -> np.ndarray:
    """int32 [128]: the char-CNN-RNN code of each ASCII code point (0 outside the alphabet)."""
    return np.array([encode_chars(chr(c), 1)[0] for c in range(128)], np.int32)


def tf_encode_chars(captions, length: int = CHAR_LENGTH):
    """`encode_chars` in graph ops: tf.string [B] -> int32 [B, length].

    No lookup-table resource (a SavedModel signature could not hold one built per call): the
    alphabet is a constant [128] vector indexed by code point (every alphabet symbol is ASCII;
    other code points get 0, as in `encode_chars`). Lower-casing is Unicode-aware like Python's
    `str.lower` (e.g. the Kelvin sign becomes "k").
    """
    import tensorflow as tf

    table = tf.constant(char_code_table())
    lowered = tf.strings.lower(captions, encoding="utf-8")
    points = tf.strings.unicode_decode(lowered, "UTF-8", errors="replace")[:, :length]
    codes = tf.ragged.map_flat_values(
        lambda p: tf.where(p < 128, tf.gather(table, tf.clip_by_value(p, 0, 127)), 0), points)
    return tf.cast(codes.to_tensor(default_value=0, shape=[None, length]), tf.int32)
