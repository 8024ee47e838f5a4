"""Tiny datasets written in the exact on-disk layouts of `cub`, `flowers`, `coco` and `folder`.

Every image is a real JPEG of a smooth gradient whose colour encodes the pixel position
(red = x, green = y, blue = class), so a test can check which part of an image a crop kept:
see `gradient_color`. Captions name the class word (`CLASS_WORDS`) so that a test can tell
which class a caption came from.

Example:
    >>> info = write_cub_fixture(tmp_path, num_classes=3, images_per_class=4)
    >>> load_split("cub", "train", root=str(tmp_path), image_size=32)
"""

from __future__ import annotations

import csv
import json
import os
import pickle

import numpy as np
from PIL import Image

CLASS_WORDS = ("albatross", "bunting", "cardinal", "dove", "egret", "finch", "grebe", "heron")
_COLORS = ("red", "blue", "yellow", "green", "brown", "white", "black", "grey", "orange", "purple")


def class_blue(class_index: int) -> int:
    """Blue channel of every pixel of class `class_index`'s images."""
    return (40 + 50 * class_index) % 256


def gradient_color(x: float, y: float, size, blue: int = 0) -> np.ndarray:
    """RGB at pixel (x, y) of a `gradient_image(size, blue)`, float [3]."""
    w, h = size
    return np.array([255.0 * x / (w - 1), 255.0 * y / (h - 1), blue])


def gradient_image(size, blue: int = 0) -> Image.Image:
    """An RGB image of `size` (w, h): red grows with x, green with y, constant blue."""
    w, h = size
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    rgb = np.stack([x, y, np.full((h, w), blue)], -1)
    return Image.fromarray(np.round(rgb).astype(np.uint8))


def write_jpeg(path, size, blue: int = 0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    gradient_image(size, blue).save(path, "JPEG", quality=95)


def truncate_file(path, keep: float = 0.4):
    """Cuts a file to its first `keep` fraction (a truncated download)."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * keep)])


def write_garbage(path):
    """Overwrites `path` with bytes that no image decoder accepts."""
    with open(path, "wb") as f:
        f.write(b"this is not an image\n" * 10)


def caption_text(class_index: int, image_index: int, caption_index: int) -> str:
    color = _COLORS[(image_index + caption_index) % len(_COLORS)]
    return (f"this {color} bird is a {CLASS_WORDS[class_index % len(CLASS_WORDS)]} "
            f"number {image_index} caption {caption_index}")


def _write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _write_pickle(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(value, f, protocol=2)


def _split_classes(num_classes: int, test_classes: int):
    test_classes = max(1, min(test_classes, num_classes - 1))
    return list(range(num_classes - test_classes)), list(range(num_classes - test_classes, num_classes))


def write_cub_fixture(root, num_classes: int = 3, images_per_class: int = 4, size=(120, 90),
                      captions_per_image: int = 10, test_classes: int = 1) -> dict:
    """Writes a CUB dataset in the AttnGAN layout (see `t2izoo.data.cub`).

    The last `test_classes` classes form `test` (class-disjoint splits, as in the papers).
    Class ids in class_info.pickle are 1-based like CUB's.

    Returns:
        dict with `train`/`test` (lists of keys), `class_ids` (key -> id), `bboxes`
        (key -> (x, y, w, h)), `image_paths` (key -> path), `size`, `captions` (key -> list).
    """
    root = str(root)
    cub = os.path.join(root, "CUB_200_2011")
    info = {"train": [], "test": [], "class_ids": {}, "bboxes": {}, "image_paths": {}, "captions": {},
            "size": tuple(size)}
    train_classes, _ = _split_classes(num_classes, test_classes)
    images_txt, boxes_txt = [], []
    w, h = size
    n = 0
    for c in range(num_classes):
        word = CLASS_WORDS[c % len(CLASS_WORDS)]
        class_dir = f"{c + 1:03d}.{word.capitalize()}_{c}"
        for i in range(images_per_class):
            n += 1
            key = f"{class_dir}/{word.capitalize()}_{i + 1:04d}_{n}"
            path = os.path.join(cub, "images", key + ".jpg")
            write_jpeg(path, size, class_blue(c))
            # Boxes of different shapes and places; some squares reach past the border.
            bw, bh = int(w * (0.3 + 0.1 * (n % 3))), int(h * (0.3 + 0.1 * (n % 2)))
            bx, by = (7 * n) % (w - bw), (5 * n) % (h - bh)
            images_txt.append(f"{n} {key}.jpg")
            boxes_txt.append(f"{n} {bx}.0 {by}.0 {bw}.0 {bh}.0")
            captions = [caption_text(c, n, j) for j in range(captions_per_image)]
            _write_lines(os.path.join(root, "text", key + ".txt"), captions)
            info["train" if c in train_classes else "test"].append(key)
            info["class_ids"][key] = c + 1
            info["bboxes"][key] = (bx, by, bw, bh)
            info["image_paths"][key] = path
            info["captions"][key] = captions
    _write_lines(os.path.join(cub, "images.txt"), images_txt)
    _write_lines(os.path.join(cub, "bounding_boxes.txt"), boxes_txt)
    for split in ("train", "test"):
        _write_pickle(os.path.join(root, split, "filenames.pickle"), info[split])
        _write_pickle(os.path.join(root, split, "class_info.pickle"), [info["class_ids"][k] for k in info[split]])
    return info


def write_flowers_fixture(root, num_classes: int = 3, images_per_class: int = 4, size=(100, 80),
                          captions_per_image: int = 10, test_classes: int = 1, image_dir: str = "jpg",
                          text_dir: str = "text") -> dict:
    """Writes Oxford-102 in the StackGAN/AttnGAN layout (see `t2izoo.data.flowers`).

    Keys are `class_<c>/image_<n>`; images live flat in `<root>/<image_dir>/image_<n>.jpg`.

    Returns:
        dict with `train`/`test` key lists, `class_ids`, `image_paths`, `captions`, `size`.
    """
    root = str(root)
    info = {"train": [], "test": [], "class_ids": {}, "image_paths": {}, "captions": {}, "size": tuple(size)}
    train_classes, _ = _split_classes(num_classes, test_classes)
    n = 0
    for c in range(num_classes):
        for _ in range(images_per_class):
            n += 1
            key = f"class_{c + 1:05d}/image_{n:05d}"
            path = os.path.join(root, image_dir, f"image_{n:05d}.jpg")
            write_jpeg(path, size, class_blue(c))
            captions = [caption_text(c, n, j).replace("bird", "flower") for j in range(captions_per_image)]
            _write_lines(os.path.join(root, text_dir, key + ".txt"), captions)
            info["train" if c in train_classes else "test"].append(key)
            info["class_ids"][key] = c + 1
            info["image_paths"][key] = path
            info["captions"][key] = captions
    for split in ("train", "test"):
        _write_pickle(os.path.join(root, split, "filenames.pickle"), info[split])
        _write_pickle(os.path.join(root, split, "class_info.pickle"), [info["class_ids"][k] for k in info[split]])
    return info


def write_coco_fixture(root, num_train: int = 4, num_val: int = 3, size=(64, 48), captions_per_image: int = 5,
                       merged: bool = False) -> dict:
    """Writes COCO-2014 captions files and images (see `t2izoo.data.coco`).

    Args:
        merged: put all images in `<root>/images/` (AttnGAN) instead of train2014/ and val2014/.

    Returns:
        dict with `train`/`test` (file names, sorted), `captions` (file name -> list),
        `image_paths`, `size`.
    """
    root = str(root)
    info = {"train": [], "test": [], "captions": {}, "image_paths": {}, "size": tuple(size)}
    ann_id = 0
    for split, folder, count in (("train", "train2014", num_train), ("test", "val2014", num_val)):
        images, annotations = [], []
        for i in range(count):
            image_id = 1000 * (1 if split == "train" else 2) + 7 * i + 3
            name = f"COCO_{folder}_{image_id:012d}.jpg"
            path = os.path.join(root, "images" if merged else folder, name)
            write_jpeg(path, size, (30 * i) % 256)
            images.append({"id": image_id, "file_name": name, "width": size[0], "height": size[1]})
            caps = [f"a photo number {i} of {split} showing thing {j}" for j in range(captions_per_image)]
            for cap in caps:
                ann_id += 1
                annotations.append({"id": ann_id, "image_id": image_id, "caption": cap})
            info[split].append(name)
            info["captions"][name] = caps
            info["image_paths"][name] = path
        # Annotations in an order unrelated to the image list, as in the real files.
        annotations = annotations[::-1]
        os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
        with open(os.path.join(root, "annotations", f"captions_{folder}.json"), "w", encoding="utf-8") as f:
            json.dump({"info": {}, "images": images, "annotations": annotations}, f)
        info[split].sort()
    return info


def write_folder_fixture(root, num_images: int = 20, size=(50, 40), fmt: str = "jsonl", with_split: bool = False,
                         captions_per_image: int = 2) -> dict:
    """Writes a user folder with `captions.jsonl` or `captions.csv` (see `t2izoo.data.folder`).

    JSONL alternates the `captions` list and single `caption` forms; CSV writes one row per caption.
    With `with_split`, every fourth image is marked `test`.

    Returns:
        dict with `images` (relative paths, in file order), `captions` (path -> list),
        `splits` (path -> split or None), `size`.
    """
    root = str(root)
    info = {"images": [], "captions": {}, "splits": {}, "size": tuple(size)}
    for i in range(num_images):
        rel = f"pics/sub{i % 2}/img_{i:03d}.{'png' if i % 5 == 4 else 'jpg'}"
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        gradient_image(size, (12 * i) % 256).save(path)
        info["images"].append(rel)
        info["captions"][rel] = [f"user picture {i} with text {j}" for j in range(captions_per_image)]
        info["splits"][rel] = ("test" if i % 4 == 3 else "train") if with_split else None
    if fmt == "jsonl":
        with open(os.path.join(root, "captions.jsonl"), "w", encoding="utf-8") as f:
            for i, rel in enumerate(info["images"]):
                caps = info["captions"][rel]
                if i % 2 == 0:
                    records = [{"image": rel, "captions": caps}]
                else:
                    records = [{"image": rel, "caption": c} for c in caps]
                for record in records:
                    if with_split:
                        record["split"] = info["splits"][rel]
                    f.write(json.dumps(record) + "\n")
    elif fmt == "csv":
        with open(os.path.join(root, "captions.csv"), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "caption"] + (["split"] if with_split else []))
            for rel in info["images"]:
                for c in info["captions"][rel]:
                    writer.writerow([rel, c] + ([info["splits"][rel]] if with_split else []))
    else:
        raise ValueError(f"fmt must be 'jsonl' or 'csv', not {fmt!r}")
    return info
