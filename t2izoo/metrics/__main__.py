"""`python -m t2izoo.metrics [--cache_dir DIR] [--steps N]`: train or load the shapes evaluator
and report its per-attribute accuracy on real `test` renders (its ceiling on generated images).
"""

import argparse
import json
import sys
import time

from t2izoo.errors import T2IError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t2izoo.metrics", description=__doc__)
    parser.add_argument("--cache_dir", default=None, help="evaluator cache (default cache_root()/shapes_evaluator)")
    parser.add_argument("--steps", type=int, default=None, help="training steps if it must be trained")
    parser.add_argument("--num_train", type=int, default=None, help="training renders if it must be trained")
    parser.add_argument("--split", default="test", choices=("train", "test", "novel"))
    args = parser.parse_args(argv)
    try:
        from t2izoo.metrics.shapes_evaluator import evaluate_on_real, load_or_train_shapes_evaluator

        kwargs = {k: v for k, v in (("steps", args.steps), ("num_train", args.num_train)) if v is not None}
        evaluator = load_or_train_shapes_evaluator(args.cache_dir, verbose=2, **kwargs)
        start = time.time()
        accuracy = evaluate_on_real(evaluator, split=args.split)
        report = {"split": args.split, "accuracy": accuracy,
                  "train_seconds": evaluator.evaluator_info.get("train_seconds"),
                  "eval_seconds": round(time.time() - start, 1)}
        print(json.dumps(report, indent=2))
    except T2IError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
