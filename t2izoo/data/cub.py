"""`cub`: Caltech-UCSD Birds 200-2011 with Reed et al.'s ten captions per image, AttnGAN layout.

    <root>/CUB_200_2011/images/<class>/<image>.jpg
    <root>/CUB_200_2011/images.txt           "<id> <class>/<image>.jpg" per line
    <root>/CUB_200_2011/bounding_boxes.txt   "<id> <x> <y> <width> <height>" per line
    <root>/text/<class>/<image>.txt           captions, one per line (10 per image)
    <root>/{train,test}/filenames.pickle      list of "<class>/<image>" (no extension)
    <root>/{train,test}/class_info.pickle     class id of each filename

Preprocessing follows StackGAN/AttnGAN: a square of half-side 0.75 * max(w, h) around the
bounding box (`image_store.bbox_crop_box`), bicubic resize to image_size * 76 / 64, then a random
image_size crop and horizontal flip during training. Captions: empty lines are skipped, the first
`captions_per_image` are kept; a file with fewer is used as it is (one warning counts them), a
file with none is an error. The splits are class-disjoint (150 train / 50 test classes).

Reference: Wah et al. 2011 (CUB-200-2011); Reed et al., CVPR 2016 (captions); Xu et al.,
AttnGAN (CVPR 2018), code/datasets.py.
"""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np

from t2izoo.data import text as text_lib
from t2izoo.data.image_store import Example, FileImageSet, describe_layout
from t2izoo.errors import DataError

LAYOUT = """
<root>/CUB_200_2011/images/<class>/<image>.jpg
<root>/CUB_200_2011/images.txt           (<id> <class>/<image>.jpg)
<root>/CUB_200_2011/bounding_boxes.txt   (<id> <x> <y> <width> <height>)
<root>/text/<class>/<image>.txt           (10 captions, one per line)
<root>/{train,test}/filenames.pickle      (list of '<class>/<image>')
<root>/{train,test}/class_info.pickle     (class id per filename)
"""


def require(path: str, layout: str, what: str = "file") -> str:
    """Returns `path`; raises DataError naming it and the expected layout when it is missing."""
    exists = os.path.isdir(path) if what == "directory" else os.path.isfile(path)
    if not exists:
        raise DataError(f"missing {what} {path}; {describe_layout(layout)}")
    return path


def read_pickle_list(path: str, layout: str) -> list:
    """A list from a (possibly Python 2) pickle: str for byte strings, int for numbers."""
    require(path, layout)
    try:
        with open(path, "rb") as f:
            value = pickle.load(f, encoding="latin1")
    except Exception as err:  # any unpickling failure means a damaged or foreign file
        raise DataError(f"{path} is not a readable pickle ({type(err).__name__}: {err}); "
                        f"{describe_layout(layout)}") from None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{path} should hold a list, found {type(value).__name__}; {describe_layout(layout)}")
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value]


def read_split_lists(root: str, split: str, layout: str):
    """(filenames, class ids) of `<root>/<split>/{filenames,class_info}.pickle`."""
    require(os.path.join(root, split), layout, "directory")
    filenames_path = os.path.join(root, split, "filenames.pickle")
    class_path = os.path.join(root, split, "class_info.pickle")
    filenames = [str(f) for f in read_pickle_list(filenames_path, layout)]
    class_ids = read_pickle_list(class_path, layout)
    if len(class_ids) != len(filenames):
        raise DataError(f"{class_path} has {len(class_ids)} class ids for the {len(filenames)} names of "
                        f"{filenames_path}")
    try:
        class_ids = [int(c) for c in class_ids]
    except (TypeError, ValueError):
        raise DataError(f"{class_path}: class ids must be integers") from None
    return filenames, class_ids


def read_caption_file(path: str, limit: int) -> list:
    """The first `limit` non-empty captions of a text file (one per line).

    Raises DataError for a file that is not UTF-8 or holds no caption.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: captions are not valid UTF-8 ({err.reason} at byte {err.start})") from None
    captions = []
    for line in content.splitlines():
        line = line.replace("\ufffd\ufffd", " ").strip()  # AttnGAN drops these replacement pairs
        if text_lib.split_words(line):  # lines without a word are skipped, as AttnGAN does
            captions.append(line)
        if len(captions) == limit:
            break
    if not captions:
        raise DataError(f"{path}: no captions (expected {limit}, one per line)")
    return captions


def read_captions(paths, limit: int, dataset: str) -> list:
    """Captions of every file; one warning counts the files with fewer than `limit`."""
    captions = [read_caption_file(p, limit) for p in paths]
    short = [(p, len(c)) for p, c in zip(paths, captions) if len(c) < limit]
    if short:
        first = "; ".join(f"{p} has {n}" for p, n in short[:3])
        warnings.warn(f"{dataset}: {len(short)} caption files have fewer than {limit} captions (first: {first}); "
                      "their captions are used as they are", stacklevel=3)
    return captions


def caption_path(root: str, key: str, layout: str) -> str:
    return require(os.path.join(root, "text", key + ".txt"), layout)


def read_bounding_boxes(cub_dir: str, layout: str) -> dict:
    """'<class>/<image>' (no extension) -> (x, y, w, h) ints, from images.txt and bounding_boxes.txt."""
    images_txt = require(os.path.join(cub_dir, "images.txt"), layout)
    boxes_txt = require(os.path.join(cub_dir, "bounding_boxes.txt"), layout)
    names = {}
    with open(images_txt, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise DataError(f"{images_txt} line {n}: expected '<id> <class>/<image>.jpg', got {line.strip()!r}")
            names[parts[0]] = os.path.splitext(parts[1])[0]
    boxes = {}
    with open(boxes_txt, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) != 5:
                    raise ValueError
                box = tuple(int(float(v)) for v in parts[1:])
            except ValueError:
                raise DataError(f"{boxes_txt} line {n}: expected '<id> <x> <y> <width> <height>', "
                                f"got {line.strip()!r}") from None
            if parts[0] not in names:
                raise DataError(f"{boxes_txt} line {n}: image id {parts[0]} is not in {images_txt}")
            boxes[names[parts[0]]] = box
    return boxes


def load(root: str, split: str, image_size: int, captions_per_image: int = 10, bbox: bool = True,
         strict: bool = False, cache: bool = True, num_workers: int | None = None) -> FileImageSet:
    """Loads one CUB split.

    Args:
        root: dataset directory (see the module docstring for the layout).
        split: `train` or `test`.
        image_size: largest side the model consumes; images are cached at image_size * 76 / 64.
        captions_per_image: captions kept per image (10 in Reed's data).
        bbox: crop around the bounding box (StackGAN/AttnGAN do).
        strict: raise on an unreadable image instead of skipping it.
        cache, num_workers: see `FileImageSet`.
    """
    require(root, LAYOUT, "directory")
    cub_dir = require(os.path.join(root, "CUB_200_2011"), LAYOUT, "directory")
    filenames, class_ids = read_split_lists(root, split, LAYOUT)
    boxes = read_bounding_boxes(cub_dir, LAYOUT) if bbox else {}
    if bbox:
        missing = [k for k in filenames if k not in boxes]
        if missing:
            raise DataError(f"{os.path.join(cub_dir, 'bounding_boxes.txt')}: no box for {len(missing)} images "
                            f"(first: {missing[0]}); {describe_layout(LAYOUT)}")
    captions = read_captions([caption_path(root, k, LAYOUT) for k in filenames], captions_per_image, f"cub/{split}")
    examples = [
        Example(os.path.join(cub_dir, "images", key + ".jpg"), tuple(caps), cid, boxes.get(key), key)
        for key, caps, cid in zip(filenames, captions, class_ids)
    ]
    return FileImageSet("cub", split, examples, image_size, strict=strict, num_workers=num_workers, cache=cache)
