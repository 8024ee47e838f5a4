"""Evaluate a trained run under one documented protocol.

Manipulation runs (`Family.task == "manipulation"`) are scored by `evaluate_manipulation`
(`manip_shapes`, `manip_recon`, `manip_mp`; `t2izoo.metrics.manipulation`):
    python -m t2izoo.evaluate --model_dir=runs/sisgan_shapes --metrics=manip_shapes,manip_recon \
        --num_samples=6000 --split=test

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
  * `shapes_consistency`: every sample again from the next caption of the same scene (another
    wording) with the same noise; how often the evaluator reads the same colour, shape, size and
    position from both images (`consistency_*`, t2izoo/metrics/consistency.py);
  * `fid`, `kid`, `is`: Inception-v3 (local weights file, `--inception_weights` or
    $T2IZOO_INCEPTION_WEIGHTS), 299 px bilinear, pool features / logits, IS over 10 splits;
    real statistics cached by dataset, split, extractor, weights hash and resolution.
    `--fid_extractor=pytorch_fid` uses pytorch-fid's Inception instead (its weights file,
    `--inception_weights` or $T2IZOO_FID_INCEPTION_WEIGHTS; 1008-way logits for `is`), the
    network of the FIDs in DM-GAN / DF-GAN tables; every result names its `extractor`.
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import dataclasses
import json
import os
import sys
import time

import keras
import numpy as np
from absl import app, flags

from t2izoo.data.datasets import load_dataset
from t2izoo.data.shapes import ATTR_COLOR, ATTR_POSITION, ATTR_PRESENT, ATTR_SHAPE, ATTR_SIZE
from t2izoo.errors import ConfigError, DataError
from t2izoo.utils.cli import parse_flags, run_main

# Metrics by name: each takes an `EvalContext` and returns its result fields; `shapes_only`
# metrics need the attributes of the built-in dataset. Add one with `@register_metric`.
_METRICS: dict = {}


def register_metric(name: str, shapes_only: bool = False):
    def register(fn):
        _METRICS[name] = (fn, shapes_only)
        return fn

    return register


def metric_names() -> tuple:
    return tuple(_METRICS)


@dataclasses.dataclass
class EvalContext:
    """What a metric sees: the generated uint8 images, the sample plan and lazily built tools."""

    fake: np.ndarray
    indices: np.ndarray
    image_set: object
    dataset: str
    split: str
    seed: int
    inception_weights: str | None
    shapes_evaluator: object = None
    fid_extractor: str = "keras"
    t2i: object = None  # the loaded run (`Text2Image`), for metrics that generate more images
    verbose_generation: bool = False
    cache: dict = dataclasses.field(default_factory=dict)

    def cached(self, key, build):
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def shapes_predictions(self, verbose):
        """(evaluator, predictions on the fakes, protocol fields), computed once for all shapes metrics."""
        from t2izoo.metrics import shapes_evaluator as se

        def build():
            evaluator = self.shapes_evaluator or se.load_or_train_shapes_evaluator(verbose=int(verbose))
            fields = {"extractor": f"shapes_evaluator_v{se.EVALUATOR_VERSION}"}
            fields.update({f"evaluator_real_{k}": round(v, 4) for k, v in se.evaluate_on_real(evaluator, "test").items()})
            return evaluator, se.predict(evaluator, self.fake, value_range=(0, 255)), fields

        return self.cached("shapes", build)

    def inception(self):
        """(extractor, pool features, logits) of the fakes, computed once for fid, kid and is."""
        from t2izoo.metrics.features import make_feature_extractor

        def build():
            extractor = make_feature_extractor(self.fid_extractor, self.inception_weights)
            return (extractor, *extractor(self.fake, value_range=(0, 255)))

        return self.cached("inception", build)

    def real_inception_stats(self):
        from t2izoo.metrics.features import cached_stats, stats_key
        from t2izoo.metrics.fid import FeatureStatistics

        extractor = self.inception()[0]
        size = int(self.fake.shape[1])

        def real_features():
            real = self.image_set.load_images(np.arange(len(self.image_set)), (size,))[size]
            return FeatureStatistics.from_features(extractor(real, value_range=(0, 255))[0], keep_features=True)

        key = stats_key(self.dataset, self.split, extractor.name, extractor.weights_hash, size)
        return self.cached("real_inception", lambda: cached_stats(key, real_features))


def check_fid_extractor(kind: str):
    from t2izoo.metrics.features import FEATURE_EXTRACTORS

    if kind not in FEATURE_EXTRACTORS:
        raise ConfigError(f"--fid_extractor={kind}: choose one of {', '.join(FEATURE_EXTRACTORS)}")


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


@register_metric("shapes_acc", shapes_only=True)
def _shapes_acc(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics import shapes_evaluator as se

    _, predictions, fields = ctx.shapes_predictions(verbose)
    attributes = np.asarray(ctx.image_set.attributes)[ctx.indices]
    result = dict(fields)
    result.update({f"acc_{k}": round(v, 4)
                   for k, v in se.attribute_accuracy_from_predictions(predictions, attributes).items()})
    for n, acc_n in se.accuracy_by_object_count(predictions, attributes).items():
        result.update({f"acc_{k}_{n}obj": round(v, 4) for k, v in acc_n.items()})
    return result


@register_metric("shapes_fid", shapes_only=True)
def _shapes_fid(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics import shapes_evaluator as se
    from t2izoo.metrics.fid import fid_from_features

    evaluator, predictions, fields = ctx.shapes_predictions(verbose)
    size = int(ctx.fake.shape[1])
    real = ctx.image_set.load_images(np.unique(ctx.indices), (size,))[size]
    real_feats = se.penultimate_features(evaluator, real, value_range=(0, 255))
    return {**fields, "shapes_fid": round(fid_from_features(real_feats, predictions["penultimate"]), 3)}


@register_metric("shapes_r_precision", shapes_only=True)
def _shapes_r_precision(ctx: EvalContext, verbose: bool) -> dict:
    _, predictions, fields = ctx.shapes_predictions(verbose)
    mean, std = shapes_r_precision(predictions, ctx.indices, ctx.image_set, ctx.seed)
    return {**fields, "shapes_r_precision": round(mean, 2), "shapes_r_precision_std": round(std, 2)}


@register_metric("shapes_consistency", shapes_only=True)
def _shapes_consistency(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics import shapes_evaluator as se
    from t2izoo.metrics.consistency import attribute_agreement, second_captions

    if ctx.t2i is None:
        raise ConfigError("shapes_consistency generates a second image per sample: it needs the run (t2i)")
    evaluator, predictions, fields = ctx.shapes_predictions(verbose)
    # Same chunks and seeds as the first pass, so sample k gets the same noise vector.
    second = generate_samples(ctx.t2i, second_captions(ctx.image_set, ctx.indices, len(ctx.indices)), ctx.seed,
                              verbose=ctx.verbose_generation)
    agreement = attribute_agreement(predictions, se.predict(evaluator, second, value_range=(0, 255)),
                                    np.asarray(ctx.image_set.attributes)[ctx.indices])
    return {**fields, **{f"consistency_{k}": round(v, 4) for k, v in agreement.items()}}


def _inception_fields(ctx):
    extractor = ctx.inception()[0]
    return {"extractor": extractor.name, "weights_sha1": extractor.weights_hash}


@register_metric("fid")
def _fid(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics.fid import FeatureStatistics, fid_from_stats

    pool = ctx.inception()[1]
    return {**_inception_fields(ctx),
            "fid": round(fid_from_stats(ctx.real_inception_stats(), FeatureStatistics.from_features(pool)), 3)}


@register_metric("kid")
def _kid(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics.fid import kernel_inception_distance

    stats = ctx.real_inception_stats()
    if stats.features is None:
        raise DataError("cached real statistics hold no features for KID; delete the cache entry")
    mean, std = kernel_inception_distance(stats.features, ctx.inception()[1])
    return {**_inception_fields(ctx), "kid": round(mean, 5), "kid_std": round(std, 5)}


@register_metric("is")
def _inception_score(ctx: EvalContext, verbose: bool) -> dict:
    from t2izoo.metrics.inception_score import inception_score

    mean, std = inception_score(ctx.inception()[2])
    return {**_inception_fields(ctx), "is": round(mean, 3), "is_std": round(std, 3)}


def record_result(model_dir: str, result: dict) -> None:
    """Appends `result` to <model_dir>/eval.jsonl. A run directory that cannot be written (read
    only, full disk) costs the record, not the result: one line on stderr, and the caller
    still returns (and the CLI prints) what was measured."""
    path = os.path.join(model_dir, "eval.jsonl")
    try:
        with open(path, "a") as f:
            f.write(json.dumps(result) + "\n")
    except OSError as err:
        print(f"warning: result not recorded in {path} ({err.strerror or err}); printed only", file=sys.stderr)


def evaluate(t2i, metrics, num_samples: int, split: str, seed: int = 0, inception_weights: str | None = None,
             verbose: bool = True, shapes_evaluator=None, fid_extractor: str = "keras") -> dict:
    """Runs `metrics` on `num_samples` images generated by a loaded run (`Text2Image`); appends
    the result, with its protocol, to <model_dir>/eval.jsonl."""
    unknown = [m for m in metrics if m not in _METRICS]
    if unknown:
        raise ConfigError(f"unknown metrics {unknown}; choose from {', '.join(_METRICS)}")
    check_fid_extractor(fid_extractor)
    if num_samples < 10:
        raise ConfigError(f"--num_samples={num_samples}: at least 10 (metrics use 10 splits)")
    config = t2i.config
    shapes_only = [m for m in metrics if _METRICS[m][1]]
    if config.dataset != "shapes" and shapes_only:
        raise ConfigError(f"{', '.join(shapes_only)} need a shapes run; {t2i.model_dir} was trained on "
                          f"{config.dataset}")
    image_set = load_dataset(config, split)
    indices, captions = sample_plan(image_set, num_samples)
    t0 = time.time()
    fake = generate_samples(t2i, captions, seed, verbose=verbose)
    result = {"model_dir": t2i.model_dir, "step": t2i.step, "split": split,
              "generator": "ema" if t2i.use_ema else "live", "checkpoint": t2i.checkpoint or "latest",
              "num_samples": num_samples, "seed": seed, "resolution": int(fake.shape[1]),
              "generation_s": round(time.time() - t0, 1), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    ctx = EvalContext(fake, indices, image_set, config.dataset, split, seed, inception_weights, shapes_evaluator,
                      fid_extractor, t2i=t2i, verbose_generation=verbose)
    for name in metrics:
        result.update(_METRICS[name][0](ctx, verbose))
    record_result(t2i.model_dir, result)
    return result


# -- text-guided manipulation (`Family.task == "manipulation"`) ----------------------------------------
# Metrics of manipulation runs: each takes a `ManipulationContext`. `manip_shapes` edits each
# `shapes` scene in one attribute at a time; the others work on any dataset, where the new
# caption is one of another image (`t2izoo.metrics.manipulation`).
_MANIPULATION_METRICS: dict = {}
DEFAULT_METRICS = {"text_to_image": "shapes_acc,shapes_fid,shapes_r_precision",
                   "manipulation": "manip_shapes,manip_recon"}


def register_manipulation_metric(name: str, shapes_only: bool = False):
    def register(fn):
        _MANIPULATION_METRICS[name] = (fn, shapes_only)
        return fn

    return register


def manipulation_metric_names() -> tuple:
    return tuple(_MANIPULATION_METRICS)


@dataclasses.dataclass
class ManipulationContext:
    """What a manipulation metric sees: uint8 sources and results, the new captions, the edits
    (`shapes`; else None), and the manipulator for further calls."""

    sources: np.ndarray
    outputs: np.ndarray
    captions: list
    edits: list | None
    indices: np.ndarray
    image_set: object
    manipulator: object
    seed: int
    shapes_evaluator: object = None
    damsm_dir: str | None = None
    cache: dict = dataclasses.field(default_factory=dict)


@register_manipulation_metric("manip_shapes", shapes_only=True)
def _manip_shapes(ctx: ManipulationContext, verbose: bool) -> dict:
    from t2izoo.metrics import shapes_evaluator as se
    from t2izoo.metrics.manipulation import edit_scores

    evaluator = ctx.shapes_evaluator or se.load_or_train_shapes_evaluator(verbose=int(verbose))
    outputs = ctx.outputs
    if outputs.shape[1] != evaluator.image_size:  # the evaluator reads its own resolution (64 px)
        import tensorflow as tf

        outputs = tf.image.resize(outputs, (evaluator.image_size,) * 2, "bilinear").numpy()
    predictions = se.predict(evaluator, outputs, value_range=(0, 255))
    return {"extractor": f"shapes_evaluator_v{se.EVALUATOR_VERSION}",
            **{k: round(v, 4) for k, v in edit_scores(predictions, ctx.edits).items()}}


@register_manipulation_metric("manip_recon")
def _manip_recon(ctx: ManipulationContext, verbose: bool) -> dict:
    from t2izoo.metrics.manipulation import reconstruction_errors

    unique, first = np.unique(ctx.indices, return_index=True)
    own = [ctx.image_set.captions[i][0] for i in unique]
    rebuilt = manipulate_in_batches(ctx.manipulator, ctx.sources[first], own, verbose=False)
    return {f"{k}": round(v, 5) for k, v in reconstruction_errors(ctx.sources[first], rebuilt).items()}


@register_manipulation_metric("manip_mp")
def _manip_mp(ctx: ManipulationContext, verbose: bool) -> dict:
    import tensorflow as tf

    from t2izoo import configs as config_lib
    from t2izoo import registry
    from t2izoo.data.pipeline import image_to_float
    from t2izoo.metrics.manipulation import cosine_similarity, manipulative_precision
    from t2izoo.trainers.checkpointing import restore_for_inference

    if not ctx.damsm_dir:
        raise ConfigError("manip_mp needs --damsm_dir: a DAMSM pretraining run of this dataset (its cosine is sim)")
    family = registry.family_of_run(ctx.damsm_dir, generator=False)
    if family.name != "damsm":
        raise ConfigError(f"--damsm_dir={ctx.damsm_dir} is a {family.name} run, not a DAMSM pretraining run")
    damsm_config = config_lib.load_config(family.config_class, ctx.damsm_dir)
    damsm, damsm_context = restore_for_inference(family.make_recipe(), damsm_config, ctx.damsm_dir)
    outputs = ctx.outputs
    if outputs.shape[1] != damsm_config.image_size:
        outputs = tf.image.resize(outputs, (damsm_config.image_size,) * 2, "bilinear").numpy()
    images, sentences = [], []
    tokens, lengths = damsm_context["vocab"].encode_batch(ctx.captions, damsm_config.max_words)
    pixels = image_to_float(outputs.astype(np.float32))
    for i in range(0, len(pixels), 128):  # global image vector; sentence vector (AttnGAN's DAMSM cosine)
        images.append(damsm.image_encoder(tf.constant(pixels[i:i + 128]), training=False)[1].numpy())
        sentences.append(damsm.text_encoder((tf.constant(tokens[i:i + 128]), tf.constant(lengths[i:i + 128])),
                                            training=False)[1].numpy())
    images, sentences = np.concatenate(images), np.concatenate(sentences)
    result = manipulative_precision(ctx.sources, ctx.outputs, cosine_similarity(images, sentences))
    return {"damsm_dir": ctx.damsm_dir, **{k: round(v, 5) for k, v in result.items()}}


def manipulate_in_batches(manipulator, images, captions, batch_size: int = 64, verbose: bool = True) -> np.ndarray:
    out = []
    bar = keras.utils.Progbar(len(captions), unit_name="image") if verbose else None
    for start in range(0, len(captions), batch_size):
        out.append(manipulator(images[start:start + batch_size], captions[start:start + batch_size]))
        if bar:
            bar.add(len(out[-1]))
    return np.concatenate(out)


def manipulation_plan(image_set, num_samples: int, seed: int):
    """(source indices, new captions, edits or None): on `shapes` the one-attribute edits of
    `t2izoo.metrics.manipulation.edit_plan`; elsewhere each image with a caption of another class."""
    from t2izoo.metrics.manipulation import edit_plan
    from t2izoo.metrics.r_precision import sample_mismatched_indices

    if getattr(image_set, "name", "") == "shapes":
        indices, edits = edit_plan(image_set.attributes, num_samples, seed)
        return indices, [e.caption for e in edits], edits
    indices = np.arange(num_samples) % len(image_set)
    wrong = indices[sample_mismatched_indices(np.asarray(image_set.class_ids)[indices], rng=seed)]
    return indices, [image_set.captions[j][0] for j in wrong], None


def evaluate_manipulation(manipulator, metrics, num_samples: int, split: str, seed: int = 0, verbose: bool = True,
                          shapes_evaluator=None, damsm_dir: str | None = None) -> dict:
    """Runs manipulation `metrics` on `num_samples` edits of `split` images by a loaded
    manipulation run (`t2izoo.manipulate.ImageManipulator`); appends the result to eval.jsonl."""
    unknown = [m for m in metrics if m not in _MANIPULATION_METRICS]
    if unknown:
        raise ConfigError(f"unknown manipulation metrics {unknown}; choose from {', '.join(_MANIPULATION_METRICS)}")
    config = manipulator.config
    shapes_only = [m for m in metrics if _MANIPULATION_METRICS[m][1]]
    if config.dataset != "shapes" and shapes_only:
        raise ConfigError(f"{', '.join(shapes_only)} need a shapes run; {manipulator.model_dir} was trained on "
                          f"{config.dataset}")
    if num_samples < 1:
        raise ConfigError(f"--num_samples={num_samples}: at least 1")
    image_set = load_dataset(config, split)
    indices, captions, edits = manipulation_plan(image_set, num_samples, seed)
    size = manipulator.image_size
    sources = image_set.load_images(indices, (size,))[size]
    t0 = time.time()
    outputs = manipulate_in_batches(manipulator, sources, captions, verbose=verbose)
    result = {"model_dir": manipulator.model_dir, "task": "manipulation", "step": manipulator.step, "split": split,
              "generator": "ema" if manipulator.use_ema else "live", "checkpoint": manipulator.checkpoint or "latest",
              "num_samples": num_samples, "seed": seed, "resolution": int(outputs.shape[1]),
              "generation_s": round(time.time() - t0, 1), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    ctx = ManipulationContext(sources, outputs, captions, edits, indices, image_set, manipulator, seed,
                              shapes_evaluator, damsm_dir)
    for name in metrics:
        result.update(_MANIPULATION_METRICS[name][0](ctx, verbose))
    record_result(manipulator.model_dir, result)
    return result


def evaluate_run(model_dir: str, metrics, num_samples: int, split: str, seed: int = 0,
                 checkpoint_path: str | None = None, use_ema: bool = True, damsm_dir: str | None = None,
                 **kwargs) -> dict:
    """`evaluate` (or, for a manipulation run, `evaluate_manipulation`) of the run in `model_dir`
    (its latest checkpoint, or `checkpoint_path`)."""
    from t2izoo import registry

    if registry.family_of_run(model_dir).is_manipulation:
        from t2izoo.manipulate import ImageManipulator

        unknown = [m for m in metrics if m not in _MANIPULATION_METRICS]
        if unknown:  # before restoring anything
            raise ConfigError(f"unknown metrics {unknown} for a manipulation run; choose from "
                              f"{', '.join(_MANIPULATION_METRICS)}")
        for text_to_image_only in ("inception_weights", "fid_extractor"):  # the CLI passes them for every run
            kwargs.pop(text_to_image_only, None)
        return evaluate_manipulation(ImageManipulator.load(model_dir, checkpoint_path, use_ema), metrics, num_samples,
                                     split, seed, damsm_dir=damsm_dir, **kwargs)
    from t2izoo.generate import Text2Image

    unknown = [m for m in metrics if m not in _METRICS]
    if unknown:  # before restoring anything
        raise ConfigError(f"unknown metrics {unknown}; choose from {', '.join(_METRICS)}")
    check_fid_extractor(kwargs.get("fid_extractor", "keras"))
    return evaluate(Text2Image.load(model_dir, checkpoint_path, use_ema), metrics, num_samples, split, seed, **kwargs)


FLAGS = flags.FLAGS


def main(argv):
    del argv

    def _run():
        from t2izoo import registry

        names = FLAGS.metrics or DEFAULT_METRICS[registry.family_of_run(FLAGS.model_dir).task]
        metrics = [m.strip() for m in names.split(",") if m.strip()]
        result = evaluate_run(FLAGS.model_dir, metrics, FLAGS.num_samples, FLAGS.split, FLAGS.seed,
                              checkpoint_path=FLAGS.checkpoint, use_ema=FLAGS.ema,
                              inception_weights=FLAGS.inception_weights, fid_extractor=FLAGS.fid_extractor,
                              damsm_dir=FLAGS.damsm_dir)
        print(json.dumps(result, indent=2))

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained generator.", required=True)
    flags.DEFINE_string("metrics", None, f"Comma list of {metric_names()} (text-to-image runs; default "
                        f"{DEFAULT_METRICS['text_to_image']}) or {manipulation_metric_names()} (manipulation runs; "
                        f"default {DEFAULT_METRICS['manipulation']}).")
    flags.DEFINE_string("damsm_dir", None, "DAMSM pretraining run whose cosine manip_mp uses.")
    flags.DEFINE_integer("num_samples", 2000, "Generated samples.", lower_bound=1)
    flags.DEFINE_string("split", "test", "Split whose captions are used (shapes: test or novel).")
    flags.DEFINE_integer("seed", 0, "Noise and mismatched-caption seed.")
    flags.DEFINE_string("inception_weights", None, "Weights file of --fid_extractor (fid, kid, is): Keras "
                        "Inception-v3 .h5, or pytorch-fid's pt_inception-2015-12-05 .pth/.npz.")
    flags.DEFINE_string("fid_extractor", "keras", "Network of fid, kid and is: keras (Keras' Inception-v3) or "
                        "pytorch_fid (pytorch-fid's FID Inception, as DM-GAN/DF-GAN report).")
    flags.DEFINE_string("checkpoint", None, "A specific checkpoint prefix (default: the run's latest).")
    flags.DEFINE_bool("ema", True, "Evaluate the EMA generator (--noema: the live one).")
    app.run(main, flags_parser=parse_flags)
