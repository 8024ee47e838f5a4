"""`flowers`: Oxford-102 Flowers with Reed et al.'s ten captions per image (StackGAN/AttnGAN layout).

    <root>/jpg/image_<n>.jpg  (or <root>/images/...)
    <root>/text/<class>/image_<n>.txt         captions, one per line (10 per image;
                                               Reed's `text_c10/` is accepted too)
    <root>/{train,test}/filenames.pickle      list of "<class>/image_<n>" or "jpg/image_<n>"
    <root>/{train,test}/class_info.pickle     class id of each filename

No bounding boxes: the whole image is resized to image_size * 76 / 64 (bicubic), then randomly
cropped to image_size and flipped during training. Captions are read as for `cub` (empty
lines skipped, short files counted in one warning, empty files an error).

Reference: Nilsback & Zisserman 2008 (Oxford-102); Reed et al., CVPR 2016 (captions);
Zhang et al., StackGAN (ICCV 2017), misc/preprocess_flowers.py.
"""

from __future__ import annotations

import os

from t2izoo.data.cub import read_captions, read_split_lists, require
from t2izoo.data.image_store import Example, FileImageSet, describe_layout
from t2izoo.errors import DataError

LAYOUT = """
<root>/jpg/image_<n>.jpg  (or <root>/images/image_<n>.jpg)
<root>/text/<class>/image_<n>.txt         (10 captions, one per line; or text_c10/)
<root>/{train,test}/filenames.pickle      (list of '<class>/image_<n>')
<root>/{train,test}/class_info.pickle     (class id per filename)
"""
_IMAGE_DIRS = ("jpg", "images")
_TEXT_DIRS = ("text", "text_c10")


class _Finder:
    """Finds a key's file by its full key, then by its base name (keys may carry another folder)."""

    def __init__(self, root: str, folders, extension: str):
        self.dirs = [os.path.join(root, d) for d in folders if os.path.isdir(os.path.join(root, d))]
        self.root = root
        self.extension = extension
        self._by_name = None

    def find(self, key: str):
        for candidate in [os.path.join(d, key + self.extension) for d in self.dirs] + [
                os.path.join(self.root, key + self.extension)]:
            if os.path.isfile(candidate):
                return candidate
        if self._by_name is None:
            self._by_name = {}
            for d in self.dirs:
                for dirpath, _, files in os.walk(d):
                    for f in files:
                        if f.endswith(self.extension):
                            self._by_name.setdefault(f[: -len(self.extension)], os.path.join(dirpath, f))
        return self._by_name.get(os.path.basename(key))


def load(root: str, split: str, image_size: int, captions_per_image: int = 10, strict: bool = False,
         cache: bool = True, num_workers: int | None = None) -> FileImageSet:
    """Loads one Oxford-102 split.

    Args:
        root: dataset directory (see the module docstring for the layout).
        split: `train` or `test`.
        image_size: largest side the model consumes; images are cached at image_size * 76 / 64.
        captions_per_image: captions kept per image (10 in Reed's data).
        strict: raise on an unreadable image instead of skipping it.
        cache, num_workers: see `FileImageSet`.
    """
    require(root, LAYOUT, "directory")
    if not any(os.path.isdir(os.path.join(root, d)) for d in _IMAGE_DIRS):
        raise DataError(f"missing directory {os.path.join(root, 'jpg')} (or {os.path.join(root, 'images')}); "
                        f"{describe_layout(LAYOUT)}")
    if not any(os.path.isdir(os.path.join(root, d)) for d in _TEXT_DIRS):
        raise DataError(f"missing directory {os.path.join(root, 'text')}; {describe_layout(LAYOUT)}")
    filenames, class_ids = read_split_lists(root, split, LAYOUT)
    texts, images = _Finder(root, _TEXT_DIRS, ".txt"), _Finder(root, _IMAGE_DIRS, ".jpg")
    text_paths = []
    for key in filenames:
        path = texts.find(key)
        if path is None:
            raise DataError(f"missing file {os.path.join(root, 'text', key + '.txt')} (captions of {key}); "
                            f"{describe_layout(LAYOUT)}")
        text_paths.append(path)
    captions = read_captions(text_paths, captions_per_image, f"flowers/{split}")
    examples = []
    for key, caps, cid in zip(filenames, captions, class_ids):
        # A missing image is left to FileImageSet, which counts it with the unreadable ones.
        path = images.find(key) or os.path.join(root, "jpg", os.path.basename(key) + ".jpg")
        examples.append(Example(path, tuple(caps), cid, None, key))
    return FileImageSet("flowers", split, examples, image_size, strict=strict, num_workers=num_workers,
                        cache=cache)
