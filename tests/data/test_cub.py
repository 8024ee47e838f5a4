import os
import pickle

import numpy as np
import pytest

from t2izoo.data import cub
from t2izoo.data.datasets import load_split
from t2izoo.data.image_store import bbox_crop_box
from t2izoo.errors import DataError
from t2izoo.testing import fixtures


@pytest.fixture
def cub_root(tmp_path):
    info = fixtures.write_cub_fixture(tmp_path, num_classes=3, images_per_class=4, size=(120, 90))
    return str(tmp_path), info


def test_splits_counts_captions_and_classes(cub_root):
    root, info = cub_root
    train = load_split("cub", "train", root=root, image_size=32)
    test = load_split("cub", "test", root=root, image_size=32)
    assert (len(train), len(test)) == (8, 4)
    assert train.keys == info["train"] and test.keys == info["test"]
    np.testing.assert_array_equal(train.class_ids, [1, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(test.class_ids, [3, 3, 3, 3])
    assert train.captions[5] == info["captions"][info["train"][5]]
    assert all(len(c) == 10 for c in train.captions)
    assert train.flip and train.name == "cub"
    train.check()


def test_cached_images_are_bbox_crops(cub_root):
    root, info = cub_root
    ds = cub.load(root, "train", image_size=32)
    size = info["size"]
    for i in (0, 3, 6):
        key = ds.keys[i]
        x1, y1, x2, y2 = bbox_crop_box(info["bboxes"][key], *size)
        image = ds.images[ds.rows[i]]
        for row, col in ((0, 0), (37, 37)):
            sx = x1 + (col + 0.5) * (x2 - x1) / 38 - 0.5
            sy = y1 + (row + 0.5) * (y2 - y1) / 38 - 0.5
            blue = fixtures.class_blue(info["class_ids"][key] - 1)
            np.testing.assert_allclose(image[row, col], fixtures.gradient_color(sx, sy, size, blue), atol=8)
    # bbox=False keeps the whole image: red 0 -> 255 from left to right.
    whole = cub.load(root, "train", image_size=32, bbox=False)
    np.testing.assert_allclose(whole.images[0, 19, [0, 37], 0], [0, 255], atol=10)


def test_batches_have_crop_shapes_and_are_seeded(cub_root):
    ds = cub.load(cub_root[0], "train", image_size=32)
    a = ds.load_images([0, 5, 7], (16, 32), rng=np.random.default_rng(3))
    b = ds.load_images([0, 5, 7], (16, 32), rng=np.random.default_rng(3))
    assert a[32].shape == (3, 32, 32, 3) and a[16].shape == (3, 16, 16, 3) and a[32].dtype == np.uint8
    np.testing.assert_array_equal(a[32], b[32])
    centre = ds.load_images([0], (32,))[32]
    np.testing.assert_array_equal(centre[0], ds.images[ds.rows[0], 3:35, 3:35])


def test_missing_root_and_files_name_the_path(cub_root, tmp_path):
    root, info = cub_root
    with pytest.raises(DataError, match=r"(?s)missing directory .*nowhere.*expected layout.*bounding_boxes.txt"):
        cub.load(os.path.join(root, "nowhere"), "train", 32)
    os.remove(os.path.join(root, "test", "filenames.pickle"))
    with pytest.raises(DataError, match=r"missing file .*test/filenames.pickle"):
        cub.load(root, "test", 32)
    os.remove(os.path.join(root, "text", info["train"][2] + ".txt"))
    with pytest.raises(DataError, match=r"missing file .*" + info["train"][2].split("/")[1] + r"\.txt"):
        cub.load(root, "train", 32)


def test_mismatched_class_info_and_bad_pickle(cub_root):
    root, info = cub_root
    with open(os.path.join(root, "train", "class_info.pickle"), "wb") as f:
        pickle.dump([1, 2], f)
    with pytest.raises(DataError, match="2 class ids for the 8 names"):
        cub.load(root, "train", 32)
    with open(os.path.join(root, "train", "class_info.pickle"), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(DataError, match="class_info.pickle is not a readable pickle"):
        cub.load(root, "train", 32)


def test_unreadable_image_is_counted_and_skipped(cub_root):
    root, info = cub_root
    fixtures.truncate_file(info["image_paths"][info["train"][1]])
    with pytest.warns(UserWarning, match=r"cub/train: 1 of 8 images could not be read.*" + info["train"][1]):
        ds = cub.load(root, "train", 32)
    assert len(ds) == 7 and info["train"][1] not in ds.keys
    np.testing.assert_array_equal(ds.class_ids, [1, 1, 1, 2, 2, 2, 2])


def test_short_caption_file_warns_with_count(cub_root):
    root, info = cub_root
    key = info["train"][4]
    path = os.path.join(root, "text", key + ".txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(["a small bird", "", "   ", "a red bird", "!!!", "a bird with wings"]) + "\n")
    with pytest.warns(UserWarning, match=r"1 caption files have fewer than 10 captions.*has 3"):
        ds = cub.load(root, "train", 32)
    assert ds.captions[4] == ["a small bird", "a red bird", "a bird with wings"]
    assert ds.load_images([4], (32,))[32].shape == (1, 32, 32, 3)
    assert len(cub.load(root, "train", 32, captions_per_image=2).captions[0]) == 2


def test_empty_and_non_utf8_caption_files_are_errors(cub_root):
    root, info = cub_root
    path = os.path.join(root, "text", info["test"][0] + ".txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n  \n")
    with pytest.raises(DataError, match=r"\.txt: no captions"):
        cub.load(root, "test", 32)
    with open(path, "wb") as f:
        f.write(b"a bird \xff\xfe with bad bytes\n")
    with pytest.raises(DataError, match=r"Cardinal_0001_9\.txt: captions are not valid UTF-8"):
        cub.load(root, "test", 32)


def test_pipeline_batches_from_cub(tmp_path):
    import tensorflow as tf

    from t2izoo.data.pipeline import PipelineOptions, make_dataset
    from t2izoo.data.text import Vocabulary

    fixtures.write_cub_fixture(tmp_path, num_classes=5, images_per_class=3, size=(80, 60), test_classes=1)
    ds = load_split("cub", "train", root=str(tmp_path), image_size=32)
    vocab = Vocabulary.build([c for caps in ds.captions for c in caps])
    options = PipelineOptions(image_sizes=(16, 32), batch_size=6, max_words=18, training=True, seed=1)
    batches = list(make_dataset(ds, vocab, options, num_steps=2))
    assert len(batches) == 2
    class_word = {i + 1: w for i, w in enumerate(fixtures.CLASS_WORDS[:5])}
    for batch in batches:
        for s in (16, 32):
            image = batch[f"image_{s}"].numpy()
            assert image.dtype == np.float32 and image.shape == (6, s, s, 3)
            assert image.min() >= -1.0 and image.max() <= 1.0 and image.max() - image.min() > 1.0
        assert batch["image_32"].dtype == tf.float32
        ids, wrong_ids = batch["class_ids"].numpy(), batch["wrong_class_ids"].numpy()
        assert np.all(ids != wrong_ids)
        for k in range(6):
            right = vocab.decode(batch["tokens"].numpy()[k])
            wrong = vocab.decode(batch["wrong_tokens"].numpy()[k])
            assert class_word[ids[k]] in right.split()
            assert class_word[wrong_ids[k]] in wrong.split() and class_word[ids[k]] not in wrong.split()
            index = batch["index"].numpy()[k]
            assert right in [" ".join(c.lower().split()) for c in ds.captions[index]]
