"""Steps/s of one process against two MultiWorkerMirroredStrategy workers on loopback.

    .venv/bin/python benchmarks/bench_multi_worker.py [--recipe=gan_int_cls] [--steps=40]

The recipe's `shapes` preset (its global batch) trains `--steps` steps three ways: one process
with its default strategy (XLA-compiled step, the default on one replica), one process without
XLA (what a multi-replica strategy runs), and two worker processes (TF_CONFIG on 127.0.0.1, one CPU replica
each) whose collectives all-reduce every gradient. Rates exclude the first two steps (tracing).
On one 2-core machine the two workers share the same cores, so this measures the overhead of the
collectives and of splitting the batch, not a speed-up: across machines each worker brings its
own cores. The text encoder is a short pretraining made first (`--encoder_dir` to reuse one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from t2izoo.testing import multi_worker as mw  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="gan_int_cls")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--encoder_dir", default="", help="a pretrained text encoder run (default: pretrain one)")
    parser.add_argument("--pretrain_minutes", type=float, default=1.0)
    args = parser.parse_args()
    from t2izoo import configs as config_lib
    from t2izoo import registry

    family = registry.get(args.recipe)
    root = tempfile.mkdtemp(prefix="bench-mw-")
    encoder_dir = args.encoder_dir
    if family.conditioner and not encoder_dir:
        from t2izoo.trainers import run_loop

        encoder_dir = os.path.join(root, family.conditioner)
        print(f"pretraining a {family.conditioner} for {args.pretrain_minutes:g} min in {encoder_dir}", flush=True)
        encoder = registry.get(family.conditioner)
        run_loop.train(encoder.make_recipe(), config_lib.apply_overrides(
            encoder.presets["shapes"], [f"max_minutes={args.pretrain_minutes}"]), encoder_dir, verbose=0)
    changes = {"max_steps": args.steps, "checkpoint_every": 0, "sample_every": 0, "eval_images": 0,
               "encoder_dir": encoder_dir}
    rates = {}
    for kind in ("single", "single_no_xla", "multi"):
        out = os.path.join(root, kind)
        os.makedirs(out)
        job = {"name": args.recipe, "family": args.recipe, "preset": "shapes", "model_dir": os.path.join(out, "run"),
               "changes": dict(changes, jit_compile=kind == "single")}
        jobs_path = mw.write_jobs(os.path.join(out, "jobs.json"), [job])
        t0 = time.time()
        if kind != "multi":
            procs = [mw.start_worker(jobs_path, out, None, 0, os.path.join(out, "single.log"), strategy="default")]
        else:
            ports, held = mw.reserve_ports(2)
            procs = [mw.start_worker(jobs_path, out, ports, i, os.path.join(out, f"worker{i}.log")) for i in range(2)]
        codes = [p.wait() for p in procs]
        if kind == "multi":
            for s in held:
                s.close()
        if any(codes):
            sys.exit(f"{kind} run failed (exit codes {codes}); logs in {out}")
        rates[kind] = mw.load_summary(out, args.recipe, 0 if kind == "multi" else "single")["steps_per_s"]
        print(f"{kind:>6}: {rates[kind]:.2f} steps/s ({time.time() - t0:.0f} s wall with start-up)", flush=True)
    preset = family.presets["shapes"]
    print(f"{args.recipe} shapes preset, global batch {preset.batch_size}, {args.steps} steps: 1 process "
          f"{rates['single']:.2f} steps/s (XLA), {rates['single_no_xla']:.2f} steps/s (no XLA); 2 workers on "
          f"loopback {rates['multi']:.2f} steps/s ({rates['multi'] / rates['single_no_xla']:.2f}x the no-XLA "
          f"process; one {os.cpu_count()}-core machine, load {os.getloadavg()[0]:.1f}: overhead, not speed-up)")


if __name__ == "__main__":
    main()
