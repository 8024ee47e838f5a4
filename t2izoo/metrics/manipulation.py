"""Text-guided manipulation metrics: the maths on arrays (evaluator predictions, pixels, cosines).

On `shapes` (`t2izoo.evaluate --metrics=manip_shapes`), each test scene is edited in one
attribute at a time (`t2izoo.data.shapes.edit_scene`: colour, shape, size of one object), the
model manipulates the source render towards the edited caption and the shapes evaluator reads
the result:

* **edit accuracy**: the edited object, at its cell, now reads as the asked value;
* **preservation**: everything the caption did not change reads as in the source: the edited
  object's other attributes, every attribute of the other object, each object's cell occupied
  and every empty cell still empty;
* **reconstruction error** (`manip_recon`, any dataset; TAGAN Table 1's measure): L1 and L2 of
  manipulate(x, own caption) against x, pixels in [0, 1];
* **manipulative precision** (`manip_mp`, any dataset; ManiGAN, Li et al. CVPR 2020):
  MP = (1 - diff) x sim, diff the mean L1 between input and output pixels in [0, 1], sim the
  mean DAMSM cosine between the output image and the new caption.
"""

from __future__ import annotations

import numpy as np

from t2izoo.data.shapes import (
    ATTR_POSITION, ATTR_PRESENT, COLORS, EDIT_ATTRIBUTES, SHAPES, SIZES, edit_scene,
)

_HEADS = (("color", 1), ("shape", 2), ("size", 3))  # evaluator head, attribute column
NUM_VALUES = {"color": len(COLORS), "shape": len(SHAPES), "size": len(SIZES)}


def edit_plan(attributes, num_samples: int, seed: int = 0, allow_noop: bool = False):
    """(source index, SceneEdit) per sample: sample k edits scene (k div 3) mod N in attribute
    k mod 3 (colour, shape, size), so 3 N samples edit every scene once in each attribute."""
    rng = np.random.default_rng([seed, 2718])
    n = len(attributes)
    indices = (np.arange(num_samples) // len(EDIT_ATTRIBUTES)) % n
    edits = [edit_scene(np.asarray(attributes[i]), EDIT_ATTRIBUTES[k % len(EDIT_ATTRIBUTES)], rng, allow_noop)
             for k, i in enumerate(indices)]
    return indices, edits


def edit_scores(predictions: dict, edits) -> dict:
    """Edit accuracy and preservation of manipulated images, judged by the shapes evaluator.

    Args:
        predictions: the evaluator's outputs on the N manipulated images: `occupancy` [N, 9]
            logits, `color` [N, 9, 8], `shape` [N, 9, 5], `size` [N, 9, 3] scores.
        edits: N `SceneEdit`s (the edited scene `objects` is what the image should show).

    Returns:
        dict of floats in [0, 1], overall and per edited attribute (`_color`, `_shape`, `_size`
        suffixes): `edit_acc`, `preservation`, `edit_and_preserved` (both at once) and
        `noop_share` (edits that asked for the value the source already had); and, overall only,
        the parts of preservation, to show which one fails: `kept_layout` (every object's cell
        occupied, every empty cell empty), `kept_color`, `kept_shape`, `kept_size` (that
        attribute read as asked on every object, the edited attribute of the edited object left out).
    """
    occupancy = np.asarray(predictions["occupancy"])
    n = occupancy.shape[0]
    if len(edits) != n:
        raise ValueError(f"{len(edits)} edits for {n} predicted images")
    heads = {name: np.argmax(np.asarray(predictions[name]), axis=-1) for name, _ in _HEADS}  # [N, 9]
    edited_ok = np.zeros(n, bool)
    kept = {part: np.ones(n, bool) for part in ("layout",) + tuple(name for name, _ in _HEADS)}
    for i, e in enumerate(edits):
        objects = np.asarray(e.objects)
        cells = set()
        for o in range(len(objects)):
            if not objects[o, ATTR_PRESENT]:
                continue
            cell = int(objects[o, ATTR_POSITION])
            cells.add(cell)
            kept["layout"][i] &= occupancy[i, cell] > 0.0
            for name, column in _HEADS:
                right = heads[name][i, cell] == objects[o, column]
                if o == e.obj and name == e.attribute:
                    edited_ok[i] = right
                else:
                    kept[name][i] &= right
        empty = [c for c in range(occupancy.shape[1]) if c not in cells]
        kept["layout"][i] &= not (occupancy[i, empty] > 0.0).any()
    preserved = np.logical_and.reduce(list(kept.values()))
    noop = np.array([e.is_noop for e in edits])
    attribute = np.array([e.attribute for e in edits])
    out = {}
    for suffix, mask in [("", np.ones(n, bool))] + [(f"_{a}", attribute == a) for a in EDIT_ATTRIBUTES]:
        if not mask.any():
            continue
        out[f"edit_acc{suffix}"] = float(edited_ok[mask].mean())
        out[f"preservation{suffix}"] = float(preserved[mask].mean())
        out[f"edit_and_preserved{suffix}"] = float((edited_ok & preserved)[mask].mean())
        out[f"noop_share{suffix}"] = float(noop[mask].mean())
    out.update({f"kept_{part}": float(ok.mean()) for part, ok in kept.items()})
    return out


def _unit_pixels(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    return (images.astype(np.float64) + 1.0) / 2.0  # [-1, 1] floats


def reconstruction_errors(sources, outputs) -> dict:
    """L1 (mean absolute) and L2 (mean squared) error between two image sets, pixels in [0, 1]
    (uint8, or floats in [-1, 1])."""
    a, b = _unit_pixels(sources), _unit_pixels(outputs)
    if a.shape != b.shape:
        raise ValueError(f"images of shape {a.shape} against {b.shape}")
    return {"recon_l1": float(np.abs(a - b).mean()), "recon_l2": float(((a - b) ** 2).mean())}


def cosine_similarity(a, b) -> np.ndarray:
    """Row-wise cosine of two [N, D] arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)


def manipulative_precision(sources, outputs, similarity) -> dict:
    """ManiGAN's MP = (1 - diff) x sim (Li et al., CVPR 2020, Sec. 5).

    Args:
        sources, outputs: the input and manipulated images (uint8, or floats in [-1, 1]).
        similarity: [N] DAMSM cosines between each output image and its new caption.

    Returns: `mp`, `mp_diff` (mean L1 in [0, 1]) and `mp_sim` (mean cosine).
    """
    diff = float(np.abs(_unit_pixels(sources) - _unit_pixels(outputs)).mean())
    sim = float(np.mean(similarity))
    return {"mp": (1.0 - diff) * sim, "mp_diff": diff, "mp_sim": sim}
