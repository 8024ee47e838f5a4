"""The text-guided image manipulation task, shared by every manipulation family.

A manipulation model takes an image and a new description and changes what the text asks while
keeping the rest (`../shared/seeds/003_*`). Its trainer implements `ManipulationModel`:

    edited = trainer.manipulate(images, conditioning)      # images in [-1, 1], EMA weights

where `conditioning` is its conditioner's output for the new captions (the same dict
`generate` takes in the text-to-image families). `t2izoo.manipulate` (command line and
`ImageManipulator`), the manipulation metrics (`t2izoo.metrics.manipulation`) and the sample
grids below reach a model only through it.
"""

from __future__ import annotations

import numpy as np


class ManipulationModel:
    """Mixin of the trainers of manipulation families (`Family.task == "manipulation"`).

    Subclasses implement `manipulate(images, conditioning, use_ema=True)`: images float
    [B, S, S, 3] in [-1, 1] and the text conditioning of B new captions -> edited images
    [B, S, S, 3] in [-1, 1]; traceable, using the EMA weights unless `use_ema` is False.
    `image_size` is the side of the images it takes and returns.
    """

    image_size = 64

    def manipulate(self, images, conditioning, use_ema=True):
        raise NotImplementedError

    def manipulation_models(self) -> list:
        """The Keras models `manipulate` runs with the EMA weights (what an export must track)."""
        raise NotImplementedError


def shapes_grid_edits(image_set, count: int, seed: int):
    """(source indices, new captions) for a training grid on `shapes`: `count` evenly spaced test
    scenes, each with one attribute (colour, shape, size in turn) changed by
    `t2izoo.data.shapes.edit_scene`."""
    from t2izoo.data.shapes import EDIT_ATTRIBUTES, edit_scene

    rng = np.random.default_rng([seed, 31337])
    indices = np.linspace(0, len(image_set) - 1, count).astype(int)
    captions = [edit_scene(image_set.attributes[i], EDIT_ATTRIBUTES[k % len(EDIT_ATTRIBUTES)], rng).caption
                for k, i in enumerate(indices)]
    return indices, captions


def mismatched_grid_edits(image_set, count: int, seed: int):
    """(source indices, new captions) on any dataset: each source gets a caption of another image."""
    rng = np.random.default_rng([seed, 31337])
    n = len(image_set)
    indices = np.linspace(0, n - 1, count).astype(int)
    others = (indices + 1 + rng.integers(0, max(n - 1, 1), count)) % n
    return indices, [image_set.captions[j][0] for j in others]


def grid_edits(image_set, count: int, seed: int):
    """The sources and new captions of a manipulation sample grid (edited captions on `shapes`)."""
    if getattr(image_set, "name", "") == "shapes":
        return shapes_grid_edits(image_set, count, seed)
    return mismatched_grid_edits(image_set, count, seed)


def manipulation_grid(trainer, conditioner, sources, new_captions):
    """(images, per-image captions) of a sample grid: pairs source | result, the source captioned
    "source", the result with the new caption it was asked for.

    Args:
        trainer: a `ManipulationModel`.
        conditioner: the family's conditioner (captions -> conditioning).
        sources: float [B, S, S, 3] in [-1, 1].
        new_captions: B strings.
    """
    edited = np.asarray(trainer.manipulate(sources, conditioner.conditioning(list(new_captions))))
    images = np.empty((2 * len(sources),) + edited.shape[1:], np.float32)
    images[0::2], images[1::2] = np.asarray(sources), edited
    captions = []
    for caption in new_captions:
        captions += ["source", f"-> {caption}"]
    return images, captions


def grid_sampler(trainer, conditioner, image_set, count: int = 16, seed: int = 0):
    """A callable() -> (images, captions) for `SampleGridCallback`: fixed sources and edits, so
    grids are comparable across steps."""
    from t2izoo.data.pipeline import image_to_float

    indices, captions = grid_edits(image_set, count, seed)
    size = trainer.image_size
    sources = image_to_float(image_set.load_images(indices, (size,))[size].astype(np.float32))
    return lambda: manipulation_grid(trainer, conditioner, sources, captions)
