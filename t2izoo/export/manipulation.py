"""Export of manipulation runs (`Family.task == "manipulation"`): a SavedModel for TF Serving
and a TFLite model for phones, both from the run's EMA weights.

    python -m t2izoo.export --model_dir=runs/sisgan_shapes --format=saved_model --out=/tmp/export
    python -m t2izoo.export --model_dir=runs/sisgan_shapes --format=tflite --out=/tmp/export

SavedModel (`OUT/<model_name>/<version>/`), signature `serving_default`:
    inputs  `images` uint8 [B, S, S, 3] (the model's side) and `captions` string [B] (the new descriptions),
    output  `images` uint8 [B, S, S, 3].
Tokenization, the text encoder, the manipulation and the conversion to uint8 run in the graph
(stock ops), as `t2izoo.manipulate.ImageManipulator` does in Python.

TFLite (`OUT/<model_name>/tflite/manipulator.tflite`): `images` float32 [batch, S, S, 3] in
[-1, 1] and the text conditioning (the conditioner's `conditioning_specs`: `embedding` for
char-CNN-RNN runs, `sentence` for SISGAN, word ids `tokens` + `lengths` for TAGAN) in, `images` float32 [batch, S, S, 3] in [-1, 1] out;
the phone runs the text encoder itself (or the SavedModel's tokenizer) to get the conditioning.
"""

from __future__ import annotations

import json
import os
import time

import tensorflow as tf

from t2izoo.errors import ConfigError
from t2izoo.utils.pixels import to_uint8

SIGNATURE = "serving_default"
TFLITE_FILE = "manipulator.tflite"


def _module(manipulator) -> tf.Module:
    trainer, conditioner = manipulator.trainer, manipulator.conditioner
    module = tf.Module()
    module.models = list(trainer.manipulation_models()) + list(conditioner.resources())
    return module


def default_model_name(manipulator) -> str:
    return f"{manipulator.config.dataset}_{manipulator.recipe.name}"


def export_manipulation_saved_model(model_dir: str, base: str, model_name: str | None = None,
                                    version: int | None = None) -> str:
    """Writes the SavedModel; returns its path."""
    from t2izoo.export.saved_model import check_captions_in_graph, check_checkpoint, next_version
    from t2izoo.manipulate import ImageManipulator

    check_checkpoint(model_dir)
    manipulator = ImageManipulator.load(model_dir)
    trainer, conditioner = manipulator.trainer, manipulator.conditioner
    size = manipulator.image_size
    module = _module(manipulator)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name="images"),
                                  tf.TensorSpec([None], tf.string, name="captions")])
    def serve(images, captions):
        captions = check_captions_in_graph(captions)
        tf.debugging.assert_equal(tf.shape(images)[0], tf.shape(captions)[0],
                                  message="as many captions as images are needed")
        conditioning = conditioner.encode(conditioner.tf_tokens(captions))
        pixels = tf.cast(images, tf.float32) / 127.5 - 1.0
        return {"images": to_uint8(trainer.manipulate(pixels, conditioning))}

    module.serve = serve
    model_name = model_name or default_model_name(manipulator)
    root = os.path.join(base, model_name)
    version = version or next_version(root)
    path = os.path.join(root, str(version))
    if os.path.exists(path):
        raise ConfigError(f"{path} exists; pass another --version")
    tf.saved_model.save(module, path, signatures={SIGNATURE: serve.get_concrete_function()})
    with open(os.path.join(root, f"{version}.manipulation.json"), "w") as f:
        json.dump({"model_dir": model_dir, "task": "manipulation", "family": manipulator.recipe.name,
                   "step": manipulator.step, "image_size": size, "signature": SIGNATURE,
                   "inputs": {"images": f"uint8 [B, {size}, {size}, 3]", "captions": "string [B]"},
                   "outputs": {"images": f"uint8 [B, {size}, {size}, 3]"}}, f, indent=2)
    return path


def export_manipulation_tflite(model_dir: str, base: str, model_name: str | None = None, batch_size: int = 1) -> str:
    """Writes the float32 TFLite manipulator; returns its path."""
    from t2izoo.manipulate import ImageManipulator

    manipulator = ImageManipulator.load(model_dir)
    trainer, conditioner = manipulator.trainer, manipulator.conditioner
    size = manipulator.image_size
    specs = conditioner.conditioning_specs(batch_size)
    module = _module(manipulator)

    @tf.function(input_signature=[tf.TensorSpec([batch_size, size, size, 3], tf.float32, name="images"), *specs])
    def run(images, *conditioning):
        return {"images": trainer.manipulate(images, {s.name: c for s, c in zip(specs, conditioning)})}

    import tempfile

    import keras

    # Through a SavedModel written by keras.export.ExportArchive: converting the concrete function
    # directly leaves Keras 3 variables as READ_VARIABLE ops the interpreter cannot run
    # (t2izoo/export/tflite.py does the same).
    archive = keras.export.ExportArchive()
    for trackable in module.models:
        archive.track(trackable)
    archive.add_endpoint("serving_default", run)
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        data = converter.convert()
    directory = os.path.join(base, model_name or default_model_name(manipulator), "tflite")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, TFLITE_FILE)
    with open(path, "wb") as f:
        f.write(data)
    with open(os.path.join(directory, "model_info.json"), "w") as f:
        json.dump({"task": "manipulation", "family": manipulator.recipe.name, "step": manipulator.step,
                   "inputs": ["images float32 [%d, %d, %d, 3] in [-1, 1]" % (batch_size, size, size)]
                   + [f"{s.name} {s.dtype.name} {list(s.shape)}" for s in specs],
                   "outputs": ["images float32 in [-1, 1]"], "text": conditioner.encoder_description(batch_size),
                   "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, f, indent=2)
    return path
