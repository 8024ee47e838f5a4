"""TFLite (LiteRT) export: the models a phone needs to go from a caption to an image.

    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=tflite --quantize=int8 --out=/tmp/export

writes into `BASE/<model_name>/tflite/` (a non-numeric folder, which TF Serving ignores):

- `text_encoder_<quantize>.tflite`: the recipe's tokens -> its text conditioning
  (char-CNN-RNN recipes: `chars` int32 [1, 201] -> `embedding` float32 [1, D]; AttnGAN: `tokens`
  int32 [1, T] + `lengths` int32 [1] -> `words` float32 [1, T, D], `sentence` float32 [1, D]);
- `generator_<quantize>.tflite`: that conditioning (AttnGAN: `words`, `sentence`, `lengths`) +
  `noise` float32 [1, noise_dim] (standard normal; z then the conditioning-augmentation noise
  where the recipe has it, truncated at 2 std for StackGAN as in its training) -> `image` float32 [1, S, S, 3] in [-1, 1], the final scale, from
  the EMA generator (signature `serving_default`);
- `model_info.json`: shapes, quantization of each file, and the on-device tokenization (the
  caption -> char codes table, or the vocabulary), so an app needs nothing else.

Only TFLite builtin ops are allowed (no Select TF ops / Flex delegate): the batch size is fixed
(default 1), so shape arithmetic is static (Keras' UpSampling2D would otherwise need Flex ops).
Quantization modes:

| `--quantize` | weights | activations | converter settings |
|---|---|---|---|
| `none`    | float32 | float32 | - |
| `dynamic` | int8    | float32 (int8 on the fly) | `Optimize.DEFAULT` |
| `float16` | float16 | float32 | `Optimize.DEFAULT`, `supported_types=[float16]` |
| `int8`    | int8 (per channel) | int8 (float32 model inputs/outputs) | `Optimize.DEFAULT`, representative data, `TFLITE_BUILTINS_INT8` |

With `int8_refine_steps` > 0 the full-integer int8 generator is converted from weights refined
for int8 (`t2izoo/export/int8_refine.py`); the other files keep the original weights.
The int8 representative data are training captions' conditioning (the frozen text encoder over
randomly drawn training captions) with standard-normal noise, fed as dicts keyed by input name.
The text encoders' int8 files are dynamic-range (see `TFLitePart.int8_note`).

Selective int8 (`keep_float`, `--int8_keep_float`): op types (e.g. `TANH`) or op output tensor
names (as `benchmarks/bench_export.py --int8_diagnose` lists them) to leave out of full-integer
quantization, through `tf.lite.experimental.QuantizationDebugger`'s denylist. A denylisted
CONV_2D / FULLY_CONNECTED keeps float weights and activations; a denylisted TRANSPOSE_CONV op
type runs hybrid (int8 weights, float activations). Names the quantizer does not honour (it
ignores TRANSPOSE_CONV node names) are an error, never silently dropped.

Run a file with `run_tflite` (LiteRT's `ai_edge_litert.interpreter.Interpreter`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import time
import warnings
from typing import Optional

import numpy as np

from t2izoo.errors import ConfigError, T2IError
from t2izoo.utils.files import write_bytes_atomic

QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
TFLITE_SUBDIR = "tflite"
MODEL_INFO = "model_info.json"
# 1000 calibration inputs rather than 200: calibrated ranges that are too narrow clip rare
# held-out activations (on the first GAN-INT-CLS shapes checkpoint, one 8x8 activation
# clipped at 3.6 of 3.9 set the max |diff| of 0.09); 1000 gives 0.065 there and 0.35 instead
# of 0.44 on the 60-minute one (`benchmarks/bench_export.py --calibration`).
DEFAULT_REPRESENTATIVE_SAMPLES = 1000


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


def _first_line(err) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def convert_saved_model(saved_model_dir: str, part, mode: str, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES,
                        seed: int = 0, keep_float=()) -> bytes:
    """Converts a part's SavedModel to a .tflite flatbuffer with one quantization mode, builtins only.

    Args:
        saved_model_dir: the part written by `write_part_saved_model`.
        part: the `TFLitePart`.
        mode: one of `QUANTIZE_MODES`.
        num_samples: int8 calibration batches (training captions' conditioning + noise).
        seed: seed of the calibration draw.
        keep_float: int8 only: op types / op output tensor names left in float (see the module
            docstring); ignored for parts whose int8 is dynamic-range.

    Raises:
        ConfigError: unknown mode.
        ConversionError: the converter failed (its first line is in the message), or a
            `keep_float` name was not honoured.
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
    keep_float = list(keep_float) if effective == "int8" else []
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
            if not keep_float:
                return converter.convert()
            data = _selective_int8(converter, keep_float)
    except Exception as err:  # the converter raises ConverterError, ValueError, RuntimeError ...
        raise ConversionError(f"TFLite conversion of {part.name} ({mode}) failed: {_first_line(err)}") from None
    check_kept_float(data, keep_float, part.name)
    return data


def _selective_int8(converter, keep_float) -> bytes:
    """Full-integer quantization with `keep_float` (op types upper-case, else tensor names) left
    in float, through the QuantizationDebugger's denylist."""
    import tensorflow as tf

    ops = [k for k in keep_float if k.isupper() and "/" not in k]
    nodes = [k for k in keep_float if k not in ops]
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_ops=ops or None, denylisted_nodes=nodes or None, fully_quantize=False)
    # Only the non-debug model is asked for: the debug dataset is never read.
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=lambda: iter(()),
                                                         debug_options=options)
    return debugger.get_nondebug_quantized_model()


def check_kept_float(model, keep_float, name: str = "model"):
    """Raises ConversionError unless every op type / output tensor in `keep_float` has float outputs."""
    it = interpreter(model, delegates=False)
    tensors = {d["index"]: d for d in it.get_tensor_details()}
    ops = [(op["op_name"], tensors[op["outputs"][0]]) for op in it._get_ops_details() if op["outputs"].size]
    for key in keep_float:
        matched = [t for op, t in ops if op == key or t["name"] == key]
        if not matched:
            raise ConversionError(f"{name}: --int8_keep_float names {key!r}, which is no op type or op output "
                                  f"of the model (see benchmarks/bench_export.py --int8_diagnose)")
        if any(t["dtype"] != np.float32 for t in matched):
            raise ConversionError(f"{name}: the int8 quantizer did not keep {key!r} in float (it ignores "
                                  f"denylisted TRANSPOSE_CONV node names; use the op type)")


def convert_part(part, mode: str, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES, seed: int = 0,
                 keep_float=(), refine_steps: int = 0, saved_model_dir: Optional[str] = None):
    """Converts one `TFLitePart` with one quantization mode (see `convert_saved_model`).

    With `refine_steps` > 0, a full-integer int8 conversion is made from weights refined for
    int8 (`t2izoo.export.int8_refine`) and the original weights are restored afterwards; the
    other modes ignore it. `saved_model_dir`: the part already written by
    `write_part_saved_model` (reused unless the weights are refined).

    Returns:
        (flatbuffer bytes, the `RefineReport` or None).
    """
    from t2izoo.export import int8_refine

    check_quantize(mode)
    refine = refine_steps > 0 and effective_mode(part, mode) == "int8" and part.forward is not None
    with contextlib.ExitStack() as stack:
        report = None
        if refine:
            inputs = part.batched_inputs(int8_refine.DEFAULT_INPUTS, np.random.default_rng(seed + 1))
            report = stack.enter_context(int8_refine.int8_refined(part.trackables, part.forward, inputs,
                                                                  steps=refine_steps, seed=seed))
        if saved_model_dir is None or refine:
            saved_model_dir = write_part_saved_model(
                part, stack.enter_context(tempfile.TemporaryDirectory(prefix="t2izoo-tflite-")))
        return convert_saved_model(saved_model_dir, part, mode, num_samples, seed, keep_float), report


def interpreter(model, delegates: bool = True):
    """A LiteRT interpreter for a .tflite path or flatbuffer bytes, tensors allocated.

    `delegates=False` runs the builtin kernels without the default XNNPACK delegate (which
    otherwise replaces the ops it takes, hiding them from `_get_ops_details`).
    """
    from ai_edge_litert import interpreter as litert

    kwargs = {} if delegates else {
        "experimental_op_resolver_type": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    if isinstance(model, (bytes, bytearray)):
        it = litert.Interpreter(model_content=bytes(model), **kwargs)
    else:
        it = litert.Interpreter(model_path=str(model), **kwargs)
    it.allocate_tensors()
    return it


def run_tflite(model, inputs: dict, runner=None) -> dict:
    """Runs the `serving_default` signature of a .tflite file/bytes on numpy inputs by name."""
    runner = runner or interpreter(model).get_signature_runner("serving_default")
    return {k: np.asarray(v) for k, v in runner(**inputs).items()}


def op_names(model) -> set:
    """Names of the ops in a .tflite model (builtins are upper-case, e.g. TRANSPOSE_CONV)."""
    return {op["op_name"] for op in interpreter(model, delegates=False)._get_ops_details()}


def check_builtins_only(model, name: str = "model"):
    """Raises ConversionError if the model needs Select TF ops (Flex) or custom ops."""
    try:
        names = op_names(model)
    except (RuntimeError, ValueError) as err:  # the builtin resolver refuses a Flex or custom op
        raise ConversionError(f"{name} needs ops outside the TFLite builtins: {_first_line(err)}") from None
    bad = sorted(op for op in names if op.startswith("Flex") or op == "CUSTOM" or not op.isupper())
    if bad:
        raise ConversionError(f"{name} needs ops outside the TFLite builtins: {bad}")


def float_tensor_count(model) -> int:
    """How many float32 tensors other than the inputs and outputs (0 for a full-int8 model
    with float inputs/outputs besides the QUANTIZE/DEQUANTIZE boundaries)."""
    it = interpreter(model, delegates=False)
    ends = {d["index"] for d in it.get_input_details() + it.get_output_details()}
    return sum(1 for d in it.get_tensor_details() if d["dtype"] == np.float32 and d["index"] not in ends)




def export_tflite(model_dir: str, base: str, quantize="none", model_name: Optional[str] = None,
                  batch_size: int = 1, num_samples: int = DEFAULT_REPRESENTATIVE_SAMPLES, loaded=None,
                  keep_float=(), int8_refine_steps: int = 0) -> dict:
    """Converts every TFLite part of a trained run with one or several quantization modes.

    Args:
        model_dir: run directory.
        base: output base; files go to `base/<model_name>/tflite/`.
        quantize: none, dynamic, float16 or int8, or a list of them (each part is traced once).
        model_name: defaults to `<dataset>_<recipe>`.
        batch_size: the fixed batch of every part (1 for phones).
        num_samples: representative batches for int8 calibration.
        loaded: an already loaded (Text2Image, ExportAdapter) pair to reuse.
        keep_float: selective int8: op types / op output tensor names of the generator left in
            float (see the module docstring); the int8 file's model_info entry lists them.
        int8_refine_steps: full-integer int8 files are converted from generator weights refined
            for int8 with this many steps (`t2izoo.export.int8_refine`; 0: plain post-training
            quantization); the model_info entry gives the refinement's report.

    Returns:
        dict with `dir`, `model_name`, `seconds`, `files` / `bytes`: part -> path / size for
        one mode, or mode -> part -> path / size for a list, and `int8_refinement`: part ->
        `RefineReport` of the refined int8 conversions.

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
        "z_dim": adapter.z_dim, "noise_dim": adapter.noise_dim, "truncated_noise_dim": adapter.truncated_noise_dim,
        "batch_size": batch_size,
        "noise": f"float32 [{batch_size}, {adapter.noise_dim}], standard normal"
                 + ("" if adapter.noise_dim == adapter.z_dim else
                    f" (z: the first {adapter.z_dim}, then the conditioning-augmentation noise)")
                 + ("" if not adapter.truncated_noise_dim else
                    f"; the last {adapter.truncated_noise_dim} truncated at 2 std (|x| <= 2), as in training"),
        "image": "float32 [batch, S, S, 3] in [-1, 1]; pixel = clip(round((x + 1) * 127.5), 0, 255)",
        "pipeline": [p.name for p in parts], "text": adapter.on_device_text(),
    })
    files = {mode: {} for mode in modes}
    sizes = {mode: {} for mode in modes}
    described = info.setdefault("files", {})
    refinements = {}
    for part in parts:
        with tempfile.TemporaryDirectory(prefix="t2izoo-tflite-") as tmp:
            write_part_saved_model(part, tmp)
            for mode in modes:
                kept = list(keep_float) if part.name == "generator" and effective_mode(part, mode) == "int8" else []
                data, report = convert_part(part, mode, num_samples, keep_float=kept,
                                            refine_steps=int8_refine_steps, saved_model_dir=tmp)
                if report is not None:
                    refinements[part.name] = report
                path = tflite_path(out_dir, part.name, mode)
                check_builtins_only(data, os.path.basename(path))
                write_bytes_atomic(path, data)
                files[mode][part.name], sizes[mode][part.name] = path, len(data)
                effective = effective_mode(part, mode)
                it = interpreter(data)
                described[os.path.basename(path)] = {
                    "part": part.name, "quantize": mode, "effective_quantization": effective,
                    "note": part.int8_note if effective != mode else "", "bytes": len(data),
                    "kept_float": kept,
                    "int8_refinement": dataclasses.asdict(report) if report is not None else None,
                    "description": part.description,
                    "inputs": _signature_io(it, "inputs"), "outputs": _signature_io(it, "outputs"),
                }
    write_bytes_atomic(info_path, (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if isinstance(quantize, str):
        files, sizes = files[quantize], sizes[quantize]
    return {"dir": out_dir, "files": files, "bytes": sizes, "seconds": time.time() - start, "model_name": model_name,
            "int8_refinement": refinements}


def _signature_io(it, which: str) -> dict:
    runner = it.get_signature_runner("serving_default")
    details = runner.get_input_details() if which == "inputs" else runner.get_output_details()
    return {name: {"shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name} for name, d in details.items()}
