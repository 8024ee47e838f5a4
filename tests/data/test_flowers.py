import os
import pickle
import shutil

import numpy as np
import pytest

from t2izoo.data import flowers
from t2izoo.data.datasets import load_split
from t2izoo.errors import DataError
from t2izoo.testing import fixtures


def test_splits_counts_captions_classes_and_whole_image(tmp_path):
    info = fixtures.write_flowers_fixture(tmp_path, num_classes=4, images_per_class=3, size=(100, 80))
    train = load_split("flowers", "train", root=str(tmp_path), image_size=32)
    test = load_split("flowers", "test", root=str(tmp_path), image_size=32)
    assert (len(train), len(test)) == (9, 3)
    assert train.keys == info["train"]
    np.testing.assert_array_equal(train.class_ids, [1, 1, 1, 2, 2, 2, 3, 3, 3])
    np.testing.assert_array_equal(test.class_ids, [4, 4, 4])
    assert test.captions[1] == info["captions"][info["test"][1]] and len(test.captions[1]) == 10
    # No bounding box: the cache is the whole image (red 0 -> 255 left to right, green top to bottom).
    image = train.images[train.rows[4]]
    np.testing.assert_allclose(image[19, [0, 37], 0], [0, 255], atol=10)
    np.testing.assert_allclose(image[[0, 37], 19, 1], [0, 255], atol=10)
    np.testing.assert_allclose(image[19, 19, 2], fixtures.class_blue(1), atol=5)
    out = train.load_images([0, 8], (16, 32), rng=np.random.default_rng(0))
    assert out[32].shape == (2, 32, 32, 3) and out[16].shape == (2, 16, 16, 3)


def test_images_folder_text_c10_and_jpg_keys(tmp_path):
    info = fixtures.write_flowers_fixture(tmp_path, num_classes=2, images_per_class=2, image_dir="images",
                                          text_dir="text_c10")
    # StackGAN's flowers pickles name images "jpg/image_<n>": found by base name.
    keys = ["jpg/" + k.split("/")[1] for k in info["train"]]
    with open(os.path.join(tmp_path, "train", "filenames.pickle"), "wb") as f:
        pickle.dump(keys, f, protocol=2)
    ds = flowers.load(str(tmp_path), "train", 32)
    assert ds.keys == keys
    assert ds.captions[1] == info["captions"][info["train"][1]]


def test_missing_layout_parts_are_named(tmp_path):
    with pytest.raises(DataError, match=r"(?s)missing directory .*absent.*expected layout.*filenames.pickle"):
        flowers.load(str(tmp_path / "absent"), "train", 32)
    info = fixtures.write_flowers_fixture(tmp_path, num_classes=2, images_per_class=2)
    shutil.rmtree(os.path.join(tmp_path, "jpg"))
    with pytest.raises(DataError, match=r"missing directory .*jpg"):
        flowers.load(str(tmp_path), "train", 32)
    fixtures.write_flowers_fixture(tmp_path, num_classes=2, images_per_class=2)
    os.remove(os.path.join(tmp_path, "text", info["train"][0] + ".txt"))
    with pytest.raises(DataError, match=r"missing file .*image_00001\.txt"):
        flowers.load(str(tmp_path), "train", 32)


def test_bad_images_and_captions(tmp_path):
    info = fixtures.write_flowers_fixture(tmp_path, num_classes=3, images_per_class=3)
    fixtures.write_garbage(info["image_paths"][info["train"][0]])
    fixtures.truncate_file(info["image_paths"][info["train"][4]], keep=0.5)
    short = os.path.join(tmp_path, "text", info["train"][2] + ".txt")
    with open(short, "w", encoding="utf-8") as f:
        f.write("one pink flower\ntwo petals\n\n")
    with pytest.warns(UserWarning) as record:
        ds = flowers.load(str(tmp_path), "train", 32)
    images_msg, captions_msg = sorted((str(w.message) for w in record), key=lambda m: "caption files" in m)
    assert len(record) == 2
    assert "flowers/train: 2 of 6 images could not be read" in images_msg and "image_00001.jpg" in images_msg
    assert "flowers/train: 1 caption files have fewer than 10" in captions_msg and "has 2" in captions_msg
    assert len(ds) == 4 and ds.captions[1] == ["one pink flower", "two petals"]
    with open(short, "wb") as f:
        f.write(b"caf\xe9 flower\n")
    with pytest.raises(DataError, match=r"image_00003\.txt: captions are not valid UTF-8"):
        flowers.load(str(tmp_path), "train", 32)
    with open(short, "w", encoding="utf-8") as f:
        f.write("\n")
    with pytest.raises(DataError, match=r"image_00003\.txt: no captions"):
        flowers.load(str(tmp_path), "train", 32)
