"""`coco_tfds` on mocked TFDS data.

TFDS 4.9.10's automatic random mock cannot generate `coco_captions` examples (its `captions`
and `objects` sequences get sub-features of different lengths and encoding fails), so the
tests use `mock_data(as_dataset_fn=...)`, TFDS's manual mock, with hand-made examples.
"""

import io

import numpy as np
import pytest
from PIL import Image

from t2izoo.data import coco_tfds
from t2izoo.data.datasets import load_split
from t2izoo.errors import DataError

tfds = pytest.importorskip("tensorflow_datasets")


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40 + 4 * i, 30), (20 * i, 100, 200 - 10 * i)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _captions(i: int):
    return [f"picture {i} shows item {j}" for j in range(5 + i % 2)]


def _mock(num_examples=4, broken=(), empty=(), calls=None):
    import tensorflow as tf

    def as_dataset_fn(self, split, decoders=None, read_config=None, shuffle_files=False, **kwargs):
        if calls is not None:
            calls.append(split)
        assert decoders is not None and "image" in decoders  # images come encoded
        texts = [[" " if (i, j) in empty else c for j, c in enumerate(_captions(i))] for i in range(num_examples)]
        images = [b"\xff\xd8 broken" if i in broken else _jpeg(i) for i in range(num_examples)]
        return tf.data.Dataset.from_tensor_slices({
            "image": images,
            "image/filename": [f"COCO_{split}_{i:012d}.jpg" for i in range(num_examples)],
            "image/id": np.arange(num_examples, dtype=np.int64),
            "captions": {"id": tf.ragged.constant([list(range(len(t))) for t in texts], dtype=tf.int64),
                         "text": tf.ragged.constant(texts)},
        })

    return tfds.testing.mock_data(as_dataset_fn=as_dataset_fn)


def test_materializes_images_and_captions_once(tmp_path):
    calls = []
    with _mock(num_examples=5, calls=calls):
        ds = load_split("coco_tfds", "test", root=str(tmp_path), image_size=32)
        again = coco_tfds.load(str(tmp_path), "test", 32)
    assert calls == ["val+test+restval"]  # the second load read only the cache
    assert len(ds) == 5 and ds.images.shape == (5, 38, 38, 3) and ds.images.dtype == np.uint8
    assert ds.keys[2] == "COCO_val+test+restval_000000000002.jpg"
    assert ds.captions == [_captions(i) for i in range(5)] and len(ds.captions[1]) == 6
    np.testing.assert_array_equal(ds.class_ids, np.arange(5))
    np.testing.assert_allclose(ds.images[3, 19, 19], [60, 100, 170], atol=4)
    assert again.captions == ds.captions
    np.testing.assert_array_equal(np.asarray(again.images), np.asarray(ds.images))
    out = ds.load_images([4, 0], (16, 32), rng=np.random.default_rng(0))
    assert out[32].shape == (2, 32, 32, 3) and out[16].shape == (2, 16, 16, 3)


def test_train_split_and_caption_limit(tmp_path):
    calls = []
    with _mock(num_examples=3, calls=calls):
        ds = coco_tfds.load(str(tmp_path), "train", 32, captions_per_image=2)
    assert calls == ["train"] and [len(c) for c in ds.captions] == [2, 2, 2]


def test_broken_images_and_empty_captions_are_counted(tmp_path):
    with _mock(num_examples=6, broken=(1, 4), empty=((2, 0), (2, 3))):
        with pytest.warns(UserWarning) as record:
            ds = coco_tfds.load(str(tmp_path), "train", 32)
    messages = " | ".join(str(w.message) for w in record)
    assert "2 of 6 images could not be read" in messages and "COCO_train_000000000001.jpg" in messages
    assert "dropped 2 empty or non-UTF-8 captions" in messages
    assert [k[-6:-4] for k in ds.keys] == ["00", "02", "03", "05"]
    assert len(ds.captions[1]) == 3 and ds.captions[1][0] == "picture 2 shows item 1"
    np.testing.assert_array_equal(ds.class_ids, np.arange(4))
    np.testing.assert_allclose(ds.load_images([3], (32,))[32][0, 16, 16], [100, 100, 150], atol=4)
    with _mock(num_examples=6, broken=(1, 4)):
        with pytest.raises(DataError, match="2 of 6 images could not be read"):
            coco_tfds.load(str(tmp_path), "train", 32, strict=True)


def test_missing_data_dir_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"missing TFDS data_dir .*absent.*tfds build coco_captions"):
        coco_tfds.load(str(tmp_path / "absent"), "train", 32)
    with pytest.raises(DataError, match=r"cannot read TFDS 'coco_captions' split 'train' from data_dir"):
        coco_tfds.load(str(tmp_path), "train", 32)  # exists but holds no build (no mock here)
