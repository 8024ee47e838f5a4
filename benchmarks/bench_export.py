"""Export benchmark: TFLite variants (size, accuracy, latency) and serving (local server vs direct).

    python benchmarks/bench_export.py --model_dir=runs/gan_int_cls_shapes
    python benchmarks/bench_export.py --model_dir=/tmp/e2e/gan --requests=20   # a tiny run, quickly

Prints, for each TFLite variant (none, dynamic, float16, int8): the generator's and text
encoder's bytes, the generator's size relative to fp32, max and mean |diff| of its [-1, 1]
output against the Keras generator on training-caption embeddings + noise, and latency at
batch 1 (LiteRT interpreter, median over runs). Then one-caption requests to the SavedModel:
called directly (`generate_seeded` concrete function) and through the local TF Serving
stand-in (gRPC and REST clients, request batching on), each at 1 and 16 concurrent clients:
p50/p95 latency and throughput. Figures go to stdout and to OUT/bench_export.json.

Timings are wall-clock on a shared machine: compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
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


def bench_tflite(model_dir, out, loaded, samples: int, runs: int, calibration: int) -> dict:
    from t2izoo.export import tflite

    _, adapter = loaded
    t0 = time.time()
    exported = tflite.export_tflite(model_dir, out, tflite.QUANTIZE_MODES, num_samples=calibration, loaded=loaded)
    print(f"converted {len(tflite.QUANTIZE_MODES)} variants in {time.time() - t0:.0f} s -> {exported['dir']}")
    parts = {p.name: p for p in adapter.tflite_parts(1)}
    generator = parts["generator"]
    inputs = generator.representative(samples, np.random.default_rng(123))
    keras_out = [generator.function(**x)["image"].numpy() for x in inputs]
    results = {}
    for mode in tflite.QUANTIZE_MODES:
        files = exported["files"][mode]
        runner = tflite.interpreter(files["generator"]).get_signature_runner()
        diffs = np.concatenate([np.abs(tflite.run_tflite(None, x, runner)["image"] - k).ravel()
                                for x, k in zip(inputs, keras_out)])
        latency = time_calls(lambda: runner(**inputs[0]), runs)
        row = {"generator_bytes": exported["bytes"][mode]["generator"],
               "max_abs_diff": float(diffs.max()), "mean_abs_diff": float(diffs.mean()),
               "generator_latency_ms": 1e3 * statistics.median(latency)}
        for name, path in files.items():
            if name == "generator":
                continue
            row[f"{name}_bytes"] = exported["bytes"][mode][name]
            part = parts[name]
            part_inputs = (part.representative(1, np.random.default_rng(0))[0] if part.representative
                           else {s.name: np.zeros(s.shape, s.dtype.as_numpy_dtype)
                                 for s in part.function.input_signature})
            part_runner = tflite.interpreter(path).get_signature_runner()
            row[f"{name}_latency_ms"] = 1e3 * statistics.median(time_calls(lambda: part_runner(**part_inputs), runs))
        results[mode] = row
    fp32 = results["none"]["generator_bytes"]
    for row in results.values():
        row["size_vs_fp32"] = row["generator_bytes"] / fp32
    return results


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

    from t2izoo.export import client as client_lib
    from t2izoo.export import saved_model as sm
    from t2izoo.export import server as server_lib

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
    parser.add_argument("--samples", type=int, default=50, help="inputs for the |diff| figures")
    parser.add_argument("--runs", type=int, default=50, help="timed TFLite invocations per variant")
    parser.add_argument("--calibration", type=int, default=200, help="int8 representative batches")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per client")
    parser.add_argument("--concurrency", default="1,16", help="client counts, comma-separated")
    parser.add_argument("--skip_tflite", action="store_true")
    parser.add_argument("--skip_serving", action="store_true")
    args = parser.parse_args(argv)

    from t2izoo.errors import T2IError
    from t2izoo.export import saved_model as sm

    out = args.out or tempfile.mkdtemp(prefix="bench-export-")
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
        rows = bench_tflite(args.model_dir, out, loaded, args.samples, args.runs, args.calibration)
        report["tflite"] = rows
        extra = sorted({k for row in rows.values() for k in row if k.endswith("_bytes") and k != "generator_bytes"})
        print(f"\nTFLite generator vs Keras ({args.samples} inputs), latency at batch 1 (median of {args.runs}):")
        header = f"{'variant':8s} {'bytes':>11s} {'x fp32':>7s} {'max|diff|':>10s} {'mean|diff|':>11s} {'ms':>8s}"
        print(header + "".join(f" {k[:-6] + ' bytes':>20s} {k[:-6] + ' ms':>17s}" for k in extra))
        for mode, row in rows.items():
            line = (f"{mode:8s} {row['generator_bytes']:11,d} {row['size_vs_fp32']:7.3f} {row['max_abs_diff']:10.5f} "
                    f"{row['mean_abs_diff']:11.6f} {row['generator_latency_ms']:8.3f}")
            line += "".join(f" {row[k]:20,d} {row[k[:-6] + '_latency_ms']:17.3f}" for k in extra)
            print(line)
        int8 = rows["int8"]
        report["int8_checks"] = {"size_ok": int8["size_vs_fp32"] <= INT8_MAX_RATIO,
                                 "diff_ok": int8["max_abs_diff"] <= INT8_MAX_DIFF}
        print(f"int8: {int8['size_vs_fp32']:.3f}x fp32 (<= {INT8_MAX_RATIO}: "
              f"{'yes' if report['int8_checks']['size_ok'] else 'NO'}), max |diff| {int8['max_abs_diff']:.4f} "
              f"(<= {INT8_MAX_DIFF}: {'yes' if report['int8_checks']['diff_ok'] else 'NO'})")

    if not args.skip_serving:
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
