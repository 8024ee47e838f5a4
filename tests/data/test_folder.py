import json
import os

import numpy as np
import pytest

from t2izoo.data import folder
from t2izoo.data.datasets import load_split
from t2izoo.errors import DataError
from t2izoo.testing import fixtures


def test_hash_split_is_deterministic_and_about_ten_percent():
    names = [f"photos/{i:05d}.jpg" for i in range(2000)]
    splits = [folder.hash_split(n) for n in names]
    assert splits == [folder.hash_split(n) for n in names]
    assert 0.07 < splits.count("test") / len(names) < 0.13
    assert folder.hash_split("x.jpg", test_fraction=0.0) == "train"
    assert folder.hash_split("x.jpg", test_fraction=1.0) == "test"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_hash_split_covers_every_image_once(tmp_path, fmt):
    info = fixtures.write_folder_fixture(tmp_path, num_images=20, fmt=fmt, captions_per_image=3)
    train = load_split("folder", "train", root=str(tmp_path), image_size=32)
    test = load_split("folder", "test", root=str(tmp_path), image_size=32)
    assert sorted(train.keys + test.keys) == sorted(info["images"])
    assert test.keys == [k for k in info["images"] if folder.hash_split(k) == "test"]
    assert len(test) >= 1 and len(train) >= 1
    for ds in (train, test):
        np.testing.assert_array_equal(ds.class_ids, np.arange(len(ds)))
        for key, caps in zip(ds.keys, ds.captions):
            assert caps == info["captions"][key]  # rows of one image merged, in file order
    # Whole image at 38 px, blue = 12 * image number (PNG images are lossless).
    png = [i for i, k in enumerate(train.keys) if k.endswith(".png")][0]
    number = int(train.keys[png].split("_")[-1].split(".")[0])
    assert abs(int(train.images[train.rows[png], 19, 19, 2]) - 12 * number) <= 1
    out = train.load_images([0, 1], (16, 32), rng=np.random.default_rng(0))
    assert out[16].shape == (2, 16, 16, 3)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_split_field_is_respected(tmp_path, fmt):
    info = fixtures.write_folder_fixture(tmp_path, num_images=12, fmt=fmt, with_split=True)
    test = folder.load(str(tmp_path), "test", 32)
    assert test.keys == [k for k in info["images"] if info["splits"][k] == "test"]
    assert len(test) == 3 and len(folder.load(str(tmp_path), "train", 32)) == 9


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(DataError, match=r"missing directory .*nothing"):
        folder.load(str(tmp_path / "nothing"), "train", 32)
    with pytest.raises(DataError, match=r"(?s)missing file .*captions.jsonl .*captions.csv.*expected layout"):
        folder.load(str(tmp_path), "train", 32)
    with open(tmp_path / "captions.jsonl", "w") as f:
        f.write('{"image": "a.jpg", "captions": ["fine"]}\n\n{"image": "b.jpg", "captions": [\n')
    with pytest.raises(DataError, match=r"captions.jsonl line 3: not a JSON object"):
        folder.load(str(tmp_path), "train", 32)
    with open(tmp_path / "captions.jsonl", "w") as f:
        f.write('{"picture": "a.jpg", "captions": ["fine"]}\n')
    with pytest.raises(DataError, match=r"line 1: needs \"image\""):
        folder.load(str(tmp_path), "train", 32)
    with open(tmp_path / "captions.jsonl", "w") as f:
        f.write('{"image": "a.jpg", "caption": "fine", "split": "val"}\n')
    with pytest.raises(DataError, match=r"line 1: split must be one of"):
        folder.load(str(tmp_path), "train", 32)
    os.remove(tmp_path / "captions.jsonl")
    with open(tmp_path / "captions.csv", "w") as f:
        f.write("file,text\na.jpg,hello\n")
    with pytest.raises(DataError, match=r"captions.csv: the header must name the columns image,caption"):
        folder.load(str(tmp_path), "train", 32)


def test_empty_and_non_utf8_captions_name_the_line(tmp_path):
    fixtures.write_folder_fixture(tmp_path, num_images=4, fmt="jsonl")
    with open(tmp_path / "captions.jsonl", "a") as f:
        f.write(json.dumps({"image": "pics/sub0/img_000.jpg", "caption": " ?! "}) + "\n")
    with pytest.raises(DataError, match=r"captions.jsonl line 7: caption is empty"):
        folder.load(str(tmp_path), "train", 32)
    with open(tmp_path / "captions.jsonl", "wb") as f:
        f.write(b'{"image": "pics/sub0/img_000.jpg", "caption": "ok"}\n{"image": "x.jpg", "caption": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"captions.jsonl line 2: not valid UTF-8"):
        folder.load(str(tmp_path), "train", 32)


def test_unreadable_and_missing_images_are_skipped(tmp_path):
    info = fixtures.write_folder_fixture(tmp_path, num_images=10, fmt="csv", with_split=True)
    train_keys = [k for k in info["images"] if info["splits"][k] == "train"]
    fixtures.truncate_file(os.path.join(tmp_path, train_keys[0]))
    os.remove(os.path.join(tmp_path, train_keys[2]))
    with pytest.warns(UserWarning, match=r"folder/train: 2 of 8 images could not be read.*img_000"):
        ds = folder.load(str(tmp_path), "train", 32)
    assert ds.keys == [train_keys[1]] + train_keys[3:]
    np.testing.assert_array_equal(ds.class_ids, np.arange(6))
