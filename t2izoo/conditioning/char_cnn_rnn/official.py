"""The official char-CNN-RNN embeddings that StackGAN and StackGAN-v2 ship, read with their captions.

Reed et al.'s text encoder is a Torch7 model that neither StackGAN nor this zoo runs; the StackGAN
repositories give its output instead, per split:

    <root>/<split>/char-CNN-RNN-embeddings.pickle   float [N, 10, 1024] (a Python 2 pickle)
    <root>/<split>/filenames.pickle                  N names "<class>/<image>", the same order
    <root>/text/<class>/<image>.txt                  the captions, one per line, the same order
                                                     (`text_c10/` in StackGAN-v1's layout)

`read_official_embeddings` pairs every caption with its embedding; a converted run keeps them as
a `CharEmbeddingTable` (t2izoo/encoders/char_embedding_table.py).
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from t2izoo.convert.state_dict import ConversionError
from t2izoo.data import text as text_lib

TEXT_DIRS = ("text", "text_c10")


def _load_pickle(path: str, what: str):
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")  # StackGAN's pickles were written by Python 2
    except FileNotFoundError:
        raise ConversionError(f"{path}: not found ({what})") from None
    except Exception as err:  # noqa: BLE001 (a truncated or foreign file: one line)
        raise ConversionError(f"{path}: not a readable pickle ({what}): {type(err).__name__}") from None


def _caption_file(root: str, name: str, source: str) -> str:
    for folder in TEXT_DIRS:
        path = os.path.join(root, folder, f"{name}.txt")
        if os.path.exists(path):
            return path
    raise ConversionError(f"{source}: no captions for {name!r} (looked for "
                          f"{' or '.join(os.path.join(root, d, name + '.txt') for d in TEXT_DIRS)})")


def read_split(path: str):
    """(captions, embeddings [K, D]) of one `char-CNN-RNN-embeddings.pickle`: caption j of image i
    is line j of its caption file (empty lines skipped, as the StackGAN loaders do)."""
    embeddings = _load_pickle(path, "the official char-CNN-RNN embeddings")
    try:
        embeddings = np.asarray(embeddings, np.float32)
    except (TypeError, ValueError):
        raise ConversionError(f"{path}: not an array of embeddings [images, captions, D]") from None
    if embeddings.ndim != 3 or not embeddings.size:
        raise ConversionError(f"{path}: embeddings of shape {embeddings.shape}; expected [images, captions, D]")
    folder = os.path.dirname(os.path.abspath(path))
    names_path = os.path.join(folder, "filenames.pickle")
    names = _load_pickle(names_path, "the image names of these embeddings")
    if not isinstance(names, (list, tuple)) or len(names) != len(embeddings):
        count = len(names) if isinstance(names, (list, tuple)) else type(names).__name__
        raise ConversionError(f"{names_path}: {count} image names for {len(embeddings)} images of embeddings in {path}")
    root = os.path.dirname(folder)
    captions, vectors = [], []
    for name, rows in zip(names, embeddings):
        caption_path = _caption_file(root, str(name), path)
        with open(caption_path, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
        if len(lines) < len(rows):
            raise ConversionError(f"{caption_path}: {len(lines)} captions for {len(rows)} embeddings in {path}")
        captions.extend(lines[: len(rows)])
        vectors.append(rows)
    return captions, np.concatenate(vectors)


def read_official_embeddings(paths):
    """(captions, embeddings [K, D]) of one or more splits, one row per distinct caption (by its char
    codes: the key a `CharEmbeddingTable` looks up; the Torch7 encoder saw the same text, so a
    repeated caption has one embedding)."""
    paths = [p for p in ([paths] if isinstance(paths, str) else paths) if p]
    if not paths:
        raise ConversionError("--embeddings: give the official char-CNN-RNN-embeddings.pickle (comma-separated for several splits)")
    captions, vectors, seen = [], [], set()
    dim = None
    for path in paths:
        split_captions, split_vectors = read_split(path)
        if dim is not None and split_vectors.shape[1] != dim:
            raise ConversionError(f"{path}: {split_vectors.shape[1]}-d embeddings; {paths[0]} has {dim}-d")
        dim = split_vectors.shape[1]
        for caption, vector in zip(split_captions, split_vectors):
            key = text_lib.encode_chars(caption).tobytes()
            if key not in seen:
                seen.add(key)
                captions.append(caption)
                vectors.append(vector)
    return captions, np.stack(vectors)
