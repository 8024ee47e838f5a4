"""Consistency across descriptions: does a generator draw the same scene from two differently
worded captions of it (SD-GAN's "semantic commons")?

For each test scene, two different captions of it go through the generator with the same noise;
the `shapes` evaluator reads both images, and the score per attribute is how often it reads the
same value from both at each object's cell. 100 % = the wording never changes what is drawn. It
is agreement, not accuracy: a generator that draws the same wrong colour for both captions
agrees; read it beside `shapes_acc`.
"""

from __future__ import annotations

import numpy as np

from t2izoo.data.shapes import ATTR_POSITION, ATTR_PRESENT

ATTRIBUTES = ("color", "shape", "size", "position")


def attribute_agreement(predictions_a: dict, predictions_b: dict, attributes) -> dict:
    """Per-attribute agreement of the evaluator's readings of two images of each scene (pure numpy).

    Every object the scene has is judged at its own cell c:
        color/shape/size: argmax head_a[c] == argmax head_b[c];
        position: the two images' occupancy decisions (logit > 0) agree on all 9 cells (the
            object is read at the same place and nothing else moves).
    `object` is the fraction of objects with all four in agreement. Averaged over objects.

    Args:
        predictions_a, predictions_b: evaluator outputs for N images each (`occupancy` [N, 9],
            `color` [N, 9, 8], `shape` [N, 9, 5], `size` [N, 9, 3]), row n of both of scene n.
        attributes: int [N, objects, 5] of the scenes (present, color, shape, size, position).

    Returns: {"color", "shape", "size", "position", "object"}: floats in [0, 1].
    """
    attributes = np.asarray(attributes)
    occ_a, occ_b = np.asarray(predictions_a["occupancy"]) > 0, np.asarray(predictions_b["occupancy"]) > 0
    if occ_a.shape != occ_b.shape or occ_a.shape[0] != attributes.shape[0]:
        raise ValueError(f"predictions for {occ_a.shape[0]} and {occ_b.shape[0]} images, attributes for "
                         f"{attributes.shape[0]} scenes")
    n_idx, o_idx = np.nonzero(attributes[..., ATTR_PRESENT] > 0)
    cells = attributes[n_idx, o_idx, ATTR_POSITION]
    agree = {"position": (occ_a == occ_b).all(axis=1)[n_idx]}
    for name in ("color", "shape", "size"):
        a = np.argmax(np.asarray(predictions_a[name])[n_idx, cells], axis=-1)
        b = np.argmax(np.asarray(predictions_b[name])[n_idx, cells], axis=-1)
        agree[name] = a == b
    result = {k: float(np.mean(agree[k])) for k in ATTRIBUTES}
    result["object"] = float(np.mean(np.logical_and.reduce([agree[k] for k in ATTRIBUTES])))
    return result


def second_captions(image_set, indices, num_samples: int) -> list:
    """For sample k of `t2izoo.evaluate.sample_plan` (image indices[k], caption number
    (k div N) mod C), the next caption of the same image: a different description of the scene."""
    n = len(image_set)
    out = []
    for k, i in enumerate(np.asarray(indices)[:num_samples]):
        caps = image_set.captions[i]
        out.append(caps[(k // n + 1) % len(caps)])
    return out
