"""Export a trained run for TF Serving (SavedModel) or phones (TFLite).

    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=saved_model --out=/tmp/export
    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=tflite --quantize=int8 --out=/tmp/export

Every generator family exports through one path (t2izoo/export/adapters.py: the run's conditioner,
then its trainer's `generate`).
SavedModels go to `OUT/<model_name>/<version>/` (TF Serving's layout), TFLite files to
`OUT/<model_name>/tflite/`; `--int8_keep_float=TANH,...` leaves named generator ops out of
full-integer quantization (see t2izoo/export/tflite.py); `--int8_refine_steps` (default 600, 0 to
skip) refines the generator's weights for int8 before converting (t2izoo/export/int8_refine.py). Mistakes (missing or half-written checkpoint, unknown format or
quantize mode, an existing version) print one line starting with "error:" and exit 2.
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import os
import warnings

from absl import app, flags, logging

from t2izoo.errors import ConfigError
from t2izoo.utils.cli import parse_flags, run_main

FORMATS = ("saved_model", "tflite")
# Kept here (and checked against t2izoo.export.tflite) so bad flags fail before TF is imported.
QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")

FLAGS = flags.FLAGS


# Kept here (and checked against t2izoo.export.int8_refine) for the same reason.
DEFAULT_REFINE_STEPS = 600
DEFAULT_REPRESENTATIVE_SAMPLES = 1000


def check_flags(fmt: str, quantize: str, model_dir: str, keep_float=()):
    """Checks what can be checked without TensorFlow, so a typo fails in a fraction of a second."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format={fmt!r}; choose saved_model or tflite")
    if quantize not in QUANTIZE_MODES:
        raise ConfigError(f"unknown --quantize={quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}")
    if fmt == "saved_model" and quantize != "none":
        raise ConfigError(f"--quantize={quantize} applies to --format=tflite only (SavedModels stay float32)")
    if keep_float and quantize != "int8":
        raise ConfigError("--int8_keep_float applies to --quantize=int8 only")
    if not os.path.isdir(model_dir):
        raise ConfigError(f"--model_dir={model_dir} does not exist")


def export(model_dir, fmt, quantize, out, model_name=None, version=None, batch_size=1,
           num_samples=DEFAULT_REPRESENTATIVE_SAMPLES, keep_float=(), int8_refine_steps=0) -> list:
    """Runs one export and returns the lines to print."""
    keep_float = [k.strip() for k in keep_float if k.strip()]
    check_flags(fmt, quantize, model_dir, keep_float)
    from t2izoo import registry

    if registry.family_of_run(model_dir).is_manipulation:
        from t2izoo.export import manipulation

        if quantize != "none":
            raise ConfigError("manipulation runs export float32 only (--quantize=none)")
        if fmt == "saved_model":
            path = manipulation.export_manipulation_saved_model(model_dir, out, model_name, version)
            return [f"wrote SavedModel {path}: signature {manipulation.SIGNATURE}(images uint8, captions string) "
                    "-> images uint8"]
        return [f"wrote {manipulation.export_manipulation_tflite(model_dir, out, model_name, batch_size)} "
                "(images float32 + text conditioning -> images)"]
    if fmt == "saved_model":
        from t2izoo.export import saved_model

        result = saved_model.export_saved_model(model_dir, out, model_name, version)
        return [f"wrote SavedModel {result.path} ({result.image_size} px, {result.generator} generator, "
                f"{result.seconds:.1f} s): signatures "
                f"{saved_model.SERVING_SIGNATURE}(captions), {saved_model.SEEDED_SIGNATURE}(captions, seed), "
                f"{saved_model.TOKENS_SIGNATURE}, {saved_model.TOKENIZE_SIGNATURE}",
                f"serve it: python -m serving.server --model_base_path={os.path.dirname(result.path)} "
                f"--model_name={result.model_name}"]
    from t2izoo.export import tflite

    result = tflite.export_tflite(model_dir, out, quantize, model_name, batch_size, num_samples,
                                  keep_float=keep_float, int8_refine_steps=int8_refine_steps)
    lines = [str(report) for report in result["int8_refinement"].values()]
    lines += [f"wrote {path} ({result['bytes'][part]:,} bytes)" for part, path in result["files"].items()]
    return lines + [f"on-device pipeline and tokenization: {os.path.join(result['dir'], tflite.MODEL_INFO)} "
                    f"({result['seconds']:.1f} s)"]


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    return f"warning: {message}\n"


def main(argv):
    del argv
    warnings.formatwarning = _one_line_warning
    logging.set_verbosity(logging.WARNING)  # TF's SavedModel writer logs every step at INFO

    def _run():
        for line in export(FLAGS.model_dir, FLAGS.format, FLAGS.quantize, FLAGS.out, FLAGS.model_name,
                           FLAGS.version, FLAGS.batch_size, FLAGS.representative_samples,
                           FLAGS.int8_keep_float or (), FLAGS.int8_refine_steps):
            print(line)

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained generator.", required=True)
    flags.DEFINE_string("format", "saved_model", "saved_model (TF Serving) or tflite (phones).")
    flags.DEFINE_string("quantize", "none", "TFLite quantization: none, dynamic, float16 or int8.")
    flags.DEFINE_string("out", None, "Base directory; exports go to OUT/<model_name>/...", required=True)
    flags.DEFINE_string("model_name", None, "Served model name (default <dataset>_<recipe>).")
    flags.DEFINE_integer("version", None, "SavedModel version (default: one more than the highest present).",
                         lower_bound=1)
    flags.DEFINE_integer("batch_size", 1, "Fixed batch of the TFLite models.", lower_bound=1)
    flags.DEFINE_integer("representative_samples", DEFAULT_REPRESENTATIVE_SAMPLES,
                         "Calibration batches for --quantize=int8.", lower_bound=1)
    flags.DEFINE_integer("int8_refine_steps", DEFAULT_REFINE_STEPS,
                         "--quantize=int8: steps of int8-aware refinement of the generator's weights before "
                         "conversion (0: plain post-training quantization).", lower_bound=0)
    flags.DEFINE_list("int8_keep_float", [], "Selective int8: generator op types (e.g. TANH) or op output "
                      "tensor names (benchmarks/bench_export.py --int8_diagnose lists them) kept in float.")
    app.run(main, flags_parser=parse_flags)
