"""Export benchmark: TFLite variants (size, accuracy, latency) and serving (local server vs direct).

    python benchmarks/bench_export.py --model_dir=runs/gan_int_cls_shapes
    python benchmarks/bench_export.py --model_dir=runs/gan_int_cls_shapes --int8_only      # ~1 min
    python benchmarks/bench_export.py --model_dir=runs/gan_int_cls_shapes --int8_only --int8_diagnose
    python benchmarks/bench_export.py --model_dir=runs/gan_int_cls_shapes --int8_only --int8_keep_float=TANH

Prints, for each TFLite variant (none, dynamic, float16, int8; `--int8_only`: none and int8,
no serving): the generator's and text encoder's bytes, the generator's size relative to fp32,
max and mean |diff| of its [-1, 1] output against the Keras generator, and latency at batch 1
(LiteRT interpreter, median over runs). The |diff| figures are over a fixed held-out set:
`--samples` (256) captions drawn from the *test* split (seed 123) x standard-normal noise, the
max over every pixel of every one of them, with LiteRT's default XNNPACK delegate (what a
phone runs) and, as a second column, with the builtin reference kernels. int8 is calibrated on
`--calibration` training-caption batches (a different draw), from generator weights refined for
int8 with `--int8_refine_steps` (t2izoo/export/int8_refine.py; 0 for plain post-training
quantization). `--int8_keep_float=A,B` adds a row
`int8+float` for selective int8 (those ops left in float). `--int8_diagnose` prints where the
int8 error comes from: the QuantizationDebugger's per-layer activation error (on training
inputs) and, per conv/dense layer, the output change from rounding that layer's weights alone.

Then one-caption requests to the SavedModel: called directly (`generate_seeded` concrete
function) and through the local TF Serving stand-in (gRPC and REST clients, request batching
on), each at 1 and 16 concurrent clients: p50/p95 latency and throughput. Figures go to stdout
and to OUT/bench_export.json.

Timings are wall-clock on a shared machine: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

INT8_MAX_RATIO = 0.27
INT8_MAX_DIFF = 0.05
SELECTIVE = "int8+float"


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def time_calls(fn, count: int, warmup: int = 3) -> list:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def held_out_diffs(runner, inputs, keras_out) -> np.ndarray:
    from t2izoo.export import tflite

    return np.concatenate([np.abs(tflite.run_tflite(None, x, runner)["image"] - k).ravel()
                           for x, k in zip(inputs, keras_out)])


def bench_tflite(model_dir, out, loaded, samples: int, runs: int, calibration: int, modes, keep_float=(),
                 refine_steps: int = 0) -> dict:
    from t2izoo.export import tflite

    _, adapter = loaded
    t0 = time.time()
    exported = tflite.export_tflite(model_dir, out, modes, num_samples=calibration, loaded=loaded,
                                    int8_refine_steps=refine_steps)
    for report in exported["int8_refinement"].values():
        print(report)
    variants = {mode: (exported["files"][mode], exported["bytes"][mode]) for mode in modes}
    parts = {p.name: p for p in adapter.tflite_parts(1)}
    generator = parts["generator"]
    if keep_float:
        data, _ = tflite.convert_part(generator, "int8", calibration, keep_float=keep_float,
                                      refine_steps=refine_steps)
        path = os.path.join(exported["dir"], "generator_int8_keep_float.tflite")
        with open(path, "wb") as f:
            f.write(data)
        variants[SELECTIVE] = ({**exported["files"]["int8"], "generator": path},
                               {**exported["bytes"]["int8"], "generator": len(data)})
    print(f"converted {len(variants)} variants in {time.time() - t0:.0f} s -> {exported['dir']}")
    inputs = generator.representative(samples, np.random.default_rng(123), "test")
    keras_out = [generator.keras(x)["image"] for x in inputs]
    results = {}
    for mode, (files, sizes) in variants.items():
        runner = tflite.interpreter(files["generator"]).get_signature_runner()
        diffs = held_out_diffs(runner, inputs, keras_out)
        reference = held_out_diffs(tflite.interpreter(files["generator"], delegates=False).get_signature_runner(),
                                   inputs, keras_out)
        latency = time_calls(lambda: runner(**inputs[0]), runs)
        row = {"generator_bytes": sizes["generator"],
               "max_abs_diff": float(diffs.max()), "mean_abs_diff": float(diffs.mean()),
               "max_abs_diff_reference_kernels": float(reference.max()),
               "generator_latency_ms": 1e3 * statistics.median(latency)}
        for name, path in files.items():
            if name == "generator":
                continue
            row[f"{name}_bytes"] = sizes[name]
            part_inputs = parts[name].representative(1, np.random.default_rng(0), "test")[0]
            part_runner = tflite.interpreter(path).get_signature_runner()
            row[f"{name}_latency_ms"] = 1e3 * statistics.median(time_calls(lambda: part_runner(**part_inputs), runs))
        results[mode] = row
    fp32 = results["none"]["generator_bytes"]
    for row in results.values():
        row["size_vs_fp32"] = row["generator_bytes"] / fp32
    return results


def diagnose_int8(loaded, calibration: int, samples: int = 64):
    """Where the int8 generator's error comes from (printed): per-layer activation error from
    the QuantizationDebugger, and the output change from rounding each layer's weights alone.
    Both on training-caption inputs (never the held-out test inputs the figures use)."""
    import tensorflow as tf

    from t2izoo.export import int8_refine, tflite

    _, adapter = loaded
    generator = {p.name: p for p in adapter.tflite_parts(1)}["generator"]
    rng = np.random.default_rng(7)
    calibration_data = generator.representative(calibration, np.random.default_rng(0))
    debug_data = generator.representative(samples, rng)
    with tempfile.TemporaryDirectory() as tmp:
        tflite.write_part_saved_model(generator, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(calibration_data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # The debugger feeds inputs as lists in the model's input order.
        order = [d["name"] for d in tflite.interpreter(tflite.convert_saved_model(tmp, generator, "none"))
                 .get_input_details()]
        names = [next(n for n in generator.input_names if d.startswith(f"serving_default_{n}:")) for d in order]
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: iter([[x[n] for n in names] for x in debug_data]))
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    print(f"\nint8 activation error per layer (QuantizationDebugger, {samples} training inputs); "
          "rmse/scale ~0.29 is ideal rounding:")
    print(f"{'op':16s} {'scale':>8s} {'rmse/scale':>10s} {'max|err|':>9s}  output tensor (an --int8_keep_float name)")
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(row["scale"])
        rmse = float(np.sqrt(float(row["mean_squared_error"])))
        print(f"{row['op_name']:16s} {scale:8.5f} {rmse / scale:10.3f} {float(row['max_abs_error']):9.4f}  "
              f"{row['tensor_name']}")

    print("\noutput change from rounding one layer's weights to int8 (per channel, float activations):")
    base = [generator.keras(x)["image"] for x in debug_data]
    for variable, axis in int8_refine.quantizable_kernels(generator.trackables):
        kernel = variable.numpy()
        variable.assign(int8_refine.fake_quantize(kernel, axis))
        try:
            diffs = np.concatenate([np.abs(generator.keras(x)["image"] - b).ravel() for x, b in zip(debug_data, base)])
        finally:
            variable.assign(kernel)
        print(f"  {variable.path:60s} {kernel.size:8d} weights  max {diffs.max():.4f}  mean {diffs.mean():.5f}")


def run_concurrent(call, clients: int, per_client: int) -> dict:
    """`clients` threads each make `per_client` calls after one untimed warm-up call.

    Latency is per successful call; throughput is successful calls / (last end - first start);
    failed calls are counted (`errors`, with the first message) instead of stopping the run.
    """
    spans, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(index):
        local, failed = [], []
        try:
            call(index)  # warm-up (connections, first trace)
        except Exception as e:  # counted below
            failed.append(repr(e))
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass
        for _ in range(per_client):
            t0 = time.perf_counter()
            try:
                call(index)
            except Exception as e:  # counted below
                failed.append(repr(e))
                continue
            local.append((t0, time.perf_counter()))
        with lock:
            spans.extend(local)
            errors.extend(failed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not spans:
        raise RuntimeError(f"every call failed, e.g. {errors[0] if errors else '?'}")
    latencies = [end - start for start, end in spans]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return {"p50_ms": 1e3 * percentile(latencies, 50), "p95_ms": 1e3 * percentile(latencies, 95),
            "throughput_rps": len(latencies) / wall, "requests": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else ""}


def bench_serving(model_dir, out, loaded, per_client: int, concurrency) -> dict:
    import tensorflow as tf

    from serving import client as client_lib
    from serving import server as server_lib
    from t2izoo.export import saved_model as sm

    export = sm.export_saved_model(model_dir, out, loaded=loaded)
    print(f"SavedModel: {export.path} ({export.generator} generator)")
    function = tf.saved_model.load(export.path).signatures[sm.SEEDED_SIGNATURE]
    caption = "a large red circle in the center"
    results = {}

    def direct(index):
        function(captions=tf.constant([caption]), seed=tf.constant([index], tf.int32))["images"].numpy()

    server = server_lib.ModelServer(
        [server_lib.ModelConfig(export.model_name, os.path.dirname(export.path))], grpc_port=0, rest_port=0,
        batching=server_lib.BatchingParameters(max_batch_size=32, batch_timeout_micros=5_000, num_batch_threads=2))
    server.start()
    try:
        clients = {}
        for clients_count in concurrency:
            for name in ("direct", "grpc", "rest"):
                if name == "direct":
                    call = direct
                else:
                    port = server.grpc_port if name == "grpc" else server.rest_port
                    pool = [client_lib.make_client(name, f"127.0.0.1:{port}", export.model_name,
                                                   signature_name=sm.SEEDED_SIGNATURE) for _ in range(clients_count)]
                    clients[(name, clients_count)] = pool

                    def call(index, pool=pool):
                        pool[index].predict([caption], seed=index)
                before = server.batch_stats().get(f"{export.model_name}/{export.version}/{sm.SEEDED_SIGNATURE}", {})
                row = run_concurrent(call, clients_count, per_client)
                after = server.batch_stats().get(f"{export.model_name}/{export.version}/{sm.SEEDED_SIGNATURE}", {})
                if name != "direct" and after:
                    batches = after["batches"] - before.get("batches", 0)
                    row["mean_requests_per_batch"] = (after["requests"] - before.get("requests", 0)) / max(batches, 1)
                results[f"{name}@{clients_count}"] = row
                failures = f"  {row['errors']} failed: {row['first_error'][:120]}" if row["errors"] else ""
                print(f"  {name:6s} x{clients_count:<3d} p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms  "
                      f"{row['throughput_rps']:7.1f} req/s{failures}", flush=True)
        for pool in clients.values():
            for c in pool:
                if hasattr(c, "close"):
                    c.close()
    finally:
        server.stop()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", required=True, help="trained run directory")
    parser.add_argument("--out", default=None, help="export directory (a temporary one by default)")
    parser.add_argument("--samples", type=int, default=256, help="held-out test inputs for the |diff| figures")
    parser.add_argument("--runs", type=int, default=50, help="timed TFLite invocations per variant")
    parser.add_argument("--calibration", type=int, default=1000, help="int8 representative batches")
    parser.add_argument("--int8_refine_steps", type=int, default=600,
                        help="int8-aware weight refinement steps before the int8 conversion (0: plain PTQ)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per client")
    parser.add_argument("--concurrency", default="1,16", help="client counts, comma-separated")
    parser.add_argument("--int8_only", action="store_true", help="TFLite none + int8 only, no serving")
    parser.add_argument("--int8_keep_float", default="", help="selective int8: ops kept in float, comma-separated")
    parser.add_argument("--int8_diagnose", action="store_true", help="print where the int8 error comes from")
    parser.add_argument("--skip_tflite", action="store_true")
    parser.add_argument("--skip_serving", action="store_true")
    args = parser.parse_args(argv)

    from t2izoo.errors import T2IError
    from t2izoo.export import saved_model as sm
    from t2izoo.export import tflite

    out = args.out or tempfile.mkdtemp(prefix="bench-export-")
    keep_float = [k.strip() for k in args.int8_keep_float.split(",") if k.strip()]
    modes = ("none", "int8") if args.int8_only else tflite.QUANTIZE_MODES
    try:
        loaded = sm.load_run(args.model_dir)
    except T2IError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t2i, adapter = loaded
    report = {"model_dir": os.path.abspath(args.model_dir), "recipe": t2i.recipe.name,
              "image_size": adapter.image_size, "generator": "ema" if adapter.use_ema else "live"}
    print(f"{args.model_dir}: {t2i.recipe.name}, {adapter.image_size} px, {report['generator']} generator")

    if not args.skip_tflite:
        try:
            rows = bench_tflite(args.model_dir, out, loaded, args.samples, args.runs, args.calibration, modes,
                                keep_float, args.int8_refine_steps)
        except T2IError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        report["tflite"] = rows
        extra = sorted({k for row in rows.values() for k in row if k.endswith("_bytes") and k != "generator_bytes"})
        print(f"\nTFLite generator vs Keras ({args.samples} held-out test captions x noise; max|diff| with XNNPACK, "
              f"then reference kernels), latency at batch 1 (median of {args.runs}):")
        header = (f"{'variant':10s} {'bytes':>11s} {'x fp32':>7s} {'max|diff|':>10s} {'(ref)':>7s} "
                  f"{'mean|diff|':>11s} {'ms':>8s}")
        print(header + "".join(f" {k[:-6] + ' bytes':>20s} {k[:-6] + ' ms':>17s}" for k in extra))
        for mode, row in rows.items():
            line = (f"{mode:10s} {row['generator_bytes']:11,d} {row['size_vs_fp32']:7.3f} {row['max_abs_diff']:10.5f} "
                    f"{row['max_abs_diff_reference_kernels']:7.4f} {row['mean_abs_diff']:11.6f} "
                    f"{row['generator_latency_ms']:8.3f}")
            line += "".join(f" {row[k]:20,d} {row[k[:-6] + '_latency_ms']:17.3f}" for k in extra)
            print(line)
        report["int8_checks"] = {}
        for mode in ("int8", SELECTIVE):
            if mode not in rows:
                continue
            row = rows[mode]
            checks = {"size_ok": row["size_vs_fp32"] <= INT8_MAX_RATIO, "diff_ok": row["max_abs_diff"] <= INT8_MAX_DIFF}
            report["int8_checks"][mode] = checks
            kept = f" (kept in float: {', '.join(keep_float)})" if mode == SELECTIVE else " (full integer)"
            print(f"{mode}{kept}: {row['size_vs_fp32']:.3f}x fp32 (<= {INT8_MAX_RATIO}: "
                  f"{'yes' if checks['size_ok'] else 'NO'}), max |diff| {row['max_abs_diff']:.4f} "
                  f"(<= {INT8_MAX_DIFF}: {'yes' if checks['diff_ok'] else 'NO'}), mean {row['mean_abs_diff']:.4f}")

    if args.int8_diagnose:
        diagnose_int8(loaded, args.calibration)

    if not args.skip_serving and not args.int8_only:
        concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
        print(f"\nServing one caption per request ({args.requests} timed requests per client):")
        report["serving"] = bench_serving(args.model_dir, out, loaded, args.requests, concurrency)

    path = os.path.join(out, "bench_export.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nfigures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
