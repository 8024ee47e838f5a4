"""`coco`: MS-COCO 2014 captions from the official files.

    <root>/annotations/captions_train2014.json   (split `train`)
    <root>/annotations/captions_val2014.json     (split `test`, as AttnGAN evaluates on val2014)
    <root>/train2014/<file_name>, <root>/val2014/<file_name>
        (or AttnGAN's merged <root>/images/<file_name>)

Every image keeps all its captions (5, a few have 6-7) unless `captions_per_image` caps them;
captions without a word are dropped and counted in one warning, and an image left without any
caption is left out. COCO has no classes, so each image is its own class (class id = index), as
in AttnGAN. Images are resized whole (no crop box) to image_size * 76 / 64, then randomly cropped
and flipped during training.

Reference: Lin et al. 2014 (MS-COCO), Chen et al. 2015 (COCO captions); Xu et al., AttnGAN
(CVPR 2018), code/datasets.py.
"""

from __future__ import annotations

import collections
import json
import os
import warnings

import numpy as np

from t2izoo.data import text as text_lib
from t2izoo.data.cub import require
from t2izoo.data.image_store import Example, FileImageSet, describe_layout
from t2izoo.errors import DataError

LAYOUT = """
<root>/annotations/captions_train2014.json
<root>/annotations/captions_val2014.json
<root>/train2014/COCO_train2014_<id>.jpg, <root>/val2014/COCO_val2014_<id>.jpg
    (or both merged in <root>/images/, as AttnGAN's data folder)
"""
SPLIT_FOLDERS = {"train": "train2014", "test": "val2014"}


def read_annotations(path: str) -> dict:
    """file_name (sorted) -> list of captions (by annotation id)."""
    require(path, LAYOUT)
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
        names = {int(im["id"]): im["file_name"] for im in data["images"]}
        # Annotation ids give the captions of an image a fixed order (the file's order is arbitrary).
        annotations = sorted(data["annotations"], key=lambda a: int(a["id"]))
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not valid UTF-8 ({err.reason} at byte {err.start})") from None
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path} is not a COCO captions file ({type(err).__name__}: {err}); it should hold "
                        "'images' [{id, file_name}] and 'annotations' [{id, image_id, caption}]") from None
    captions = collections.OrderedDict((name, []) for name in sorted(names.values()))
    for ann in annotations:
        try:
            name = names[int(ann["image_id"])]
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: annotation {ann.get('id', '?')} refers to an unknown image "
                            f"{ann.get('image_id')!r}") from None
        captions[name].append(ann.get("caption"))
    return captions


def load(root: str, split: str, image_size: int, captions_per_image: int | None = None, strict: bool = False,
         cache: bool = True, num_workers: int | None = None) -> FileImageSet:
    """Loads one COCO-2014 split.

    Args:
        root: dataset directory (see the module docstring for the layout).
        split: `train` (train2014) or `test` (val2014).
        image_size: largest side the model consumes; images are cached at image_size * 76 / 64.
        captions_per_image: keep at most this many captions per image (None: all; AttnGAN uses 5).
        strict: raise on an unreadable image instead of skipping it.
        cache, num_workers: see `FileImageSet`.
    """
    if split not in SPLIT_FOLDERS:
        raise DataError(f"coco has splits {tuple(SPLIT_FOLDERS)}, not {split!r}")
    require(root, LAYOUT, "directory")
    folder = SPLIT_FOLDERS[split]
    annotations = read_annotations(os.path.join(root, "annotations", f"captions_{folder}.json"))
    image_dir = os.path.join(root, folder)
    if not os.path.isdir(image_dir):
        image_dir = os.path.join(root, "images")
        if not os.path.isdir(image_dir):
            raise DataError(f"missing directory {os.path.join(root, folder)} (or {image_dir}); "
                            f"{describe_layout(LAYOUT)}")
    examples, dropped, no_caption = [], [], []
    for name, raw in annotations.items():
        captions = []
        for caption in raw:
            try:
                captions.append(text_lib.check_caption(caption, f"{folder}/{name}").strip())
            except DataError:
                dropped.append(name)
        if captions_per_image:
            captions = captions[:captions_per_image]
        if not captions:
            no_caption.append(name)
            continue
        examples.append(Example(os.path.join(image_dir, name), tuple(captions), len(examples), None, name))
    if dropped or no_caption:
        warnings.warn(f"coco/{split}: dropped {len(dropped)} empty or non-text captions (first in "
                      f"{dropped[:1] or '-'}); {len(no_caption)} images have no caption left and are "
                      f"left out (first: {no_caption[:3] or '-'})", stacklevel=2)
    if not examples:
        raise DataError(f"coco/{split}: no image with a caption in {folder}")
    image_set = FileImageSet("coco", split, examples, image_size, strict=strict, num_workers=num_workers,
                             cache=cache)
    # Unreadable images were left out: renumber so that class ids stay the image indices.
    image_set.class_ids = np.arange(len(image_set), dtype=np.int32)
    return image_set
