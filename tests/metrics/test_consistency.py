"""Consistency across descriptions: agreement maths, the second captions, and the registered metric."""

import dataclasses
import zlib

import numpy as np
import pytest

from t2izoo import evaluate as ev
from t2izoo.data.shapes import ShapesConfig, ShapesImageSet
from t2izoo.metrics import shapes_evaluator as se
from t2izoo.metrics.consistency import attribute_agreement, second_captions


def readings(attributes, confidence=8.0):
    """Evaluator logits that read exactly `attributes`."""
    targets = se.cell_targets(attributes)
    out = {"occupancy": np.where(targets[..., 0] > 0, confidence, -confidence)}
    for k, (name, classes) in enumerate((("color", 8), ("shape", 5), ("size", 3)), start=1):
        out[name] = np.eye(classes)[np.maximum(targets[..., k], 0)] * confidence
    return out


@pytest.fixture(scope="module")
def test_set():
    return ShapesImageSet("test", ShapesConfig(num_train=50, num_test=120, seed=1), cache=False)


def test_agreement_counts_each_attribute_per_object(test_set):
    attrs = np.asarray(test_set.attributes)
    same = attribute_agreement(readings(attrs), readings(attrs), attrs)
    assert same == {"color": 1.0, "shape": 1.0, "size": 1.0, "position": 1.0, "object": 1.0}
    recoloured = attrs.copy()
    recoloured[::2, :, 1] = (recoloured[::2, :, 1] + 1) % 8  # every object of every other scene
    got = attribute_agreement(readings(attrs), readings(recoloured), attrs)
    present = attrs[..., 0] > 0
    want = 1.0 - present[::2].sum() / present.sum()
    assert got["color"] == pytest.approx(want) and got["object"] == pytest.approx(want)
    assert got["shape"] == got["size"] == got["position"] == 1.0
    moved = attrs.copy()
    moved[:3, 0, 4] = (moved[:3, 0, 4] + 1) % 9  # one object of three scenes drawn elsewhere
    got = attribute_agreement(readings(attrs), readings(moved), attrs)
    rows = present.sum(1)
    assert got["position"] == pytest.approx(1.0 - rows[:3].sum() / present.sum())


def test_second_captions_are_other_wordings_of_the_same_scene(test_set):
    indices, first = ev.sample_plan(test_set, 240)
    second = second_captions(test_set, indices, 240)
    for k in (0, 7, 119, 120, 239):
        assert second[k] in test_set.captions[indices[k]] and second[k] != first[k]
    assert second[0] == test_set.captions[0][1] and second[120] == test_set.captions[0][2]


@dataclasses.dataclass
class FakeRun:
    """A `Text2Image` stand-in: images from the noise seed and, with `wording`, from the caption."""

    wording: bool
    config: object = dataclasses.field(default_factory=lambda: dataclasses.make_dataclass(
        "C", [("dataset", str, "shapes"), ("shapes_test", int, 120), ("shapes_train", int, 50),
              ("data_dir", str, ""), ("seed", int, 1)])())
    model_dir: str = ""
    step: int = 0
    use_ema: bool = True
    checkpoint: str = ""

    def __call__(self, captions, num_per_caption=1, seed=0):
        noise = np.random.default_rng(seed).integers(0, 256, (len(captions), 32, 32, 3))
        if not self.wording:
            return noise.astype(np.uint8)
        shift = np.array([zlib.crc32(c.encode()) % 256 for c in captions])[:, None, None, None]
        return ((noise + shift) % 256).astype(np.uint8)


def test_registered_metric_generates_the_second_wording_with_the_same_noise(tmp_path, test_set, monkeypatch):
    monkeypatch.setattr(ev, "load_dataset", lambda config, split: test_set)
    evaluator = se.ShapesEvaluator(image_size=32, widths=(8, 8, 8), cell_dim=8)
    evaluator(np.zeros((1, 32, 32, 3), np.float32))
    blind = ev.evaluate(FakeRun(False, model_dir=str(tmp_path)), ["shapes_consistency"], 100, "test",
                        verbose=False, shapes_evaluator=evaluator)
    assert all(blind[f"consistency_{k}"] == 1.0 for k in ("color", "shape", "size", "position", "object"))
    worded = ev.evaluate(FakeRun(True, model_dir=str(tmp_path)), ["shapes_consistency"], 100, "test",
                         verbose=False, shapes_evaluator=evaluator)
    assert min(worded[f"consistency_{k}"] for k in ("color", "shape", "size")) < 1.0
