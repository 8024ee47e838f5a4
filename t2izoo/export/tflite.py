"""TFLite (LiteRT) export: the models a phone needs to go from a caption to an image.

    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=tflite --quantize=int8 --out=/tmp/export

writes into `BASE/<model_name>/tflite/` (a non-numeric folder, which TF Serving ignores):

- `generator_<quantize>.tflite`: sentence embedding float32 [1, D] + noise float32 [1, z_dim]
  -> image float32 [1, S, S, 3] in [-1, 1] (signature `serving_default`, inputs `embedding`,
  `noise`, output `image`);
- `text_encoder_<quantize>.tflite`: char codes int32 [1, 201] -> embedding float32 [1, D];
- `model_info.json`: shapes, quantization of each file, and the on-device tokenization (the
  caption -> char codes table), so an app needs nothing else.

Only TFLite builtin ops are allowed (no Select TF ops / Flex delegate): the batch size is fixed
(default 1), so shape arithmetic is static. Quantization modes:

| `--quantize` | weights | activations | converter settings |
|---|---|---|---|
| `none`    | float32 | float32 | - |
| `dynamic` | int8    | float32 (int8 on the fly) | `Optimize.DEFAULT` |
| `float16` | float16 | float32 | `Optimize.DEFAULT`, `supported_types=[float16]` |
| `int8`    | int8    | int8 (float32 model inputs/outputs) | `Optimize.DEFAULT`, representative data, `TFLITE_BUILTINS_INT8` |

The int8 representative data are the training captions' embeddings (the run's cache, or the
frozen text encoder over training captions) with standard-normal noise, fed as dicts keyed by
input name. The text encoder's int8 file is dynamic-range (see `TFLitePart.int8_note`).

Run a file with `run_tflite` (LiteRT's `ai_edge_litert.interpreter.Interpreter`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from typing import Optional

import numpy as np

from t2izoo.errors import ConfigError, T2IError

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
TFLITE_SUBDIR = "tflite"
MODEL_INFO = "model_info.json"
DEFAULT_REPRESENTATIVE_SAMPLES = 200


class ConversionError(T2IError):
    """The TFLite converter refused a model (e.g. an op with no builtin kernel)."""


def check_quantize(mode: str) -> str:
    if mode not in QUANTIZE_MODES:
        raise ConfigError(f"unknown quantize mode {mode!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    return mode


def tflite_path(directory: str, part: str, mode: str) -> str:
    return os.path.join(directory, f"{part}_{mode}.tflite")


def write_part_saved_model(part, directory: str) -> str:
    """Writes one `TFLitePart` as a SavedModel (signature serving_default) for the converter.

    The converter reads a SavedModel written with `keras.export.ExportArchive`: converting the
    concrete function directly leaves Keras 3 variables as READ_VARIABLE ops that the
    interpreter cannot run.
    """
    import keras

    archive = keras.export.ExportArchive()
    for trackable in part.trackables:
        archive.track(trackable)
    archive.add_endpoint("serving_default", part.function)
    archive.write_out(directory, verbose=False)
    return directory


def effective_mode(part, mode: str) -> str:
    """The quantization a part really gets for `mode` (int8 may mean dynamic-range for a part)."""
    return "dynamic" if mode == "int8" and part.int8 == "dynamic" else mode


def convert_saved_model(saved_model_dir: str, part, mode: str, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES,
                        seed: int = 0) -> bytes:
    """Converts a part's SavedModel to a .tflite flatbuffer with one quantization mode, builtins only.

    Raises:
        ConfigError: unknown mode.
        ConversionError: the converter failed (its first line is in the message).
    """
    import tensorflow as tf

    check_quantize(mode)
    effective = effective_mode(part, mode)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if effective != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if effective == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if effective == "int8":
        if part.representative is None:
            raise ConfigError(f"{part.name} has no representative data for int8 calibration")
        samples = part.representative(num_samples, np.random.default_rng(seed))
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with warnings.catch_warnings():
            # int8 calibration runs the converter's own (deprecated) tf.lite.Interpreter.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return converter.convert()
    except Exception as err:  # the converter raises ConverterError, ValueError, RuntimeError ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(f"TFLite conversion of {part.name} ({mode}) failed: {first}") from None


def convert_part(part, mode: str, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES, seed: int = 0) -> bytes:
    """Converts one `TFLitePart` with one quantization mode (see `convert_saved_model`)."""
    check_quantize(mode)
    with tempfile.TemporaryDirectory(prefix="t2izoo-tflite-") as tmp:
        return convert_saved_model(write_part_saved_model(part, tmp), part, mode, num_samples, seed)


def interpreter(model):
    """A LiteRT interpreter for a .tflite path or flatbuffer bytes, tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (bytes, bytearray)):
        it = Interpreter(model_content=bytes(model))
    else:
        it = Interpreter(model_path=str(model))
    it.allocate_tensors()
    return it


def run_tflite(model, inputs: dict, runner=None) -> dict:
    """Runs the `serving_default` signature of a .tflite file/bytes on numpy inputs by name."""
    runner = runner or interpreter(model).get_signature_runner("serving_default")
    return {k: np.asarray(v) for k, v in runner(**inputs).items()}


def op_names(model) -> set:
    """Names of the ops in a .tflite model (builtins are upper-case, e.g. TRANSPOSE_CONV)."""
    return {op["op_name"] for op in interpreter(model)._get_ops_details()}


def check_builtins_only(model, name: str = "model"):
    """Raises ConversionError if the model needs Select TF ops (Flex) or custom ops."""
    bad = sorted(op for op in op_names(model) if op.startswith("Flex") or op == "CUSTOM" or not op.isupper())
    if bad:
        raise ConversionError(f"{name} needs ops outside the TFLite builtins: {bad}")


def float_tensor_count(model) -> int:
    """How many float32 tensors other than the inputs and outputs (0 for a full-int8 model
    with float inputs/outputs besides the QUANTIZE/DEQUANTIZE boundaries)."""
    it = interpreter(model)
    ends = {d["index"] for d in it.get_input_details() + it.get_output_details()}
    return sum(1 for d in it.get_tensor_details() if d["dtype"] == np.float32 and d["index"] not in ends)


def _write_atomic(path: str, data: bytes):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def export_tflite(model_dir: str, base: str, quantize="none", model_name: Optional[str] = None,
                  batch_size: int = 1, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES, loaded=None) -> dict:
    """Converts every TFLite part of a trained run with one or several quantization modes.

    Args:
        model_dir: run directory.
        base: output base; files go to `base/<model_name>/tflite/`.
        quantize: none, dynamic, float16 or int8, or a list of them (each part is traced once).
        model_name: defaults to `<dataset>_<recipe>`.
        batch_size: the fixed batch of every part (1 for phones).
        num_samples: representative batches for int8 calibration.
        loaded: an already loaded (Text2Image, ExportAdapter) pair to reuse.

    Returns:
        dict with `dir`, `model_name`, `seconds`, and `files` / `bytes`: part -> path / size for
        one mode, or mode -> part -> path / size for a list.

    Raises:
        ConfigError, CheckpointError, ConversionError.
    """
    from t2izoo.export import saved_model as sm

    start = time.time()
    modes = [quantize] if isinstance(quantize, str) else list(quantize)
    for mode in modes:
        check_quantize(mode)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    t2i, adapter = loaded or sm.load_run(model_dir)
    model_name = sm.check_model_name(model_name or sm.default_model_name(t2i))
    out_dir = os.path.join(base, model_name, TFLITE_SUBDIR)
    os.makedirs(out_dir, exist_ok=True)
    info_path = os.path.join(out_dir, MODEL_INFO)
    info = {}
    if os.path.exists(info_path):
        try:
            with open(info_path, encoding="utf-8") as f:
                info = json.load(f)
        except ValueError:
            info = {}
    if info.get("batch_size", batch_size) != batch_size or info.get("recipe", t2i.recipe.name) != t2i.recipe.name:
        info = {}  # files of another batch size or run: start the description afresh
    parts = adapter.tflite_parts(batch_size)
    info.update({
        "model_name": model_name, "recipe": t2i.recipe.name, "generator": "ema" if adapter.use_ema else "live",
        "image_size": adapter.image_size,
        "z_dim": adapter.z_dim, "batch_size": batch_size,
        "noise": f"float32 [{batch_size}, {adapter.z_dim}], standard normal",
        "image": "float32 [batch, S, S, 3] in [-1, 1]; pixel = clip(round((x + 1) * 127.5), 0, 255)",
        "pipeline": [p.name for p in parts], "text": adapter.on_device_text(),
    })
    files = {mode: {} for mode in modes}
    sizes = {mode: {} for mode in modes}
    described = info.setdefault("files", {})
    for part in parts:
        with tempfile.TemporaryDirectory(prefix="t2izoo-tflite-") as tmp:
            write_part_saved_model(part, tmp)
            for mode in modes:
                data = convert_saved_model(tmp, part, mode, num_samples)
                path = tflite_path(out_dir, part.name, mode)
                check_builtins_only(data, os.path.basename(path))
                _write_atomic(path, data)
                files[mode][part.name], sizes[mode][part.name] = path, len(data)
                effective = effective_mode(part, mode)
                it = interpreter(data)
                described[os.path.basename(path)] = {
                    "part": part.name, "quantize": mode, "effective_quantization": effective,
                    "note": part.int8_note if effective != mode else "", "bytes": len(data),
                    "description": part.description,
                    "inputs": _signature_io(it, "inputs"), "outputs": _signature_io(it, "outputs"),
                }
    _write_atomic(info_path, (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if isinstance(quantize, str):
        files, sizes = files[quantize], sizes[quantize]
    return {"dir": out_dir, "files": files, "bytes": sizes, "seconds": time.time() - start, "model_name": model_name}


def _signature_io(it, which: str) -> dict:
    runner = it.get_signature_runner("serving_default")
    details = runner.get_input_details() if which == "inputs" else runner.get_output_details()
    return {name: {"shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name} for name, d in details.items()}
