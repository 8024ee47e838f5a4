"""Dataset registry: `load_split(name, split, ...)` -> `CaptionedImageSet`.

`shapes` is built in and needs no files. The real datasets read the papers' layouts from
`root` (see each module's docstring for the exact layout and preprocessing).
"""

from __future__ import annotations

import importlib

from t2izoo.errors import DataError

# name -> (module, splits). Modules expose `load(root, split, image_size, **options)`.
DATASETS = {
    "shapes": ("t2izoo.data.shapes", ("train", "test", "novel")),
    "cub": ("t2izoo.data.cub", ("train", "test")),
    "flowers": ("t2izoo.data.flowers", ("train", "test")),
    "coco": ("t2izoo.data.coco", ("train", "test")),
    "coco_tfds": ("t2izoo.data.coco_tfds", ("train", "test")),
    "folder": ("t2izoo.data.folder", ("train", "test")),
}


def load_split(name: str, split: str, root: str | None = None, image_size: int = 64, **options):
    """Loads one split of a dataset.

    Args:
        name: one of `DATASETS`.
        split: split name (`train`, `test`; `shapes` also has `novel`).
        root: dataset directory (ignored by `shapes`).
        image_size: largest image side the model consumes; real datasets cache their
            preprocessed images at image_size * 76 / 64 and random-crop to image_size.
        options: dataset-specific options (`shapes`: a `ShapesConfig` as `config`).
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    module_name, splits = DATASETS[name]
    if split not in splits:
        raise DataError(f"dataset {name!r} has splits {splits}, not {split!r}")
    if name == "shapes":
        from t2izoo.data.shapes import ShapesConfig, ShapesImageSet

        return ShapesImageSet(split, options.get("config") or ShapesConfig(), cache=options.get("cache", True))
    if not root:
        raise DataError(f"dataset {name!r} needs --data_dir pointing at its root directory")
    module = importlib.import_module(module_name)
    return module.load(root, split, image_size, **options)


def load_dataset(config, split: str):
    """The `CaptionedImageSet` that `config` names."""
    options = {}
    if config.dataset == "shapes":
        from t2izoo.data.shapes import ShapesConfig

        options["config"] = ShapesConfig(num_train=config.shapes_train, num_test=config.shapes_test,
                                         num_novel=max(config.shapes_test // 2, 1), seed=config.seed)
    size = max(getattr(config, "image_sizes", None) or (getattr(config, "image_size", 64),))
    return load_split(config.dataset, split, config.data_dir, size, **options)
