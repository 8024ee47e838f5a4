"""Evaluate a trained run under one documented protocol.

    python -m t2izoo.evaluate --model_dir=runs/gan_int_cls_shapes \
        --metrics=shapes_acc,shapes_fid,shapes_r_precision --num_samples=2000 --split=test

Protocol (recorded with every result in <model_dir>/eval.jsonl):
  * sample k uses image k mod N of the split and its caption number (k div N) mod C, so
    num_samples > N cycles through the other captions (DM-GAN/DF-GAN draw 30k this way);
  * one noise vector per sample from `--seed`; the EMA generator (`--noema`: the live one,
    recorded as `generator`); its highest resolution;
  * `shapes_acc`: the shapes evaluator judges each object the caption names at its grid cell
    (color, shape, size, position) -- accuracy of the evaluator itself on real test renders
    is reported beside it (`evaluator_real_*`), and each accuracy again over the scenes of
    one and of two objects (`acc_color_1obj`, `acc_color_2obj`, ...: attribute binding);
  * `shapes_fid`: Frechet distance between the evaluator's penultimate features of the samples
    and of the split's real renders;
  * `shapes_r_precision`: for each sample, the true caption's attributes against those of 99
    captions of other classes, scored by the evaluator's log-likelihood; top-1 rate over 10
    splits (mean +- std), the DM-GAN R-precision protocol with the evaluator as retriever;
  * `fid`, `kid`, `is`: Inception-v3 (local weights file, `--inception_weights` or
    $T2IZOO_INCEPTION_WEIGHTS), 299 px bilinear, pool features / logits, IS over 10 splits;
    real statistics cached by dataset, split, extractor, weights hash and resolution.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
from absl import app, flags

from t2izoo.data.shapes import ATTR_COLOR, ATTR_POSITION, ATTR_PRESENT, ATTR_SHAPE, ATTR_SIZE
from t2izoo.errors import ConfigError, DataError
from t2izoo.trainers import run_loop
from t2izoo.utils.cli import run_main

METRICS = ("shapes_acc", "shapes_fid", "shapes_r_precision", "fid", "kid", "is")
SHAPES_ONLY = ("shapes_acc", "shapes_fid", "shapes_r_precision")


def sample_plan(image_set, num_samples: int):
    """(image index, caption) of every sample, cycling over images then captions."""
    n = len(image_set)
    images = np.arange(num_samples) % n
    captions = []
    for k, i in enumerate(images):
        caps = image_set.captions[i]
        captions.append(caps[(k // n) % len(caps)])
    return images, captions


def generate_samples(t2i, captions, seed: int, batch_size: int = 64, verbose: bool = True) -> np.ndarray:
    """uint8 images for `captions` (one each), with a progress bar."""
    out = []
    bar = keras.utils.Progbar(len(captions), unit_name="image") if verbose else None
    for start in range(0, len(captions), batch_size):
        chunk = captions[start:start + batch_size]
        out.append(t2i(chunk, 1, seed=seed * 100003 + start))
        if bar:
            bar.add(len(chunk))
    return np.concatenate(out)


def shapes_log_likelihood(predictions: dict, attributes: np.ndarray) -> np.ndarray:
    """Log-likelihood of each candidate scene description under the evaluator's predictions.

    Args:
        predictions: evaluator logits for N images.
        attributes: int [N, M, objects, 5]: M candidate captions' attributes per image.

    Returns: [N, M]: sum over the 9 cells of log p(empty) for cells the candidate leaves empty,
        and log p(occupied) + log p(color) + log p(shape) + log p(size) at each object's cell;
        so a candidate that omits a drawn object is penalised as much as one that adds one.
    """
    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    logits = predictions["occupancy"]
    log_occ, log_empty = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)  # log sigmoid(+-l)
    heads = {c: log_softmax(predictions[name]) for c, name in
             ((ATTR_COLOR, "color"), (ATTR_SHAPE, "shape"), (ATTR_SIZE, "size"))}
    n_idx = np.arange(attributes.shape[0])[:, None]
    score = np.repeat(log_empty.sum(1, keepdims=True), attributes.shape[1], axis=1)
    for o in range(attributes.shape[2]):
        obj = attributes[:, :, o]
        cell = obj[..., ATTR_POSITION]
        s = log_occ[n_idx, cell] - log_empty[n_idx, cell]
        for column, logp in heads.items():
            s = s + logp[n_idx, cell, obj[..., column]]
        score += np.where(obj[..., ATTR_PRESENT] > 0, s, 0.0)
    return score


def shapes_r_precision(predictions, image_indices, image_set, seed: int, num_splits: int = 10):
    from t2izoo.metrics.r_precision import sample_mismatched_indices
    from t2izoo.metrics.validation import check_splits

    check_splits(len(image_indices), num_splits, "samples")
    class_ids = np.asarray(image_set.class_ids)[image_indices]
    wrong = sample_mismatched_indices(class_ids, rng=seed)  # rows of the sample list
    attrs = np.asarray(image_set.attributes)[image_indices]
    candidates = np.concatenate([attrs[:, None], attrs[wrong]], axis=1)  # true first
    scores = shapes_log_likelihood(predictions, candidates)
    true, others = scores[:, 0], scores[:, 1:]
    ties = (others == true[:, None]).sum(1)
    hit = np.where((others > true[:, None]).any(1), 0.0, 1.0 / (1 + ties))
    per_split = [100.0 * s.mean() for s in np.array_split(hit, num_splits)]
    return float(np.mean(per_split)), float(np.std(per_split))


def evaluate(model_dir: str, metrics, num_samples: int, split: str, seed: int = 0,
             inception_weights: str | None = None, verbose: bool = True, shapes_evaluator=None,
             checkpoint_path: str | None = None, use_ema: bool = True) -> dict:
    """Runs `metrics` on `num_samples` generated images; appends the result to eval.jsonl."""
    from t2izoo.generate import Text2Image

    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
    if num_samples < 10:
        raise ConfigError(f"--num_samples={num_samples}: at least 10 (metrics use 10 splits)")
    t2i = Text2Image.load(model_dir, checkpoint_path, use_ema)
    config = t2i.config
    if config.dataset != "shapes" and any(m in SHAPES_ONLY for m in metrics):
        raise ConfigError(f"{', '.join(SHAPES_ONLY)} need a shapes run; {model_dir} was trained on {config.dataset}")
    image_set = run_loop.load_dataset(config, split)
    indices, captions = sample_plan(image_set, num_samples)
    t0 = time.time()
    fake = generate_samples(t2i, captions, seed, verbose=verbose)
    result = {"model_dir": model_dir, "step": t2i.recipe.step(t2i.trainer), "split": split,
              "generator": "ema" if use_ema else "live", "checkpoint": checkpoint_path or "latest",
              "num_samples": num_samples, "seed": seed, "resolution": int(fake.shape[1]),
              "generation_s": round(time.time() - t0, 1), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    real_size = fake.shape[1]

    if any(m in SHAPES_ONLY for m in metrics):
        from t2izoo.metrics import shapes_evaluator as se
        from t2izoo.metrics.fid import fid_from_features

        evaluator = shapes_evaluator or se.load_or_train_shapes_evaluator(verbose=int(verbose))
        result["extractor"] = f"shapes_evaluator_v{se.EVALUATOR_VERSION}"
        real_acc = se.evaluate_on_real(evaluator, "test")
        result.update({f"evaluator_real_{k}": round(v, 4) for k, v in real_acc.items()})
        predictions = se.predict(evaluator, fake, value_range=(0, 255))
        attributes = np.asarray(image_set.attributes)[indices]
        if "shapes_acc" in metrics:
            acc = se.attribute_accuracy_from_predictions(predictions, attributes)
            result.update({f"acc_{k}": round(v, 4) for k, v in acc.items()})
            for n, acc_n in se.accuracy_by_object_count(predictions, attributes).items():
                result.update({f"acc_{k}_{n}obj": round(v, 4) for k, v in acc_n.items()})
        if "shapes_fid" in metrics:
            real = image_set.load_images(np.unique(indices), (real_size,))[real_size]
            real_feats = se.penultimate_features(evaluator, real, value_range=(0, 255))
            result["shapes_fid"] = round(fid_from_features(real_feats, predictions["penultimate"]), 3)
        if "shapes_r_precision" in metrics:
            mean, std = shapes_r_precision(predictions, indices, image_set, seed)
            result["shapes_r_precision"], result["shapes_r_precision_std"] = round(mean, 2), round(std, 2)

    if any(m in ("fid", "kid", "is") for m in metrics):
        from t2izoo.metrics.features import InceptionFeatureExtractor, cached_stats, stats_key
        from t2izoo.metrics.fid import FeatureStatistics, fid_from_stats, kernel_inception_distance
        from t2izoo.metrics.inception_score import inception_score

        extractor = InceptionFeatureExtractor(inception_weights)
        result.update(extractor=extractor.name, weights_sha1=extractor.weights_hash)
        pool, logits = extractor(fake, value_range=(0, 255))
        if "is" in metrics:
            result["is"], result["is_std"] = (round(x, 3) for x in inception_score(logits))
        if "fid" in metrics or "kid" in metrics:
            real_indices = np.arange(len(image_set))

            def real_features():
                real = image_set.load_images(real_indices, (real_size,))[real_size]
                return FeatureStatistics.from_features(extractor(real, value_range=(0, 255))[0],
                                                       keep_features=True)

            key = stats_key(config.dataset, split, extractor.name, extractor.weights_hash, real_size)
            stats = cached_stats(key, real_features)
            if "fid" in metrics:
                result["fid"] = round(fid_from_stats(stats, FeatureStatistics.from_features(pool)), 3)
            if "kid" in metrics:
                if stats.features is None:
                    raise DataError("cached real statistics hold no features for KID; delete the cache entry")
                mean, std = kernel_inception_distance(stats.features, pool)
                result["kid"], result["kid_std"] = round(mean, 5), round(std, 5)

    with open(os.path.join(model_dir, "eval.jsonl"), "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


FLAGS = flags.FLAGS


def main(argv):
    del argv

    def _run():
        metrics = [m.strip() for m in FLAGS.metrics.split(",") if m.strip()]
        result = evaluate(FLAGS.model_dir, metrics, FLAGS.num_samples, FLAGS.split, FLAGS.seed,
                          FLAGS.inception_weights, checkpoint_path=FLAGS.checkpoint, use_ema=FLAGS.ema)
        print(json.dumps(result, indent=2))

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained generator.", required=True)
    flags.DEFINE_string("metrics", "shapes_acc,shapes_fid,shapes_r_precision", f"Comma list of {METRICS}.")
    flags.DEFINE_integer("num_samples", 2000, "Generated samples.", lower_bound=1)
    flags.DEFINE_string("split", "test", "Split whose captions are used (shapes: test or novel).")
    flags.DEFINE_integer("seed", 0, "Noise and mismatched-caption seed.")
    flags.DEFINE_string("inception_weights", None, "Keras Inception-v3 weights file (fid, kid, is).")
    flags.DEFINE_string("checkpoint", None, "A specific checkpoint prefix (default: the run's latest).")
    flags.DEFINE_bool("ema", True, "Evaluate the EMA generator (--noema: the live one).")
    app.run(main)
