"""Atomic writes: a file appears complete or not at all (a run killed mid-write, or two
processes writing the same cache, never leave a half-written file under the final name)."""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """Yields a temporary path beside `path`; renames it to `path` when the block succeeds and
    removes it when it fails.

    Args:
        path: the final file.
        suffix: kept at the end of the temporary name, for writers that pick the format from
            it or append it when missing (".png", ".npy", ".npz", ".weights.h5").

    Example:
        >>> with atomic_path("grid.png", ".png") as tmp:
        ...     image.save(tmp)
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path: str, data: bytes) -> str:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return path


def write_json_atomic(path: str, obj, **kwargs) -> str:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, **kwargs)
    return path


def save_npy_atomic(path: str, array) -> str:
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, array)
    return path
