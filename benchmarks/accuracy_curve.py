"""Accuracy-versus-training-time curve of a shapes run from kept checkpoints.

    python benchmarks/accuracy_curve.py --model_dir=runs/gan_int_cls_shapes --num_samples=1000 [--split=test]

Train with `--override keep_every_minutes=5` so that the run keeps one checkpoint per 5 minutes
besides its last 3. `--checkpoints=DIR` reads another folder of `ckpt-N` files instead (default:
the run's checkpoints/); times come from DIR/times.txt lines "ckpt-N <unix mtime>" where it
exists, else from the files' modification times. Minutes are counted from the first checkpoint
minus one interval. Prints one row per checkpoint and writes <DIR>/curve_<split>_<ema|live>.json.
"""

import argparse
import glob
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from t2izoo.evaluate import evaluate_run  # noqa: E402


def _fmt(value):
    return f"{value:6.3f}" if value is not None else f"{'-':>6}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--checkpoints", default="", help="folder of ckpt-N files (default MODEL_DIR/checkpoints)")
    parser.add_argument("--num_samples", type=int, default=1000)
    parser.add_argument("--split", default="test")
    parser.add_argument("--every", type=int, default=1, help="evaluate every k-th checkpoint")
    parser.add_argument("--live", action="store_true", help="the live generator instead of the EMA one")
    args = parser.parse_args()
    args.checkpoints = args.checkpoints or os.path.join(args.model_dir, "checkpoints")
    times = {}
    listing = os.path.join(args.checkpoints, "times.txt")
    if os.path.exists(listing):
        with open(listing) as f:
            for line in f:
                name, mtime = line.split()
                times[name] = float(mtime)
    else:
        for index in glob.glob(os.path.join(args.checkpoints, "ckpt-*.index")):
            times[os.path.basename(index)[:-len(".index")]] = os.path.getmtime(index)
    if not times:
        raise SystemExit(f"no checkpoints in {args.checkpoints}")
    names = sorted(times, key=lambda n: int(n.split("-")[1]))
    steps = [int(n.split("-")[1]) for n in names]
    # time origin: extrapolate one checkpoint interval back from the first checkpoint
    if len(names) > 1:
        per_step = (times[names[1]] - times[names[0]]) / (steps[1] - steps[0])
        origin = times[names[0]] - per_step * steps[0]
    else:
        origin = times[names[0]]
    rows = []
    selected = names[:: args.every]
    if names[-1] not in selected:
        selected.append(names[-1])
    print(f"{'step':>6} {'min':>6} {'color':>6} {'shape':>6} {'size':>6} {'pos':>6} {'object':>6} {'R-prec':>7}"
          f" {'col1':>6} {'col2':>6}")  # colour over one-object / two-object scenes
    for name in selected:
        result = evaluate_run(args.model_dir, ["shapes_acc", "shapes_r_precision"], args.num_samples, args.split,
                          checkpoint_path=os.path.join(args.checkpoints, name), verbose=False,
                          use_ema=not args.live)
        row = {"step": result["step"], "minutes": round((times[name] - origin) / 60, 1),
               **{k: result[f"acc_{k}"] for k in ("color", "shape", "size", "position", "object")},
               "r_precision": result["shapes_r_precision"],
               "color_1obj": result.get("acc_color_1obj"), "color_2obj": result.get("acc_color_2obj")}
        rows.append(row)
        print(f"{row['step']:6d} {row['minutes']:6.1f} {row['color']:6.3f} {row['shape']:6.3f} {row['size']:6.3f} "
              f"{row['position']:6.3f} {row['object']:6.3f} {row['r_precision']:7.2f} "
              f"{_fmt(row['color_1obj'])} {_fmt(row['color_2obj'])}", flush=True)
    tag = "live" if args.live else "ema"
    with open(os.path.join(args.checkpoints, f"curve_{args.split}_{tag}.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
