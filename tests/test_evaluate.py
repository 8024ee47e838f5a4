"""The evaluate command's shapes metrics: retrieval maths, sample plan, and an end-to-end run."""

import json
import os

import numpy as np
import pytest

from t2izoo import evaluate as ev
from t2izoo.data.shapes import ShapesConfig, ShapesImageSet
from t2izoo.errors import ConfigError
from t2izoo.metrics import shapes_evaluator as se
from t2izoo.testing import tiny


def perfect_predictions(attributes, confidence=8.0):
    """Evaluator logits that say exactly what `attributes` say."""
    targets = se.cell_targets(attributes)
    out = {"occupancy": np.where(targets[..., 0] > 0, confidence, -confidence)}
    for k, (name, classes) in enumerate((("color", 8), ("shape", 5), ("size", 3)), start=1):
        onehot = np.eye(classes)[np.maximum(targets[..., k], 0)]
        out[name] = onehot * confidence
    return out


@pytest.fixture(scope="module")
def test_set():
    return ShapesImageSet("test", ShapesConfig(num_train=50, num_test=300, seed=1), cache=False)


def test_perfect_images_have_full_r_precision_and_accuracy(test_set):
    idx = np.arange(len(test_set))
    preds = perfect_predictions(test_set.attributes)
    mean, _ = ev.shapes_r_precision(preds, idx, test_set, seed=0)
    # only genuine ties remain: a two-object scene whose "other-class" caption names the same
    # two objects in the other order describes the identical picture
    assert mean > 99.0
    acc = se.attribute_accuracy_from_predictions(preds, test_set.attributes)
    assert all(v == 1.0 for v in acc.values())


def test_uninformative_images_score_chance(test_set):
    idx = np.arange(len(test_set))
    blank = {"occupancy": np.zeros((len(idx), 9)), "color": np.zeros((len(idx), 9, 8)),
             "shape": np.zeros((len(idx), 9, 5)), "size": np.zeros((len(idx), 9, 3))}
    mean, _ = ev.shapes_r_precision(blank, idx, test_set, seed=0)
    # every candidate with as many objects scores the same: ties are shared, never won
    assert mean < 5.0


def test_log_likelihood_prefers_the_true_attributes(test_set):
    preds = perfect_predictions(test_set.attributes[:4])
    cands = np.stack([test_set.attributes[:4], test_set.attributes[4:8]], axis=1)
    scores = ev.shapes_log_likelihood(preds, cands)
    assert (scores[:, 0] > scores[:, 1]).all()
    # dropping an object from a two-object description lowers its likelihood
    two = np.nonzero(test_set.attributes[:, 1, 0])[0][:3]
    preds = perfect_predictions(test_set.attributes[two])
    partial = test_set.attributes[two].copy()
    partial[:, 1] = 0
    scores = ev.shapes_log_likelihood(preds, np.stack([test_set.attributes[two], partial], axis=1))
    assert (scores[:, 0] > scores[:, 1] + 1.0).all()


def test_sample_plan_cycles_images_then_captions(test_set):
    images, captions = ev.sample_plan(test_set, 650)
    assert images[0] == 0 and images[300] == 0 and images[649] == 49
    assert captions[0] == test_set.captions[0][0] and captions[300] == test_set.captions[0][1]
    assert captions[600] == test_set.captions[0][2]


def test_evaluate_end_to_end_on_a_tiny_run(tiny_run_copy):
    run = tiny_run_copy("gan_int_cls")  # the session's tiny run; evaluation appends to its eval.jsonl
    steps = tiny.tiny_config("gan_int_cls", **tiny.tiny_runs()["gan_int_cls"][1]).max_steps
    evaluator = se.ShapesEvaluator(image_size=32, widths=(8, 8, 8), cell_dim=8)
    evaluator(np.zeros((1, 32, 32, 3), np.float32))
    result = ev.evaluate_run(run, ["shapes_acc", "shapes_fid", "shapes_r_precision"], 20, "novel",
                             verbose=False, shapes_evaluator=evaluator)
    for key in ("acc_color", "acc_shape", "acc_size", "acc_position", "shapes_fid", "shapes_r_precision",
                "evaluator_real_color"):
        assert np.isfinite(result[key]), key
    assert any(k.startswith("acc_color_") and k.endswith("obj") for k in result)  # per object count
    assert result["num_samples"] == 20 and result["split"] == "novel" and result["step"] == steps
    logged = [json.loads(line) for line in open(os.path.join(run, "eval.jsonl"))]
    assert logged[-1] == result
    with pytest.raises(ConfigError, match="unknown metrics"):
        ev.evaluate_run(run, ["bleu"], 20, "test", verbose=False)
    with pytest.raises(ConfigError, match="at least 10"):
        ev.evaluate_run(run, ["shapes_acc"], 5, "test", verbose=False)


def test_a_result_is_appended_and_an_unwritable_run_dir_only_warns(tmp_path, capsys):
    ev.record_result(str(tmp_path), {"acc": 0.5})
    ev.record_result(str(tmp_path), {"acc": 0.75})
    assert [json.loads(line) for line in open(tmp_path / "eval.jsonl")] == [{"acc": 0.5}, {"acc": 0.75}]
    ev.record_result(str(tmp_path / "missing"), {"acc": 1.0})  # cannot be opened: warned, not raised
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: result not recorded in") and "missing" in err[0]


def test_an_unknown_fid_extractor_is_refused():
    with pytest.raises(ConfigError, match="keras, pytorch_fid"):
        ev.check_fid_extractor("tf1")


@pytest.mark.slow  # three full Inception-v3 builds (299 px)
def test_pytorch_fid_extractor_from_a_local_weights_file(tmp_path):
    # pytorch-fid's network from a local state dict (here: random weights saved as .npz in its
    # key layout, with its 1008-way fc); fid/kid/is name the extractor they used.
    from t2izoo.convert.inception import inception_state_dict
    from t2izoo.encoders.torch_inception import TorchInceptionV3
    from t2izoo.errors import DataError
    from t2izoo.metrics.features import PytorchFidFeatureExtractor, make_feature_extractor

    rng = np.random.default_rng(0)
    net = TorchInceptionV3("fid")
    net(np.zeros((1, 299, 299, 3), np.float32))
    arrays = inception_state_dict(net)
    arrays["fc.weight"] = rng.normal(0, 0.01, (1008, 2048)).astype(np.float32)
    arrays["fc.bias"] = rng.normal(0, 0.01, 1008).astype(np.float32)
    path = str(tmp_path / "pt_inception.npz")
    np.savez(path, **arrays)
    extractor = make_feature_extractor("pytorch_fid", path)
    assert isinstance(extractor, PytorchFidFeatureExtractor) and extractor.name == "pytorch_fid_inception_v3"
    images = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    pool, logits = extractor(images, value_range=(0, 255))
    want = np.asarray(net(extractor.preprocess(images, (0, 255)))["pool"])
    np.testing.assert_allclose(pool, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, pool @ arrays["fc.weight"].T + arrays["fc.bias"], rtol=1e-4, atol=1e-5)
    assert pool.shape == (3, 2048) and pool.std() > 0
    with pytest.raises(DataError, match="pt_inception-2015-12-05"):
        make_feature_extractor("pytorch_fid", str(tmp_path / "missing.pth"))
    del arrays["Mixed_7c.branch_pool.conv.weight"]
    np.savez(path, **arrays)
    with pytest.raises(Exception, match="1 missing key"):
        make_feature_extractor("pytorch_fid", path)
