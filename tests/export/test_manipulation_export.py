"""Export of manipulation runs: SavedModel (uint8 images + captions -> uint8 images) and TFLite
(images + text conditioning -> images) round trips against `ImageManipulator`."""

import numpy as np
import pytest
import tensorflow as tf

from t2izoo.export import manipulation as export_lib
from t2izoo.testing import tiny

@pytest.fixture(scope="module", params=tiny.generator_run_names("manipulation"))
def run_dir(request, tiny_run):
    return tiny_run(request.param)  # the session's shared run (tests/conftest.py): read-only here


def _inputs(size, n=3):
    images = np.random.default_rng(0).integers(0, 256, (n, size, size, 3)).astype(np.uint8)
    captions = ["a large blue circle in the center", "a small red star at the top", "a medium green square"][:n]
    return images, captions


def test_saved_model_round_trip(run_dir, tmp_path):
    from t2izoo.manipulate import ImageManipulator

    path = export_lib.export_manipulation_saved_model(run_dir, str(tmp_path), "m", 1)
    manipulator = ImageManipulator.load(run_dir)
    images, captions = _inputs(manipulator.image_size)
    serve = tf.saved_model.load(path).signatures[export_lib.SIGNATURE]
    out = serve(images=tf.constant(images), captions=tf.constant(captions))["images"].numpy()
    want = manipulator(images, captions)
    assert out.dtype == np.uint8 and out.shape == want.shape
    assert np.abs(out.astype(int) - want.astype(int)).max() <= 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        serve(images=tf.constant(images[:1]), captions=tf.constant([" "]))


def test_tflite_round_trip(run_dir, tmp_path):
    from t2izoo.manipulate import ImageManipulator

    path = export_lib.export_manipulation_tflite(run_dir, str(tmp_path), "m")
    manipulator = ImageManipulator.load(run_dir)
    images, captions = _inputs(manipulator.image_size, 1)
    pixels = images.astype(np.float32) / 127.5 - 1
    conditioning = {k: np.asarray(v) for k, v in manipulator.conditioner.conditioning(captions).items()}
    interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    out = runner(images=pixels, **conditioning)["images"]
    want = np.asarray(manipulator.trainer.manipulate(pixels, conditioning))
    np.testing.assert_allclose(out, want, atol=2e-4)
