"""Image files preprocessed once into a uint8 cache, served with StackGAN/AttnGAN augmentation.

Every real dataset (`cub`, `flowers`, `coco`, `folder`) lists its images as `Example`s and hands
them to `FileImageSet`, which:

* decodes every image once (PIL, RGB, optional bounding-box crop, bicubic resize to the load
  size L = image_size * 76 / 64, e.g. 64 -> 76 and 256 -> 304) into one uint8 [N, L, L, 3] .npy
  under `cache_root()`, as StackGAN's `76images.pickle` / `304images.pickle`;
* skips unreadable images with one warning that counts them (or raises `DataError` with
  `strict=True`, or when none can be read);
* serves batches: training crops a random max(sizes) square and flips with p = 0.5 (AttnGAN's
  `Scale(imsize * 76 / 64)` + `RandomCrop(imsize)` + `RandomHorizontalFlip`), evaluation crops
  the centre without flipping; smaller scales are resized down from the crop.

Reference: Zhang et al., StackGAN (ICCV 2017), misc/preprocess_birds.py; Xu et al., AttnGAN
(CVPR 2018), code/datasets.py `get_imgs`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import os
import warnings

import numpy as np
from PIL import Image

from t2izoo.data.base import CaptionedImageSet, cache_root, cached_array, config_hash
from t2izoo.errors import DataError

_SHOW_FAILED = 3  # file names quoted in the skip warning


def load_size(image_size: int) -> int:
    """Side of the cached images: image_size * 76 / 64 (64 -> 76, 128 -> 152, 256 -> 304)."""
    return int(image_size) * 76 // 64


@dataclasses.dataclass(frozen=True)
class Example:
    """One image file and its captions.

    Args:
        image_path: path of the image file.
        captions: tuple of caption strings (at least one).
        class_id: class for mismatched captions (the example's index when there are no classes).
        bbox: (x, y, width, height) in pixels to crop around (CUB), or None.
        key: the dataset's name for the image (e.g. `001.Black_footed_Albatross/..._0046_18`).
    """

    image_path: str
    captions: tuple
    class_id: int
    bbox: tuple | None = None
    key: str = ""


def bbox_crop_box(bbox, width: int, height: int) -> tuple:
    """StackGAN/AttnGAN bird crop: (x1, y1, x2, y2) of a square around the box, clipped.

    The square has half-side R = int(0.75 * max(w, h)) and is centred on
    (cx, cy) = (int(x + w / 2), int(y + h / 2)); borders clip it, so it can become a rectangle.

    Args:
        bbox: (x, y, w, h) of the CUB bounding box.
        width, height: image size in pixels.

    Example:
        >>> bbox_crop_box((10, 20, 40, 20), 100, 100)
        (0, 0, 60, 60)

    Reference: AttnGAN code/datasets.py `get_imgs`; StackGAN misc/utils.py `custom_crop`.
    """
    x, y, w, h = bbox
    r = int(0.75 * max(w, h))
    cx, cy = int(x + w / 2), int(y + h / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def preprocess_image(source, size: int, bbox=None) -> np.ndarray:
    """Decodes `source` (path, encoded bytes or uint8 array), crops `bbox` if given, resizes to
    uint8 [size, size, 3]."""
    if isinstance(source, np.ndarray):
        img = Image.fromarray(np.squeeze(source).astype(np.uint8)).convert("RGB")
    else:
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        with Image.open(source) as img:
            img = img.convert("RGB")  # forces the full decode, so truncated files fail here
    if bbox is not None:
        img = img.crop(bbox_crop_box(bbox, img.width, img.height))
    return np.asarray(img.resize((size, size), Image.BICUBIC), np.uint8)


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    """Resizes uint8 [B, s, s, 3] to [B, size, size, 3] (PIL bilinear, antialiased when shrinking)."""
    if images.shape[1] == size:
        return images
    out = np.empty((len(images), size, size, 3), np.uint8)
    for k, img in enumerate(images):
        out[k] = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return out


def decode_all(sources, bboxes, size: int, out: np.ndarray, num_workers: int) -> list:
    """Fills out[i] with `preprocess_image(sources[i], size, bboxes[i])` on `num_workers` threads.

    Returns (index, reason) for each source that could not be decoded (its row is zeroed).
    """

    def work(i):
        try:
            out[i] = preprocess_image(sources[i], size, bboxes[i])
            return None
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            out[i] = 0
            return i, "file not found" if isinstance(err, FileNotFoundError) else f"{type(err).__name__}: {err}"

    if num_workers <= 1 or len(sources) < 2:
        results = [work(i) for i in range(len(sources))]
    else:
        with concurrent.futures.ThreadPoolExecutor(num_workers) as pool:
            results = list(pool.map(work, range(len(sources))))
    return [r for r in results if r is not None]


class PreprocessedImageSet(CaptionedImageSet):
    """A split whose images are already a uint8 [N, L, L, 3] array (in memory or memory-mapped).

    Args:
        name: dataset name.
        split: split name.
        images: uint8 [M, L, L, 3], L = image_size * 76 / 64.
        captions: N lists of caption strings.
        class_ids: int [N].
        keys: N image names (for messages and evaluation files).
        flip: whether horizontal flips are valid augmentation.
        rows: int [N], the row of `images` holding each image (default: 0..N-1); lets a split
            skip unreadable rows of a memory-mapped cache without copying it.

    Example:
        >>> ds = PreprocessedImageSet("demo", "train", np.zeros((2, 76, 76, 3), np.uint8),
        ...                           [["a bird"], ["a flower"]], [0, 1])
        >>> ds.load_images([1], sizes=(32, 64))[32].shape
        (1, 32, 32, 3)
    """

    def __init__(self, name: str, split: str, images: np.ndarray, captions, class_ids, keys=None,
                 flip: bool = True, rows=None):
        rows = np.arange(len(images)) if rows is None else np.asarray(rows, np.int64)
        if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 3:
            raise DataError(f"{name}/{split}: images must be [N, L, L, 3], got {images.shape}")
        if len(rows) != len(captions):
            raise DataError(f"{name}/{split}: {len(rows)} images but {len(captions)} caption lists")
        self.name = name
        self.split = split
        self.images = images
        self.rows = rows
        self.captions = [list(c) for c in captions]
        self.class_ids = np.asarray(class_ids, np.int32)
        self.keys = list(keys) if keys is not None else [str(i) for i in range(len(captions))]
        self.flip = flip

    @property
    def load_size(self) -> int:
        return int(self.images.shape[1])

    def load_images(self, indices, sizes, rng=None) -> dict:
        """uint8 [B, s, s, 3] for each s in `sizes`, cropped from the L x L cache.

        With `rng`: a random max(sizes) crop (offsets from `rng`) and, when `self.flip`, a
        horizontal flip with probability 0.5; without: the centre crop. Smaller sizes are
        resized down from that crop, so all scales show the same view.
        """
        indices = np.asarray(indices, np.int64).reshape(-1)
        sizes = tuple(int(s) for s in sizes)
        crop, side = max(sizes), self.load_size
        if crop > side:
            raise DataError(f"{self.describe()}: cached at {side} px, cannot serve {crop} px; load the "
                            f"split with image_size >= {crop}")
        rows = self.rows[indices]
        order = np.argsort(rows, kind="stable")  # sorted reads are faster on a memory map
        full = np.empty((len(indices), side, side, 3), np.uint8)
        full[order] = self.images[rows[order]]
        if rng is not None:
            offsets = rng.integers(0, side - crop + 1, size=(len(indices), 2))
            flips = rng.random(len(indices)) < 0.5
        else:
            offsets = np.full((len(indices), 2), (side - crop) // 2)
            flips = np.zeros(len(indices), bool)
        big = np.empty((len(indices), crop, crop, 3), np.uint8)
        for k, (y, x) in enumerate(offsets):
            view = full[k, y:y + crop, x:x + crop]
            big[k] = view[:, ::-1] if (self.flip and flips[k]) else view
        return {s: resize_batch(big, s) for s in sizes}


class FileImageSet(PreprocessedImageSet):
    """A split of image files, decoded once into a cached uint8 [N, L, L, 3] array.

    Args:
        name: dataset name (part of the cache key).
        split: split name.
        examples: list of `Example`.
        image_size: largest side the model consumes; images are cached at
            L = image_size * 76 / 64.
        strict: raise `DataError` on the first unreadable image instead of skipping it.
        flip: whether horizontal flips are valid augmentation.
        num_workers: decoding threads (default: min(8, CPU count)).
        cache: keep the preprocessed array under `cache_root()`; otherwise hold it in memory.

    Example:
        >>> examples = [Example("a.jpg", ("a red bird",), 0), Example("b.jpg", ("a blue bird",), 1)]
        >>> ds = FileImageSet("folder", "train", examples, image_size=64)  # caches 76 x 76
        >>> ds.load_images([0], sizes=(64,), rng=np.random.default_rng(0))[64].shape
        (1, 64, 64, 3)

    Reference: StackGAN misc/preprocess_birds.py (76images.pickle / 304images.pickle).
    """

    def __init__(self, name: str, split: str, examples, image_size: int, strict: bool = False,
                 flip: bool = True, num_workers: int | None = None, cache: bool = True):
        examples = list(examples)
        if not examples:
            raise DataError(f"{name}/{split}: no images listed")
        self.image_size = int(image_size)
        self.strict = strict
        side = load_size(image_size)
        num_workers = num_workers or min(8, os.cpu_count() or 1)
        paths = [e.image_path for e in examples]
        bboxes = [e.bbox for e in examples]
        decoded = {}
        scratch = None

        def decode():
            if "images" not in decoded:
                shape = (len(examples), side, side, 3)
                # Decode into a scratch file when caching, so a large split never sits in RAM.
                target = (np.lib.format.open_memmap(scratch, "w+", np.uint8, shape) if scratch
                          else np.zeros(shape, np.uint8))
                decoded["failed"] = decode_all(paths, bboxes, side, target, num_workers)
                decoded["images"] = target
            return decoded["images"]

        def failed_mask():
            decode()
            mask = np.zeros(len(examples), bool)
            mask[[i for i, _ in decoded["failed"]]] = True
            return mask

        if cache:
            key = config_hash({"name": name, "split": split, "size": side,
                               "files": [(p, b, _file_stamp(p)) for p, b in zip(paths, bboxes)]})
            stem = os.path.join(cache_root(), name, f"{split}_{side}_{key}")
            os.makedirs(os.path.dirname(stem), exist_ok=True)
            scratch = f"{stem}.{os.getpid()}.build.npy"
            try:
                failed = np.asarray(cached_array(stem + "_failed.npy", failed_mask, (len(examples),)))
                images = cached_array(stem + ".npy", decode, (len(examples), side, side, 3))
            finally:
                decoded.pop("images", None)
                if os.path.exists(scratch):
                    os.remove(scratch)
        else:
            images, failed = decode(), failed_mask()
        reasons = dict(decoded.get("failed", []))
        bad = np.flatnonzero(failed)
        if len(bad):
            names = [f"{paths[i]} ({reasons[i]})" if i in reasons else paths[i] for i in bad[:_SHOW_FAILED]]
            message = (f"{name}/{split}: {len(bad)} of {len(examples)} images could not be read; first: "
                       + "; ".join(names))
            if strict or len(bad) == len(examples):
                raise DataError(message + ("" if strict else " (no readable image left)"))
            warnings.warn(message + ". They are left out of the split.", stacklevel=3)
        keep = np.flatnonzero(~failed)
        self.examples = [examples[i] for i in keep]
        super().__init__(name, split, images, [list(e.captions) for e in self.examples],
                         [e.class_id for e in self.examples], [e.key or e.image_path for e in self.examples],
                         flip=flip, rows=keep)


def _file_stamp(path: str):
    """(size, mtime) so a replaced file rebuilds the cache; None for a missing file."""
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return None


def describe_layout(layout: str) -> str:
    """Indents a layout block for error messages."""
    return "expected layout:\n" + "\n".join("    " + line for line in layout.strip("\n").splitlines())
