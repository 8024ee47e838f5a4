"""`folder`: your own captioned images.

    <root>/<any/relative/path>.jpg|png|...
    <root>/captions.jsonl    one JSON object per line:
                             {"image": "<relative path>", "captions": ["...", ...]}
                             or {"image": "...", "caption": "..."}; optional "split"
    or <root>/captions.csv   header with columns `image`, `caption` (optional `split`);
                             several rows per image add captions to it

An image listed several times collects all its captions. Without a `split` field, a
deterministic 10 % of the images (by a hash of their relative path, so adding images never moves
old ones) form `test` and the rest `train`. There are no classes: class id = image index.
Images are resized whole to image_size * 76 / 64, randomly cropped and flipped during training
(pass flip=False when captions say "left" or "right"). Unreadable or missing image files are
counted in one warning and left out; empty or non-UTF-8 captions are errors naming the line.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import os

import numpy as np

from t2izoo.data import text as text_lib
from t2izoo.data.image_store import Example, FileImageSet, describe_layout
from t2izoo.errors import DataError

LAYOUT = """
<root>/<relative path of each image>
<root>/captions.jsonl   ({"image": "<relative path>", "captions": [...]} or "caption": "...",
                         optional "split": "train"|"test"; one object per line)
or <root>/captions.csv  (columns image,caption[,split]; several rows per image allowed)
"""
SPLITS = ("train", "test")


def hash_split(name: str, test_fraction: float = 0.1) -> str:
    """`test` for a deterministic `test_fraction` of names (by SHA-1 of the name), else `train`."""
    bucket = int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16) / 0x100000000
    return "test" if bucket < test_fraction else "train"


def _decode(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: not valid UTF-8 ({err.reason} at byte {err.start})") from None


def _rows_jsonl(path: str):
    """(line, image, [captions], split or None) per non-blank line."""
    for n, line in enumerate(_decode(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            record = json.loads(line)
        except ValueError as err:
            raise DataError(f"{where}: not a JSON object ({err}); {describe_layout(LAYOUT)}") from None
        if not isinstance(record, dict) or "image" not in record or not ("captions" in record or "caption" in record):
            raise DataError(f"{where}: needs \"image\" and \"captions\" (a list) or \"caption\"; "
                            f"{describe_layout(LAYOUT)}")
        captions = record["captions"] if "captions" in record else [record["caption"]]
        if not isinstance(captions, list):
            captions = [captions]
        yield where, record["image"], captions, record.get("split")


def _rows_csv(path: str):
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    if "image" not in fields or "caption" not in fields:
        raise DataError(f"{path}: the header must name the columns image,caption (found {fields}); "
                        f"{describe_layout(LAYOUT)}")
    reader.fieldnames = fields
    for n, row in enumerate(reader, 2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield f"{path} line {n}", row["image"], [row["caption"]], (row.get("split") or None)


def read_captions(root: str) -> "collections.OrderedDict":
    """relative image path -> (captions list, split or None), in order of first appearance."""
    jsonl, csv_path = os.path.join(root, "captions.jsonl"), os.path.join(root, "captions.csv")
    if os.path.isfile(jsonl):
        path, rows = jsonl, _rows_jsonl(jsonl)
    elif os.path.isfile(csv_path):
        path, rows = csv_path, _rows_csv(csv_path)
    else:
        raise DataError(f"missing file {jsonl} (or {csv_path}); {describe_layout(LAYOUT)}")
    images = collections.OrderedDict()
    for where, image, captions, split in rows:
        if not isinstance(image, str) or not image.strip():
            raise DataError(f"{where}: \"image\" must be a relative path, got {image!r}")
        image = image.strip().replace("\\", "/")
        if split is not None:
            split = str(split).strip()
            if split not in SPLITS:
                raise DataError(f"{where}: split must be one of {SPLITS}, got {split!r}")
        checked = [text_lib.check_caption(c, where).strip() for c in captions]
        if not checked:
            raise DataError(f"{where}: no caption for {image}")
        entry = images.setdefault(image, ([], split))
        if entry[1] != split:
            raise DataError(f"{where}: {image} is listed in split {split!r} here and {entry[1]!r} before")
        entry[0].extend(checked)
    if not images:
        raise DataError(f"{path} lists no images; {describe_layout(LAYOUT)}")
    return images


def load(root: str, split: str, image_size: int, captions_per_image: int | None = None,
         test_fraction: float = 0.1, flip: bool = True, strict: bool = False, cache: bool = True,
         num_workers: int | None = None) -> FileImageSet:
    """Loads one split of a folder of captioned images.

    Args:
        root: the folder (see the module docstring for the layout).
        split: `train` or `test`.
        image_size: largest side the model consumes; images are cached at image_size * 76 / 64.
        captions_per_image: keep at most this many captions per image (None: all).
        test_fraction: share of images in `test` when the file has no split field.
        flip: random horizontal flips during training.
        strict: raise on an unreadable image instead of skipping it.
        cache, num_workers: see `FileImageSet`.
    """
    if split not in SPLITS:
        raise DataError(f"folder has splits {SPLITS}, not {split!r}")
    if not os.path.isdir(root):
        raise DataError(f"missing directory {root}; {describe_layout(LAYOUT)}")
    examples = []
    for image, (captions, image_split) in read_captions(root).items():
        if (image_split or hash_split(image, test_fraction)) != split:
            continue
        captions = captions[:captions_per_image] if captions_per_image else captions
        examples.append(Example(os.path.join(root, image), tuple(captions), len(examples), None, image))
    if not examples:
        raise DataError(f"folder {root}: split {split!r} has no images")
    image_set = FileImageSet("folder", split, examples, image_size, strict=strict, flip=flip,
                             num_workers=num_workers, cache=cache)
    image_set.class_ids = np.arange(len(image_set), dtype=np.int32)  # renumbered after skipped files
    return image_set
