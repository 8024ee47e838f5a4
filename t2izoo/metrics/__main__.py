"""`python -m t2izoo.metrics [--cache_dir DIR] [--steps N]`: train or load the shapes evaluator
and report its per-attribute accuracy on real `test` renders (its ceiling on generated images).

A bad flag is one `error:` line on stderr (exit 2), as for every other command.
"""

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import json
import time

from absl import app, flags

from t2izoo.utils.cli import parse_flags, run_main

FLAGS = flags.FLAGS


def report(cache_dir=None, steps=None, num_train=None, split="test") -> dict:
    """The evaluator's accuracy on real renders of `split`, with its training and evaluation times."""
    from t2izoo.metrics.shapes_evaluator import evaluate_on_real, load_or_train_shapes_evaluator

    kwargs = {k: v for k, v in (("steps", steps), ("num_train", num_train)) if v is not None}
    evaluator = load_or_train_shapes_evaluator(cache_dir, verbose=2, **kwargs)
    start = time.time()
    accuracy = evaluate_on_real(evaluator, split=split)
    return {"split": split, "accuracy": accuracy, "train_seconds": evaluator.evaluator_info.get("train_seconds"),
            "eval_seconds": round(time.time() - start, 1)}


def main(argv):
    del argv
    run_main(lambda: print(json.dumps(report(FLAGS.cache_dir, FLAGS.steps, FLAGS.num_train, FLAGS.split),
                                      indent=2)))


if __name__ == "__main__":
    flags.DEFINE_string("cache_dir", None, "Evaluator cache (default cache_root()/shapes_evaluator).")
    flags.DEFINE_integer("steps", None, "Training steps if it must be trained.", lower_bound=1)
    flags.DEFINE_integer("num_train", None, "Training renders if it must be trained.", lower_bound=1)
    flags.DEFINE_enum("split", "test", ["train", "test", "novel"], "Split of real renders to evaluate on.")
    app.run(main, flags_parser=parse_flags)
