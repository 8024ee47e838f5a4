import json
import os

import numpy as np
import pytest

from t2izoo.data import coco
from t2izoo.data.datasets import load_split
from t2izoo.errors import DataError
from t2izoo.testing import fixtures


@pytest.mark.parametrize("merged", [False, True])
def test_splits_captions_and_class_ids(tmp_path, merged):
    info = fixtures.write_coco_fixture(tmp_path, num_train=4, num_val=3, merged=merged)
    train = load_split("coco", "train", root=str(tmp_path), image_size=32)
    test = load_split("coco", "test", root=str(tmp_path), image_size=32)
    assert (len(train), len(test)) == (4, 3)
    assert train.keys == info["train"] and test.keys == info["test"]
    assert all(k.startswith("COCO_val2014_") for k in test.keys)
    # All five captions, in annotation-id order although the file lists them reversed.
    assert train.captions[2] == info["captions"][info["train"][2]] and len(train.captions[2]) == 5
    np.testing.assert_array_equal(train.class_ids, np.arange(4))
    # Whole image at 38 px; blue encodes the image number (30 * i).
    np.testing.assert_allclose(train.images[train.rows[:4], 19, 19, 2], [0, 30, 60, 90], atol=5)
    out = test.load_images([2, 0], (32, 16), rng=np.random.default_rng(1))
    assert out[32].shape == (2, 32, 32, 3) and out[16].shape == (2, 16, 16, 3)
    assert len(coco.load(str(tmp_path), "train", 32, captions_per_image=3).captions[0]) == 3


def test_missing_and_malformed_annotations(tmp_path):
    with pytest.raises(DataError, match=r"(?s)missing directory .*expected layout.*captions_train2014.json"):
        coco.load(str(tmp_path / "no_coco"), "train", 32)
    fixtures.write_coco_fixture(tmp_path)
    os.remove(os.path.join(tmp_path, "annotations", "captions_val2014.json"))
    with pytest.raises(DataError, match=r"missing file .*annotations/captions_val2014\.json"):
        coco.load(str(tmp_path), "test", 32)
    with open(os.path.join(tmp_path, "annotations", "captions_val2014.json"), "w") as f:
        f.write('{"images": [], ')
    with pytest.raises(DataError, match="captions_val2014.json is not a COCO captions file"):
        coco.load(str(tmp_path), "test", 32)
    os.rename(os.path.join(tmp_path, "train2014"), os.path.join(tmp_path, "elsewhere"))
    with pytest.raises(DataError, match=r"missing directory .*train2014"):
        coco.load(str(tmp_path), "train", 32)


def test_empty_captions_and_broken_images(tmp_path):
    info = fixtures.write_coco_fixture(tmp_path, num_train=5)
    path = os.path.join(tmp_path, "annotations", "captions_train2014.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    by_image = {im["id"]: im["file_name"] for im in data["images"]}
    for ann in data["annotations"]:
        name = by_image[ann["image_id"]]
        if name == info["train"][0]:
            ann["caption"] = "  "  # every caption of image 0 empty
        elif name == info["train"][1] and ann["caption"].endswith("thing 2"):
            ann["caption"] = "..."
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    fixtures.truncate_file(info["image_paths"][info["train"][3]])
    with pytest.warns(UserWarning) as record:
        ds = coco.load(str(tmp_path), "train", 32)
    messages = " | ".join(str(w.message) for w in record)
    assert "dropped 6 empty or non-text captions" in messages
    assert "1 images have no caption left" in messages and info["train"][0] in messages
    assert "1 of 4 images could not be read" in messages and info["train"][3] in messages
    assert ds.keys == [info["train"][1], info["train"][2], info["train"][4]]
    assert len(ds.captions[0]) == 4 and "..." not in ds.captions[0]
    np.testing.assert_array_equal(ds.class_ids, [0, 1, 2])
