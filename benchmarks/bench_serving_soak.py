"""Serving soak: the TF Serving stand-in under 16 concurrent loopback clients, a fifth of them bad.

    python benchmarks/bench_serving_soak.py --seconds=90

Trains and exports the tiny GAN-INT-CLS run (or serves `--base_path`, a model's TF Serving base
folder whose version 1 has `generate_seeded`), starts `serving.server.ModelServer` in this process
(gRPC and REST on 127.0.0.1, ports picked by the kernel, batching up to `--max_batch_size`), then
runs `serving.soak.soak`: each client sends good requests (1-2 captions with seeds, over gRPC or
REST; each image checked against a direct SavedModel call for its caption and seed) and, with
probability `--bad_fraction`, one of `serving.soak.BAD_KINDS` (empty, non-UTF-8 and 10,001-character
captions, wrong dtype, missing input, batch over the limit, unknown model / version / signature,
malformed JSON, a truncated gRPC message, a client that hangs up mid-request).

Prints: requests sent, good / bad, correct answers, bad requests by kind and status, connection
errors (listen-backlog resets, refusals), p50/p95/p99 latency of good requests, throughput, and the
RSS of this process (server and clients) at the start and end of the soak. Exits 1 when an answer
is wrong or a connection failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from t2izoo.utils import tf_logging  # noqa: E402

tf_logging.quiet()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--bad_fraction", type=float, default=0.2)
    parser.add_argument("--max_batch_size", type=int, default=8)
    parser.add_argument("--base_path", default=None, help="Serve this model base path instead of a tiny export.")
    args = parser.parse_args(argv)

    from serving import soak as soak_lib
    from serving.batching import BatchingParameters
    from serving.model_config import ModelConfig
    from serving.server import ModelServer

    root = tempfile.mkdtemp(prefix="soak-")
    base = args.base_path or soak_lib.tiny_export(root)
    expected = soak_lib.expected_images(os.path.join(base, "1"))
    server = ModelServer([ModelConfig("soak", base)], grpc_port=0, rest_port=0, batching=BatchingParameters(
        max_batch_size=args.max_batch_size, batch_timeout_micros=2000, num_batch_threads=2))
    server.start()
    try:
        rss_start = soak_lib.rss_bytes()
        tally = soak_lib.soak(f"127.0.0.1:{server.grpc_port}", f"127.0.0.1:{server.rest_port}", "soak", expected,
                              args.seconds, clients=args.clients, bad_fraction=args.bad_fraction,
                              max_batch_size=args.max_batch_size)
        rss_end = soak_lib.rss_bytes()
        batches = server.batch_stats()
    finally:
        server.stop()
    print(f"serving soak: {args.clients} clients, {args.seconds:.0f} s, bad fraction {args.bad_fraction}, "
          f"max batch {args.max_batch_size}, model {base}")
    for line in soak_lib.report(tally, rss_start, rss_end):
        print("  " + line)
    print(f"  batches: {batches}")
    failed = (tally["wrong_image"] or tally["good_failed"] or tally["bad_wrong_status"]
              or sum(tally["connection_errors"].values()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
