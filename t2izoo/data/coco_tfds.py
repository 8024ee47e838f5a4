"""`coco_tfds`: MS-COCO 2014 captions through TensorFlow Datasets (`coco_captions`).

`root` is the TFDS `data_dir`. The first load streams the split once (JPEG bytes, decoded here
with PIL) into a uint8 [N, L, L, 3] cache under `cache_root()` with L = image_size * 76 / 64,
plus a JSON file of captions; later loads read only the cache. Splits follow COCO 2014 as
AttnGAN uses it: `train` = TFDS `train` (the 82,783 train2014 images), `test` = TFDS
`val+test+restval` (the 40,504 val2014 images, which Karpathy's split divides into those three).

As in `coco`: all captions of an image are kept (or the first `captions_per_image`), captions
without a word are dropped with one warning, class id = image index, unreadable images are
counted, warned about and left out (`strict=True` raises instead).

Reference: TFDS catalog `coco_captions/2014`; Xu et al., AttnGAN (CVPR 2018).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from t2izoo.data import text as text_lib
from t2izoo.data.base import cache_root, config_hash
from t2izoo.data.image_store import PreprocessedImageSet, decode_all, load_size
from t2izoo.errors import DataError
from t2izoo.utils.files import atomic_path, write_json_atomic

TFDS_NAME = "coco_captions"
TFDS_SPLITS = {"train": "train", "test": "val+test+restval"}
_CHUNK = 64
_SHOW_FAILED = 3


def _tfds_dataset(root: str, tfds_split: str, download: bool):
    import tensorflow_datasets as tfds

    try:
        return tfds.load(TFDS_NAME, split=tfds_split, data_dir=root, download=download,
                         decoders={"image": tfds.decode.SkipDecoding()})
    except Exception as err:  # TFDS raises several types for a missing or partial build
        raise DataError(f"cannot read TFDS {TFDS_NAME!r} split {tfds_split!r} from data_dir {root} "
                        f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); build it "
                        f"first with `tfds build {TFDS_NAME} --data_dir={root}` or pass download=True") from None


def _materialize(ds, side: int, stem: str, captions_per_image, num_workers: int) -> dict:
    """Streams `ds` into `<stem>.npy` (uint8 [N, side, side, 3]) and returns the metadata."""
    import tensorflow as tf

    count = int(ds.cardinality())
    if count < 0:  # unknown length: count first (metadata only, images stay encoded)
        count = int(ds.reduce(np.int64(0), lambda n, _: n + 1))
    meta = {"keys": [], "captions": [], "failed": [], "dropped_captions": 0}
    pending = []

    def flush():
        start = len(meta["keys"]) - len(pending)
        failures = decode_all(pending, [None] * len(pending), side, images[start:start + len(pending)],
                               num_workers)
        meta["failed"] += [[start + i, reason] for i, reason in failures]
        pending.clear()

    with atomic_path(stem + ".npy", ".npy") as tmp:
        images = np.lib.format.open_memmap(tmp, "w+", np.uint8, (count, side, side, 3))
        for example in ds.prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
            if len(meta["keys"]) >= count:
                raise DataError(f"TFDS {TFDS_NAME}: more examples than its cardinality {count}")
            name = example.get("image/filename", b"")
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            key = name or str(int(example.get("image/id", len(meta["keys"]))))
            captions = []
            for raw in np.asarray(example["captions"]["text"]).reshape(-1):
                try:
                    captions.append(text_lib.check_caption(raw, f"{TFDS_NAME}/{key}").strip())
                except DataError:
                    meta["dropped_captions"] += 1
            meta["keys"].append(key)
            meta["captions"].append(captions[:captions_per_image] if captions_per_image else captions)
            image = example["image"]
            pending.append(bytes(image) if isinstance(image, (bytes, np.bytes_)) else np.asarray(image))
            if len(pending) == _CHUNK:
                flush()
        if pending:
            flush()
        if len(meta["keys"]) != count:
            raise DataError(f"TFDS {TFDS_NAME}: read {len(meta['keys'])} examples, expected {count}")
        images.flush()
    write_json_atomic(stem + ".json", meta)  # written last: its presence marks a complete cache
    return meta


def load(root: str, split: str, image_size: int, captions_per_image: int | None = None, tfds_split=None,
         download: bool = False, strict: bool = False, num_workers: int | None = None) -> PreprocessedImageSet:
    """Loads one COCO split from TFDS `coco_captions` (cached after the first pass).

    Args:
        root: TFDS data_dir.
        split: `train` or `test`.
        image_size: largest side the model consumes; images are cached at image_size * 76 / 64.
        captions_per_image: keep at most this many captions per image (None: all).
        tfds_split: TFDS split string overriding the mapping of `split` (e.g. "val").
        download: let TFDS download and build the dataset if `root` lacks it.
        strict: raise on an unreadable image instead of skipping it.
        num_workers: decoding threads.
    """
    if split not in TFDS_SPLITS:
        raise DataError(f"coco_tfds has splits {tuple(TFDS_SPLITS)}, not {split!r}")
    tfds_split = tfds_split or TFDS_SPLITS[split]
    side = load_size(image_size)
    key = config_hash({"data_dir": os.path.abspath(root), "split": tfds_split, "size": side,
                       "captions": captions_per_image})
    stem = os.path.join(cache_root(), "coco_tfds", f"{split}_{side}_{key}")
    meta = None
    if os.path.exists(stem + ".json") and os.path.exists(stem + ".npy"):
        with open(stem + ".json", encoding="utf-8") as f:
            meta = json.load(f)
        images = np.load(stem + ".npy", mmap_mode="r")
        if images.shape != (len(meta["keys"]), side, side, 3):
            meta = None  # stale or interrupted cache
    if meta is None:
        if not os.path.isdir(root) and not download:
            raise DataError(f"missing TFDS data_dir {root}; build it with `tfds build {TFDS_NAME} "
                            f"--data_dir={root}` or pass download=True")
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        ds = _tfds_dataset(root, tfds_split, download)
        meta = _materialize(ds, side, stem, captions_per_image, num_workers or min(8, os.cpu_count() or 1))
        images = np.load(stem + ".npy", mmap_mode="r")
    n = len(meta["keys"])
    failed = dict((int(i), reason) for i, reason in meta["failed"])
    no_caption = [i for i, caps in enumerate(meta["captions"]) if not caps and i not in failed]
    if failed:
        first = "; ".join(f"{meta['keys'][i]} ({failed[i]})" for i in sorted(failed)[:_SHOW_FAILED])
        message = f"coco_tfds/{split}: {len(failed)} of {n} images could not be read; first: {first}"
        if strict or len(failed) == n:
            raise DataError(message)
        warnings.warn(message + ". They are left out of the split.", stacklevel=2)
    if meta["dropped_captions"] or no_caption:
        warnings.warn(f"coco_tfds/{split}: dropped {meta['dropped_captions']} empty or non-UTF-8 captions; "
                      f"{len(no_caption)} images have no caption left and are left out", stacklevel=2)
    keep = np.array([i for i in range(n) if i not in failed and meta["captions"][i]], np.int64)
    if not len(keep):
        raise DataError(f"coco_tfds/{split}: no readable image with a caption")
    return PreprocessedImageSet("coco_tfds", split, images, [meta["captions"][i] for i in keep],
                                np.arange(len(keep)), [meta["keys"][i] for i in keep], rows=keep)
