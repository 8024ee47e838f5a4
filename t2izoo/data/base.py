"""The one interface every dataset implements: a split of captioned images in memory.

`CaptionedImageSet` holds the captions, class ids (and, for `shapes`, ground-truth attributes)
of a split and serves uint8 image batches at the requested scales. The tf.data pipeline
(`t2izoo.data.pipeline`) and the evaluators only talk to this interface, so a new dataset is
one subclass that implements `load_images`.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os

import numpy as np

from t2izoo.errors import DataError
from t2izoo.utils.files import save_npy_atomic


def cache_root() -> str:
    """Where preprocessed arrays are cached (`$T2IZOO_CACHE`, default ~/.cache/t2izoo)."""
    return os.environ.get("T2IZOO_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "t2izoo"))


def config_hash(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def cached_array(path: str, build, expected_shape=None) -> np.ndarray:
    """Loads `path` (.npy, memory-mapped) or builds it with `build()` and writes it atomically.

    A cache file of the wrong shape (an interrupted or stale build) is rebuilt.
    """
    if os.path.exists(path):
        try:
            arr = np.load(path, mmap_mode="r")
            if expected_shape is None or tuple(arr.shape) == tuple(expected_shape):
                return arr
        except (ValueError, OSError):
            pass
    arr = build()
    save_npy_atomic(path, arr)
    return np.load(path, mmap_mode="r")


class CaptionedImageSet(abc.ABC):
    """One split of a text-to-image dataset.

    Attributes:
        name: dataset name (`shapes`, `cub`, `flowers`, `coco`, `folder`).
        split: split name.
        captions: list of N lists of caption strings (at least one per image).
        class_ids: int32 [N]; mismatched captions are drawn from other classes. Datasets without
            classes use the image index (every image is its own class, as AttnGAN does for COCO).
        attributes: int32 [N, objects, 5] ground truth for `shapes`, else None.
        flip: whether random horizontal flips are valid augmentation (not for `shapes`, whose
            captions name left and right).
    """

    name: str
    split: str
    captions: list
    class_ids: np.ndarray
    attributes = None
    flip = True

    def __len__(self) -> int:
        return len(self.captions)

    @abc.abstractmethod
    def load_images(self, indices, sizes, rng=None) -> dict:
        """uint8 [len(indices), s, s, 3] for each s in `sizes`.

        With `rng` (training) the dataset applies its random augmentation; without it the
        result is deterministic (centre crop, no flip).
        """

    def describe(self) -> str:
        return f"{self.name}/{self.split}: {len(self)} images"

    def check(self):
        """Raises DataError for an empty split or images without captions."""
        if len(self) == 0:
            raise DataError(f"{self.describe()}: the split is empty")
        missing = [i for i, caps in enumerate(self.captions) if not caps]
        if missing:
            raise DataError(f"{self.name}/{self.split}: {len(missing)} images have no captions "
                            f"(first: index {missing[0]})")
        if len(self.class_ids) != len(self):
            raise DataError(f"{self.name}/{self.split}: {len(self.class_ids)} class ids for {len(self)} images")
