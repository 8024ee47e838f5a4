"""Does the EMA generator need its own batch-norm statistics? (GAN-INT-CLS `shapes` runs)

The EMA generator takes the trainable weights' moving average but the *live* generator's BN
running statistics (`GANTrainer.sync_ema`), so at inference it normalises with
statistics of weights it does not have. This script scores, with the shapes evaluator on the
same captions and noise, the EMA generator:

- `live_stats`: as sampled, evaluated and exported now;
- `precise_train4`: BN statistics re-estimated ("precise BN", `t2izoo/utils/batch_norm.py`) over
  `--batches` batches of training inputs as G sees them in training (mean of `num_embeddings`
  caption embeddings + N(0, 1) noise);
- `precise_train1`: the same over single training-caption embeddings (what a caption gives at
  generation time);

and the live generator for reference.

    python benchmarks/ema_batch_norm.py --model_dir=runs/gic48_faithful --num_samples=1000
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from t2izoo.data.datasets import load_dataset  # noqa: E402
from t2izoo.evaluate import generate_samples, sample_plan  # noqa: E402
from t2izoo.generate import Text2Image  # noqa: E402
from t2izoo.metrics import shapes_evaluator as se  # noqa: E402
from t2izoo.utils.batch_norm import recompute_batch_norm_statistics  # noqa: E402


def training_inputs(embeddings, count, num_batches, batch_size, z_dim, rng):
    """Batches (noise, text) with text the mean of `count` random non-padding caption embeddings."""
    valid = np.any(embeddings != 0, axis=2)  # [N, K]
    for _ in range(num_batches):
        rows = rng.integers(0, len(embeddings), batch_size)
        texts = []
        for r in rows:
            picks = rng.choice(np.flatnonzero(valid[r]), count, replace=False)
            texts.append(np.asarray(embeddings[r, picks]).mean(0))
        noise = rng.normal(size=(batch_size, z_dim)).astype("float32")
        yield tf.constant(noise), tf.constant(np.stack(texts).astype("float32"))


def score(t2i, captions, attributes, evaluator, seed):
    fake = generate_samples(t2i, captions, seed, verbose=False)
    predictions = se.predict(evaluator, fake, value_range=(0, 255))
    acc = se.attribute_accuracy_from_predictions(predictions, attributes)
    by_count = se.accuracy_by_object_count(predictions, attributes)
    out = {k: round(100 * v, 1) for k, v in acc.items()}
    out.update({f"color_{n}obj": round(100 * a["color"], 1) for n, a in by_count.items()})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--num_samples", type=int, default=1000)
    parser.add_argument("--split", default="test")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    evaluator = se.load_or_train_shapes_evaluator()
    t2i = Text2Image.load(args.model_dir, args.checkpoint, use_ema=True)
    config, trainer = t2i.config, t2i.trainer
    image_set = load_dataset(config, args.split)
    indices, captions = sample_plan(image_set, args.num_samples)
    attributes = np.asarray(image_set.attributes)[indices]
    embeddings = np.load(os.path.join(args.model_dir, "caption_embeddings_train.npy"), mmap_mode="r")

    results = {"step": t2i.recipe.step(trainer)}
    t2i.use_ema = False
    results["live"] = score(t2i, captions, attributes, evaluator, args.seed)
    t2i.use_ema = True
    results["ema_live_stats"] = score(t2i, captions, attributes, evaluator, args.seed)

    g = trainer.sync_ema()
    sync = trainer.sync_ema
    trainer.sync_ema = lambda: g  # keep the statistics set below
    try:
        for name, count in (("precise_train4", config.num_embeddings), ("precise_train1", 1)):
            sync()  # back to the live statistics before each re-estimate
            batches = training_inputs(embeddings, count, args.batches, config.batch_size, config.z_dim,
                                      np.random.default_rng(args.seed + 7))
            recompute_batch_norm_statistics(g, batches, lambda b: g(b, training=True))
            results[f"ema_{name}"] = score(t2i, captions, attributes, evaluator, args.seed)
    finally:
        trainer.sync_ema = sync
    for name, row in results.items():
        print(name, row)
    with open(os.path.join(args.model_dir, f"ema_batch_norm_{args.split}.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
