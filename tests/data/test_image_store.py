import os
import warnings

import numpy as np
import pytest
from PIL import Image

from t2izoo.data import image_store
from t2izoo.data.image_store import Example, FileImageSet, PreprocessedImageSet, bbox_crop_box, load_size
from t2izoo.errors import DataError
from t2izoo.testing import fixtures


@pytest.mark.parametrize("bbox, width, height, expected", [
    # r = int(0.75 * 20) = 15, centre (60, 45): no clipping.
    ((50, 40, 20, 10), 200, 150, (45, 30, 75, 60)),
    # r = int(0.75 * 40) = 30, centre (30, 30): clipped at the left and top.
    ((10, 20, 40, 20), 100, 100, (0, 0, 60, 60)),
    # r = int(22.5) = 22, centre (int(95), int(82.5)) = (95, 82): clipped at the right and bottom.
    ((80, 70, 30, 25), 100, 90, (73, 60, 100, 90)),
    # r = int(6.75) = 6, centre (int(6.5), int(9.5)) = (6, 9): x clipped at 0 only.
    ((3, 5, 7, 9), 50, 50, (0, 3, 12, 15)),
    # Box larger than the image: the whole image.
    ((0, 0, 50, 40), 50, 40, (0, 0, 50, 40)),
])
def test_bbox_crop_box_hand_computed(bbox, width, height, expected):
    assert bbox_crop_box(bbox, width, height) == expected


def test_load_size_is_76_over_64():
    assert [load_size(s) for s in (64, 128, 256, 32)] == [76, 152, 304, 38]


def _examples(root, count, size=(60, 40), bbox=None):
    out = []
    for i in range(count):
        path = os.path.join(str(root), f"img_{i}.jpg")
        fixtures.write_jpeg(path, size, blue=20 * i)
        out.append(Example(path, (f"caption number {i}",), i % 2, bbox, f"img_{i}"))
    return out


def test_cache_holds_bicubic_resize_of_bbox_crop(tmp_path):
    size, bbox = (120, 90), (70, 40, 30, 20)  # r = 22, centre (85, 50) -> (63, 28, 107, 72)
    examples = _examples(tmp_path, 2, size, bbox)
    ds = FileImageSet("unit", "train", examples, image_size=32, cache=False)
    assert ds.images.shape == (2, 38, 38, 3) and ds.images.dtype == np.uint8
    x1, y1, x2, y2 = bbox_crop_box(bbox, *size)
    assert (x1, y1, x2, y2) == (63, 28, 107, 72)
    # Centre of output pixel (0, 0) and (37, 37) in source coordinates.
    scale_x, scale_y = (x2 - x1) / 38, (y2 - y1) / 38
    for (row, col) in ((0, 0), (37, 37), (0, 37)):
        sx, sy = x1 + (col + 0.5) * scale_x - 0.5, y1 + (row + 0.5) * scale_y - 0.5
        expected = fixtures.gradient_color(sx, sy, size, blue=20)
        np.testing.assert_allclose(ds.images[1, row, col], expected, atol=8)
    # The same image without a box is the whole picture.
    whole = FileImageSet("unit", "train", _examples(tmp_path, 1, size), image_size=32, cache=False)
    np.testing.assert_allclose(whole.images[0, 0, 0, :2], [0, 0], atol=8)
    np.testing.assert_allclose(whole.images[0, -1, -1, :2], [255, 255], atol=8)


def _random_set(n=6, side=38, flip=True):
    images = np.random.default_rng(0).integers(0, 256, (n, side, side, 3), dtype=np.uint8)
    return PreprocessedImageSet("unit", "train", images, [["a caption"]] * n, np.arange(n), flip=flip)


def test_eval_view_is_centre_crop_without_flip():
    ds = _random_set()
    out = ds.load_images([3, 1], sizes=(32, 16))
    assert set(out) == {32, 16}
    np.testing.assert_array_equal(out[32], ds.images[[3, 1], 3:35, 3:35])
    expected16 = np.asarray(Image.fromarray(ds.images[1, 3:35, 3:35]).resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(out[16][1], expected16)
    assert out[16].dtype == np.uint8 and out[16].shape == (2, 16, 16, 3)


def _find_crop(full, crop):
    """(y, x, flipped) such that `crop` is that window of `full`, or None."""
    c = crop.shape[0]
    for y in range(full.shape[0] - c + 1):
        for x in range(full.shape[1] - c + 1):
            window = full[y:y + c, x:x + c]
            if np.array_equal(window, crop):
                return y, x, False
            if np.array_equal(window[:, ::-1], crop):
                return y, x, True
    return None


def test_train_view_random_crop_and_flip_are_seeded():
    ds = _random_set()
    indices = [0, 1, 2, 3, 4, 5] * 4
    a = ds.load_images(indices, (32, 16), rng=np.random.default_rng(7))
    b = ds.load_images(indices, (32, 16), rng=np.random.default_rng(7))
    c = ds.load_images(indices, (32, 16), rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a[32], b[32])
    np.testing.assert_array_equal(a[16], b[16])
    assert not np.array_equal(a[32], c[32])
    found = [_find_crop(ds.images[i], crop) for i, crop in zip(indices, a[32])]
    assert all(f is not None for f in found)
    offsets = {(y, x) for y, x, _ in found}
    flips = [f for _, _, f in found]
    assert len(offsets) > 5 and all(0 <= y <= 6 and 0 <= x <= 6 for y, x in offsets)
    assert 4 <= sum(flips) <= 20  # p = 0.5 over 24 draws
    # Smaller scales show the same (flipped) view.
    for big, small in zip(a[32], a[16]):
        expected = np.asarray(Image.fromarray(big).resize((16, 16), Image.BILINEAR))
        np.testing.assert_array_equal(small, expected)


def test_no_flip_when_flip_is_invalid():
    ds = _random_set(flip=False)
    out = ds.load_images([0] * 16, (32,), rng=np.random.default_rng(3))
    assert not any(_find_crop(ds.images[0], crop)[2] for crop in out[32])


def test_crop_larger_than_cache_is_an_error():
    with pytest.raises(DataError, match="cached at 38 px"):
        _random_set().load_images([0], (64,))


def test_unreadable_images_are_counted_skipped_with_one_warning(tmp_path):
    examples = _examples(tmp_path, 6)
    fixtures.truncate_file(examples[1].image_path)
    fixtures.write_garbage(examples[3].image_path)
    os.remove(examples[4].image_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = FileImageSet("unit", "train", examples, image_size=32)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1
    assert "3 of 6 images could not be read" in messages[0]
    assert "img_1.jpg" in messages[0] and "img_3.jpg" in messages[0] and "img_4.jpg" in messages[0]
    assert len(ds) == 3 and ds.keys == ["img_0", "img_2", "img_5"]
    assert ds.captions == [["caption number 0"], ["caption number 2"], ["caption number 5"]]
    np.testing.assert_array_equal(ds.class_ids, [0, 0, 1])
    # Rows map to the right images: blue channel = 20 * original index.
    out = ds.load_images([0, 1, 2], (32,))[32]
    np.testing.assert_allclose(out[:, 16, 16, 2], [0, 40, 100], atol=6)

    # The cached build remembers the failures: same warning, no decoding.
    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    original = image_store.preprocess_image
    image_store.preprocess_image = no_decode
    try:
        with pytest.warns(UserWarning, match="3 of 6 images"):
            again = FileImageSet("unit", "train", examples, image_size=32)
    finally:
        image_store.preprocess_image = original
    assert again.keys == ds.keys
    np.testing.assert_array_equal(again.load_images([2], (32,))[32], out[2:])


def test_strict_or_all_unreadable_raises(tmp_path):
    examples = _examples(tmp_path, 3)
    fixtures.truncate_file(examples[2].image_path)
    with pytest.raises(DataError, match="1 of 3 images could not be read.*img_2.jpg"):
        FileImageSet("unit", "train", examples, image_size=32, strict=True, cache=False)
    for e in examples:
        fixtures.write_garbage(e.image_path)
    with pytest.raises(DataError, match="no readable image left"):
        FileImageSet("unit", "train", examples, image_size=32, cache=False)


def test_replaced_file_rebuilds_cache(tmp_path):
    examples = _examples(tmp_path, 2)
    first = FileImageSet("unit", "train", examples, image_size=32)
    assert first.images[1, 19, 19, 2] > 10
    img = fixtures.gradient_image((60, 40), blue=200)
    img.save(examples[1].image_path, "JPEG", quality=95)
    os.utime(examples[1].image_path, ns=(1, 1))
    second = FileImageSet("unit", "train", examples, image_size=32)
    assert abs(int(second.images[1, 19, 19, 2]) - 200) < 6
