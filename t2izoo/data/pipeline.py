"""tf.data pipeline: one batch per training step, deterministic in (seed, step).

Each batch is assembled in NumPy from the in-memory/memory-mapped split by a pure function of
the step number, so the stream is reproducible, can start at any step (exact resume), and
parallel `map` calls cannot reorder it. Under a `tf.distribute` strategy the global batch is
split over replicas by `strategy.experimental_distribute_dataset` (Keras `fit` does this).

A batch is a dict:
    image_<s>       float32 [B, s, s, 3] in [-1, 1], one entry per requested scale s
    tokens          int32 [B, max_words] word ids (0 = padding), lengths int32 [B]
    wrong_tokens    ... of a caption of another image, from another class where classes exist
    wrong_lengths
    wrong_image_<s>, wrong_index   with `wrong_images`: the images those wrong captions describe
    chars, wrong_chars   int32 [B, 201] character codes (when `with_chars`)
    embedding, wrong_embedding  float32 [B, D] mean of `num_embeddings` random precomputed caption
                    embeddings of the image (when `caption_embeddings` is given; GAN-INT-CLS
                    averages 4, StackGAN samples 4)
                    With `hard_negative_fraction` > 0 and `hard_negative_embeddings`, that
                    fraction of the rows' wrong_embedding is instead a precomputed embedding of
                    the row's own scene with one attribute changed (a non-paper option); with
                    `hard_negative_tokens`, that fraction of the rows' wrong_tokens/wrong_lengths
                    is instead a caption of the row's own scene changed in one way
    hard_chars      int32 [B, 201] with `hard_negative_chars`: a caption of the row's own scene
                    changed in one way (random kind and caption per row; a non-paper option)
    class_ids, wrong_class_ids  int32 [B]
    index           int32 [B] image index in the split
    attributes      int32 [B, objects, 5] (datasets with ground truth, i.e. `shapes`)
    pair_*          with `siamese_pairs` (SD-GAN): a second example per row, with the keys above
                    (image_<s>, tokens, lengths, wrong_tokens, wrong_lengths, class_ids, ...):
                    another caption of the same image (pair_same = 1, a `same_pair_fraction` of
                    the rows) or a caption of another image, from another class where classes
                    exist (pair_same = 0); pair_same float32 [B]
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from t2izoo.data import text as text_lib
from t2izoo.data.base import CaptionedImageSet
from t2izoo.errors import DataError

_MISMATCH_TRIES = 8


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """What each batch contains.

    Args:
        image_sizes: scales to produce, e.g. (64,) or (64, 128, 256).
        batch_size: global batch size.
        max_words: words per caption; longer training captions are randomly subsampled with
            their order kept (AttnGAN), evaluation captions keep their first words.
        with_chars: add character codes for char-CNN-RNN.
        num_embeddings: precomputed caption embeddings averaged per sample.
        training: random captions, augmentation and reshuffling each epoch; otherwise a
            single ordered pass with each image's first caption.
        seed: seed of every random choice.
        hard_negative_fraction: fraction of the rows whose `wrong_embedding` (with
            `hard_negative_embeddings`) or `wrong_tokens` (with `hard_negative_tokens`) is a hard
            negative; 0 keeps every batch as without it.
        wrong_images: add `wrong_image_<s>`, the images of the mismatched captions' images
            (icml2016's wrong pair is {wrong image, right text}).
        siamese_pairs: training batches get `pair_*` keys (SD-GAN's Siamese pairs); drawn after
            everything else, so the other keys stay as without it.
        same_pair_fraction: the expected fraction of pairs from the same image.
    """

    image_sizes: tuple = (64,)
    batch_size: int = 64
    max_words: int = 18
    with_chars: bool = False
    num_embeddings: int = 4
    training: bool = True
    seed: int = 0
    hard_negative_fraction: float = 0.0
    wrong_images: bool = False
    siamese_pairs: bool = False
    same_pair_fraction: float = 0.5


class EncodedCaptions:
    """All captions of a split tokenized once: ids [N, C, L], lengths [N, C], counts [N]."""

    def __init__(self, image_set: CaptionedImageSet, vocab: text_lib.Vocabulary, with_chars: bool):
        n = len(image_set)
        self.counts = np.array([len(c) for c in image_set.captions], np.int32)
        self.ids, self.lengths = text_lib.pad_token_lists(
            [[vocab.tokenize(c) for c in caps] for caps in image_set.captions], depth=2)
        self.chars = None
        if with_chars:
            self.chars = np.zeros((n, self.counts.max(), text_lib.CHAR_LENGTH), np.uint8)
            for i, caps in enumerate(image_set.captions):
                for j, c in enumerate(caps):
                    self.chars[i, j] = text_lib.encode_chars(c)


class BatchAssembler:
    """Builds batch `step` as a dict of NumPy arrays; a pure function of (options, step)."""

    def __init__(self, image_set: CaptionedImageSet, vocab: text_lib.Vocabulary,
                 options: PipelineOptions, caption_embeddings=None, hard_negative_embeddings=None,
                 hard_negative_chars=None, hard_negative_tokens=None):
        image_set.check()
        self.image_set = image_set
        self.options = options
        self.n = len(image_set)
        if options.training and self.n < 2:
            raise DataError(f"{image_set.describe()}: training needs at least 2 images (for mismatched captions)")
        self.encoded = EncodedCaptions(image_set, vocab, options.with_chars)
        self.class_ids = np.asarray(image_set.class_ids, np.int32)
        self.embeddings = None
        if caption_embeddings is not None:
            caption_embeddings = np.asarray(caption_embeddings, np.float32)
            if caption_embeddings.shape[:2] != self.encoded.ids.shape[:2] or caption_embeddings.ndim != 3:
                raise DataError(f"caption embeddings of shape {caption_embeddings.shape} do not match "
                                f"{self.n} images x {self.encoded.ids.shape[1]} captions")
            self.embeddings = caption_embeddings
        self.hard_negatives = None
        self.hard_tokens = None
        if options.hard_negative_fraction > 0 and options.training and hard_negative_tokens is not None:
            ids, lengths = (np.asarray(a, np.int32) for a in hard_negative_tokens)
            if ids.ndim != 4 or ids.shape[0] != self.n or lengths.shape != ids.shape[:3]:
                raise DataError(f"hard-negative tokens of shape {ids.shape} (lengths {lengths.shape}) do not match "
                                f"{self.n} images x kinds x captions x words")
            self.hard_tokens = ids, lengths
        elif options.hard_negative_fraction > 0 and options.training:
            if hard_negative_embeddings is None or self.embeddings is None:
                raise DataError("hard_negative_fraction > 0 needs caption and hard-negative embeddings, or "
                                "hard-negative tokens")
            hard = np.asarray(hard_negative_embeddings, np.float32)
            if hard.ndim != 3 or hard.shape[0] != self.n or hard.shape[2] != self.embeddings.shape[2]:
                raise DataError(f"hard-negative embeddings of shape {hard.shape} do not match {self.n} images x "
                                f"{self.embeddings.shape[2]}-d embeddings")
            self.hard_negatives = hard
        self.hard_chars = None
        if hard_negative_chars is not None and options.training:
            hard_chars = np.asarray(hard_negative_chars)
            if hard_chars.ndim != 4 or hard_chars.shape[0] != self.n or hard_chars.shape[3] != text_lib.CHAR_LENGTH:
                raise DataError(f"hard-negative characters of shape {hard_chars.shape} do not match {self.n} images "
                                f"x kinds x captions x {text_lib.CHAR_LENGTH} characters")
            self.hard_chars = hard_chars

    def num_steps_per_epoch(self) -> int:
        b = self.options.batch_size
        return self.n // b if self.options.training else -(-self.n // b)

    @functools.lru_cache(maxsize=4)
    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.options.seed, 7919, epoch]).permutation(self.n)

    def _indices(self, step: int) -> np.ndarray:
        b = self.options.batch_size
        if not self.options.training:
            return np.arange(step * b, min((step + 1) * b, self.n))
        positions = step * b + np.arange(b)
        per_epoch = self.num_steps_per_epoch() * b  # drop the remainder of each epoch
        epochs, offsets = positions // per_epoch, positions % per_epoch
        return np.array([self._permutation(int(e))[o] for e, o in zip(epochs, offsets)])

    def _mismatch(self, indices: np.ndarray, rng) -> np.ndarray:
        """Another image for each index, from another class when one is found."""
        candidates = (indices[:, None] + 1 + rng.integers(0, self.n - 1, (len(indices), _MISMATCH_TRIES))) % self.n
        other_class = self.class_ids[candidates] != self.class_ids[indices][:, None]
        first = np.where(other_class.any(1), other_class.argmax(1), 0)
        return candidates[np.arange(len(indices)), first]

    def _captions(self, indices, caption_idx, rng, prefix: str, out: dict):
        o = self.options
        tokens = np.zeros((len(indices), o.max_words), np.int32)
        lengths = np.zeros(len(indices), np.int32)
        for k, (i, j) in enumerate(zip(indices, caption_idx)):
            ids, length = self.encoded.ids[i, j], self.encoded.lengths[i, j]
            if rng is not None:
                tokens[k], lengths[k] = text_lib.subsample_words(ids, length, o.max_words, rng)
            else:
                keep = min(length, o.max_words)
                tokens[k, :keep], lengths[k] = ids[:keep], keep
        out[prefix + "tokens"], out[prefix + "lengths"] = tokens, lengths
        if o.with_chars:
            out[prefix + "chars"] = self.encoded.chars[indices, caption_idx].astype(np.int32)
        if self.embeddings is not None:
            if rng is None:
                out[prefix + "embedding"] = self.embeddings[indices, caption_idx]
            else:  # mean of num_embeddings random captions of the image (numCaption in icml2016)
                counts = self.encoded.counts[indices][:, None]
                picks = rng.integers(0, 1 << 30, (len(indices), o.num_embeddings)) % counts
                out[prefix + "embedding"] = self.embeddings[indices[:, None], picks].mean(1)

    def __call__(self, step: int) -> dict:
        o = self.options
        rng = np.random.default_rng([o.seed, int(step)]) if o.training else None
        indices = self._indices(int(step))
        counts = self.encoded.counts[indices]
        caption_idx = rng.integers(0, 1 << 30, len(indices)) % counts if rng is not None else np.zeros_like(indices)
        out = {"index": indices.astype(np.int32), "class_ids": self.class_ids[indices]}
        images = self.image_set.load_images(indices, o.image_sizes, rng)
        for s in o.image_sizes:
            out[f"image_{s}"] = images[s]
        self._captions(indices, caption_idx, rng, "", out)
        if o.training:
            wrong = self._mismatch(indices, rng)
            wrong_caption = rng.integers(0, 1 << 30, len(wrong)) % self.encoded.counts[wrong]
            out["wrong_class_ids"] = self.class_ids[wrong]
            self._captions(wrong, wrong_caption, rng, "wrong_", out)
            if self.hard_negatives is not None:  # drawn last: other draws stay as without it
                hard = rng.random(len(indices)) < o.hard_negative_fraction
                kind = rng.integers(0, self.hard_negatives.shape[1], len(indices))
                out["wrong_embedding"][hard] = self.hard_negatives[indices[hard], kind[hard]]
            if self.hard_tokens is not None:  # drawn after the wrong captions: those stay as without it
                self._hard_tokens(indices, rng, out)
            if self.hard_chars is not None:
                kind = rng.integers(0, self.hard_chars.shape[1], len(indices))
                caption = rng.integers(0, self.hard_chars.shape[2], len(indices))
                out["hard_chars"] = self.hard_chars[indices, kind, caption].astype(np.int32)
            if o.wrong_images:  # drawn last: other draws stay as without it
                out["wrong_index"] = wrong.astype(np.int32)
                wrong_images = self.image_set.load_images(wrong, o.image_sizes, rng)
                for s in o.image_sizes:
                    out[f"wrong_image_{s}"] = wrong_images[s]
        if self.image_set.attributes is not None:
            out["attributes"] = np.asarray(self.image_set.attributes[indices], np.int32)
        if o.training and o.siamese_pairs:  # drawn last: the keys above stay as without pairs
            self._siamese_pairs(indices, caption_idx, rng, out)
        return out

    def _hard_tokens(self, indices, rng, out: dict):
        """Replaces a `hard_negative_fraction` of the rows' wrong_tokens/wrong_lengths with a
        caption of the row's own scene changed in one way (random kind and caption per row)."""
        ids, lengths = self.hard_tokens
        hard = rng.random(len(indices)) < self.options.hard_negative_fraction
        kind = rng.integers(0, ids.shape[1], len(indices))
        caption = rng.integers(0, ids.shape[2], len(indices))
        for k in np.flatnonzero(hard):
            i, j, c = indices[k], kind[k], caption[k]
            out["wrong_tokens"][k], out["wrong_lengths"][k] = text_lib.subsample_words(
                ids[i, j, c], lengths[i, j, c], self.options.max_words, rng)

    def _siamese_pairs(self, indices, caption_idx, rng, out: dict):
        """pair_* keys: per row, another caption of the same image or a caption of another image."""
        o = self.options
        counts = self.encoded.counts[indices]
        same = (rng.random(len(indices)) < o.same_pair_fraction) & (counts > 1)
        pair = np.where(same, indices, self._mismatch(indices, rng))
        other_caption = (caption_idx + 1 + rng.integers(0, 1 << 30, len(indices)) % np.maximum(counts - 1, 1)) % counts
        pair_caption = np.where(same, other_caption,
                                rng.integers(0, 1 << 30, len(indices)) % self.encoded.counts[pair])
        out["pair_same"] = same.astype(np.float32)
        out["pair_index"] = pair.astype(np.int32)
        out["pair_class_ids"] = self.class_ids[pair]
        images = self.image_set.load_images(pair, o.image_sizes, rng)
        for s in o.image_sizes:
            out[f"pair_image_{s}"] = images[s]
        self._captions(pair, pair_caption, rng, "pair_", out)
        wrong = self._mismatch(pair, rng)
        out["pair_wrong_class_ids"] = self.class_ids[wrong]
        self._captions(wrong, rng.integers(0, 1 << 30, len(wrong)) % self.encoded.counts[wrong], rng,
                       "pair_wrong_", out)


def is_image_key(key: str) -> bool:
    """`image_<s>`, `wrong_image_<s>` and `pair_image_<s>`: uint8 in the assembler, [-1, 1] floats in
    the model."""
    return key.startswith(("image_", "wrong_image_", "pair_image_"))


def image_to_float(images):
    """uint8 images -> float32 in [-1, 1] (TF tensors or NumPy arrays)."""
    return images / 127.5 - 1.0


def tensor_batch(batch: dict) -> dict:
    """A NumPy batch from `BatchAssembler` as the tensors the model sees (images in [-1, 1])."""
    import tensorflow as tf

    return {k: tf.constant(image_to_float(v.astype(np.float32)) if is_image_key(k) else v)
            for k, v in batch.items()}


def make_dataset(image_set: CaptionedImageSet, vocab: text_lib.Vocabulary, options: PipelineOptions,
                 caption_embeddings=None, start_step: int = 0, num_steps=None, hard_negative_embeddings=None,
                 hard_negative_chars=None, hard_negative_tokens=None):
    """A tf.data.Dataset of batch dicts from step `start_step` on.

    Training streams repeat forever unless `num_steps` is given; evaluation streams make one
    ordered pass over the split.
    """
    import tensorflow as tf

    assembler = BatchAssembler(image_set, vocab, options, caption_embeddings, hard_negative_embeddings,
                               hard_negative_chars, hard_negative_tokens)
    if not options.training:
        num_steps = assembler.num_steps_per_epoch() if num_steps is None else num_steps
    example = assembler(0)
    keys = sorted(example)
    dtypes = [tf.as_dtype(example[k].dtype) for k in keys]

    def assemble(step):
        batch = assembler(int(step))
        return [batch[k] for k in keys]

    def to_dict(step):
        values = tf.numpy_function(assemble, [step], dtypes, stateful=False)
        out = {}
        for k, v in zip(keys, values):
            shape = list(example[k].shape)
            shape[0] = options.batch_size if options.training else None
            v.set_shape(shape)
            if is_image_key(k):
                v = image_to_float(tf.cast(v, tf.float32))
            out[k] = v
        return out

    stop = start_step + num_steps if num_steps is not None else np.iinfo(np.int64).max
    steps = tf.data.Dataset.range(start_step, stop)
    ds = steps.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
