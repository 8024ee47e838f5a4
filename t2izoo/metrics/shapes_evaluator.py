"""Attribute evaluator for the built-in `shapes` dataset: does the image show what the caption says?

A small CNN trained on ground-truth renders predicts, for each of the 9 grid cells, whether an
object is there and its colour, shape and size. Generated images are then judged object by
object against the attributes their caption names (`attribute_accuracy`), and its penultimate
per-cell embeddings give a dataset-specific FID (`penultimate_features`), the shapes analogue of
Inception features (cf. the CSS/"semantic object accuracy" style evaluations of text-to-image
models with a dataset-specific detector).

Usage:
    >>> evaluator = load_or_train_shapes_evaluator()          # trains once, then cached
    >>> attribute_accuracy(evaluator, fake_images, attributes, value_range=(-1, 1))
    {'color': ..., 'shape': ..., 'size': ..., 'position': ..., 'object': ...}   # in [0, 1]

`python -m t2izoo.metrics` trains (or loads) the evaluator and reports its accuracy on real
`test` renders.
"""

from __future__ import annotations

import inspect
import json
import os
import time

import keras
import numpy as np
from keras import ops

from t2izoo.data.base import cache_root, config_hash
from t2izoo.data.shapes import (
    ATTR_COLOR,
    ATTR_POSITION,
    ATTR_PRESENT,
    ATTR_SHAPE,
    ATTR_SIZE,
    COLORS,
    POSITIONS,
    SHAPES,
    SIZES,
    ShapesConfig,
    ShapesImageSet,
)
from t2izoo.errors import CheckpointError, DataError
from t2izoo.metrics.validation import to_signed_unit_range
from t2izoo.utils.files import atomic_path

NUM_CELLS = len(POSITIONS)
# Bump when the architecture or training recipe changes: it is part of the cache key.
EVALUATOR_VERSION = 2
ATTRIBUTE_KEYS = ("color", "shape", "size", "position")


@keras.saving.register_keras_serializable(package="t2izoo")
class ShapesEvaluator(keras.Model):
    """Per-cell attribute classifier for `shapes` renders.

    A strided conv stack maps the image (resampled to 72 px) to a 9x9 feature map; a 5x5
    stride-3 conv pools it into one embedding per grid cell, and heads shared by all cells
    classify each embedding, so what is learnt about a shape in one cell holds in all. Inputs of another resolution are resized (bilinear, antialiased)
    to `image_size` first.

    Args:
        image_size: the resolution the network works at (64).
        widths: channels of the three conv stages.
        cell_dim: size of each cell embedding; `penultimate` features are `9 * cell_dim`.

    Call:
        images: float `[B, H, W, 3]` in [-1, 1].
        Returns a dict of logits: `occupancy` [B, 9], `color` [B, 9, 8], `shape` [B, 9, 5],
        `size` [B, 9, 3], plus `penultimate` [B, 9 * cell_dim].

    Example:
        >>> model = ShapesEvaluator(image_size=32, widths=(8, 8, 8), cell_dim=8)
        >>> model(np.zeros((2, 64, 64, 3), "float32"))["color"].shape
        (2, 9, 8)
    """

    def __init__(self, image_size: int = 64, widths=(32, 64, 96), cell_dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.widths = tuple(int(w) for w in widths)
        self.cell_dim = int(cell_dim)
        # The conv stack runs at 72 = 9 * 2^3 px, so that its three stride-2 stages give a 9x9
        # map whose 3x3 blocks are exactly the grid cells.
        self.work_size = 72
        w1, w2, w3 = self.widths
        conv = lambda ch, k, s, name: keras.layers.Conv2D(  # noqa: E731
            ch, k, strides=s, padding="same", activation="relu", name=name)
        self.convs = [
            conv(w1, 5, 2, "conv1"),   # 72 -> 36
            conv(w2, 3, 2, "conv2"),   # 36 -> 18
            conv(w3, 3, 2, "conv3"),   # 18 -> 9
            conv(w3, 3, 1, "conv4"),
        ]
        # One output per grid cell, shared by all cells: its 5x5 window covers the cell's 3x3
        # block plus one feature row/column of each neighbour (objects spill across borders).
        self.cell_pad = keras.layers.ZeroPadding2D(1)
        self.cell_conv = keras.layers.Conv2D(2 * w3, 5, strides=3, padding="valid",
                                             activation="relu", name="cell_conv")
        self.cell_embed = keras.layers.Dense(self.cell_dim, activation="relu", name="cell_embed")
        self.occupancy_head = keras.layers.Dense(1, name="occupancy")
        self.color_head = keras.layers.Dense(len(COLORS), name="color")
        self.shape_head = keras.layers.Dense(len(SHAPES), name="shape")
        self.size_head = keras.layers.Dense(len(SIZES), name="size")

    def call(self, images, training=False):
        images = ops.convert_to_tensor(images, "float32")
        if images.shape[1] != self.image_size or images.shape[2] != self.image_size:
            # Other resolutions are first brought to the evaluator's (antialiased downsampling).
            images = ops.image.resize(images, (self.image_size, self.image_size),
                                      interpolation="bilinear", antialias=True)
        x = ops.image.resize(images, (self.work_size, self.work_size), interpolation="bilinear")
        for layer in self.convs:
            x = layer(x)
        cells = self.cell_embed(self.cell_conv(self.cell_pad(x)))  # [B, 3, 3, cell_dim]
        cells = ops.reshape(cells, (-1, NUM_CELLS, self.cell_dim))  # row-major = POSITIONS order
        return {
            "occupancy": ops.squeeze(self.occupancy_head(cells), -1),
            "color": self.color_head(cells),
            "shape": self.shape_head(cells),
            "size": self.size_head(cells),
            "penultimate": ops.reshape(cells, (-1, NUM_CELLS * self.cell_dim)),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Occupancy BCE over all cells + colour/shape/size CE at the occupied cells.

        `y` is int32 `[B, 9, 4]` from `cell_targets`: (occupied, color, shape, size) per cell.
        """
        y = ops.cast(y, "int32")
        occupied = ops.cast(y[..., 0], "float32")
        loss = ops.mean(keras.losses.binary_crossentropy(
            occupied[..., None], y_pred["occupancy"][..., None], from_logits=True))
        denom = ops.maximum(ops.sum(occupied), 1.0)
        for k, name in enumerate(("color", "shape", "size"), start=1):
            ce = keras.losses.sparse_categorical_crossentropy(
                ops.maximum(y[..., k], 0), y_pred[name], from_logits=True)
            loss = loss + ops.sum(ce * occupied) / denom
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, widths=list(self.widths), cell_dim=self.cell_dim)
        return config


def cell_targets(attributes) -> np.ndarray:
    """Per-cell training targets from scene attributes.

    Args:
        attributes: int `[N, objects, 5]` (present, color, shape, size, position).

    Returns:
        int32 `[N, 9, 4]`: (occupied, color, shape, size) per cell, -1 attributes where empty.
    """
    attributes = np.asarray(attributes)
    out = np.full((attributes.shape[0], NUM_CELLS, 4), -1, np.int32)
    out[..., 0] = 0
    n_idx, o_idx = np.nonzero(attributes[..., ATTR_PRESENT])
    cells = attributes[n_idx, o_idx, ATTR_POSITION]
    out[n_idx, cells, 0] = 1
    out[n_idx, cells, 1] = attributes[n_idx, o_idx, ATTR_COLOR]
    out[n_idx, cells, 2] = attributes[n_idx, o_idx, ATTR_SHAPE]
    out[n_idx, cells, 3] = attributes[n_idx, o_idx, ATTR_SIZE]
    return out


def _check_attributes(attributes, num_images: int) -> np.ndarray:
    attributes = np.asarray(attributes)
    if attributes.ndim != 3 or attributes.shape[-1] != 5:
        raise DataError(f"attributes must be int [N, objects, 5], got shape {attributes.shape}")
    if attributes.shape[0] != num_images:
        raise DataError(f"{num_images} images but {attributes.shape[0]} attribute rows")
    present = attributes[..., ATTR_PRESENT] > 0
    if not present.any():
        raise DataError("attributes mark no object as present; nothing to judge")
    cells = attributes[..., ATTR_POSITION][present]
    if cells.min() < 0 or cells.max() >= NUM_CELLS:
        raise DataError(f"object positions must be grid cells 0..{NUM_CELLS - 1}")
    return attributes


def attribute_accuracy_from_predictions(predictions: dict, attributes) -> dict:
    """Scores per-cell predictions against the objects a caption names (pure numpy).

    Every present object is judged at its own cell c:
        position = [sigmoid(occupancy[c]) > 0.5] and no cell the caption leaves empty is
            predicted occupied (the object is where the caption says, and nothing else is),
        color/shape/size = [argmax head[c] == attribute].
    `object` is the fraction of objects with all four right. Accuracies are averaged over
    objects (a two-object scene counts twice).

    Args:
        predictions: dict with `occupancy` [N, 9] logits, `color` [N, 9, 8], `shape` [N, 9, 5],
            `size` [N, 9, 3] scores (logits or probabilities).
        attributes: int `[N, objects, 5]` ground truth (present, color, shape, size, position).

    Returns:
        dict of floats in [0, 1]: `color`, `shape`, `size`, `position`, `object`.
    """
    occupancy = np.asarray(predictions["occupancy"])
    attributes = _check_attributes(attributes, occupancy.shape[0])
    n_idx, o_idx = np.nonzero(attributes[..., ATTR_PRESENT] > 0)
    cells = attributes[n_idx, o_idx, ATTR_POSITION]
    # logit > 0 <=> probability > 0.5. An image that "fills" cells the caption leaves empty
    # gets no position credit, so noise or a blob everywhere cannot score 100%.
    occupied = occupancy > 0.0
    named = np.zeros_like(occupied)
    named[n_idx, cells] = True
    clean = ~(occupied & ~named).any(axis=1)
    correct = {"position": occupied[n_idx, cells] & clean[n_idx]}
    for name, column in (("color", ATTR_COLOR), ("shape", ATTR_SHAPE), ("size", ATTR_SIZE)):
        predicted = np.argmax(np.asarray(predictions[name])[n_idx, cells], axis=-1)
        correct[name] = predicted == attributes[n_idx, o_idx, column]
    result = {k: float(np.mean(correct[k])) for k in ATTRIBUTE_KEYS}
    result["object"] = float(np.mean(np.logical_and.reduce([correct[k] for k in ATTRIBUTE_KEYS])))
    return result


def accuracy_by_object_count(predictions: dict, attributes) -> dict:
    """`attribute_accuracy_from_predictions` separately for scenes of 1, 2, ... objects.

    Averages over all scenes hide where a model fails: on `shapes` a generator can draw a lone
    object's colour almost always right yet give two objects each other's colours (binding).

    Returns:
        {number of objects: accuracy dict} for every count present in `attributes`.
    """
    occupancy = np.asarray(predictions["occupancy"])
    attributes = _check_attributes(attributes, occupancy.shape[0])
    counts = (attributes[..., ATTR_PRESENT] > 0).sum(axis=1)
    out = {}
    for n in np.unique(counts[counts > 0]):
        rows = counts == n
        out[int(n)] = attribute_accuracy_from_predictions(
            {k: np.asarray(v)[rows] for k, v in predictions.items()}, attributes[rows])
    return out


def predict(evaluator: ShapesEvaluator, images, value_range=(-1, 1), batch_size: int = 256) -> dict:
    """Runs the evaluator in batches; returns numpy logits/features (see `ShapesEvaluator`).

    Args:
        images: `[N, H, W, 3]` in `value_range`: (-1, 1) (default, generator output) or
            (0, 255) (dataset renders).
    """
    images = np.asarray(images)
    outputs = {}
    for start in range(0, images.shape[0], batch_size):
        batch = to_signed_unit_range(images[start:start + batch_size], value_range)
        result = evaluator(batch, training=False)
        for key, value in result.items():
            outputs.setdefault(key, []).append(ops.convert_to_numpy(value))
    if not outputs:
        raise DataError("images is empty")
    return {k: np.concatenate(v) for k, v in outputs.items()}


def attribute_accuracy(evaluator: ShapesEvaluator, images, attributes, value_range=(-1, 1),
                       batch_size: int = 256) -> dict:
    """Per-attribute accuracy of `images` against the scene `attributes` their captions name.

    Args:
        evaluator: a trained `ShapesEvaluator`.
        images: `[N, H, W, 3]` in `value_range` ((-1, 1) default, (0, 255) for renders); any
            resolution (resized to the evaluator's).
        attributes: int `[N, objects, 5]` (`ShapesImageSet.attributes`).

    Returns:
        dict: `color`, `shape`, `size`, `position`, `object` accuracies in [0, 1].
    """
    _check_attributes(attributes, np.asarray(images).shape[0])
    return attribute_accuracy_from_predictions(
        predict(evaluator, images, value_range, batch_size), attributes)


def penultimate_features(evaluator: ShapesEvaluator, images, value_range=(-1, 1),
                         batch_size: int = 256) -> np.ndarray:
    """Per-cell embeddings `[N, 9 * cell_dim]` for a shapes-specific FID/KID."""
    return predict(evaluator, images, value_range, batch_size)["penultimate"]


def _training_spec(image_size, num_train, steps, batch_size, learning_rate, seed, widths, cell_dim,
                   shapes_config) -> dict:
    return dict(version=EVALUATOR_VERSION, image_size=int(image_size), num_train=int(num_train),
                steps=int(steps), batch_size=int(batch_size), learning_rate=float(learning_rate),
                seed=int(seed), widths=[int(w) for w in widths], cell_dim=int(cell_dim),
                shapes_seed=int(shapes_config.seed),
                two_object_fraction=float(shapes_config.two_object_fraction))


def train_shapes_evaluator(image_size: int = 64, num_train: int = 10000, steps: int = 2000,
                           batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0,
                           widths=(32, 64, 96), cell_dim: int = 64, model_dir: str | None = None,
                           shapes_config: ShapesConfig | None = None, verbose: int = 0):
    """Trains a `ShapesEvaluator` on ground-truth `train` renders.

    Adam with a cosine-decayed learning rate; loss `ShapesEvaluator.compute_loss`.

    Args:
        image_size: render and network resolution.
        num_train: number of `train` scenes rendered for training.
        steps: optimiser steps of `batch_size` images.
        model_dir: if given, `evaluator.weights.h5` and `evaluator.json` (spec, config,
            training time) are written there.
        shapes_config: dataset config (default `ShapesConfig(num_train=num_train)`; the seed is
            the dataset's default so the `test` split is the standard one).

    Returns:
        (evaluator, info): the trained model and a dict with `train_seconds` and the spec.
    """
    import tensorflow as tf  # data pipeline only

    shapes_config = shapes_config or ShapesConfig(num_train=num_train)
    if shapes_config.num_train < num_train:
        raise DataError(f"shapes_config has {shapes_config.num_train} train scenes, "
                        f"{num_train} requested")
    start = time.time()
    keras.utils.set_random_seed(seed)
    data = ShapesImageSet("train", shapes_config)
    images = np.asarray(data.images(image_size)[:num_train])
    targets = cell_targets(data.attributes[:num_train])
    render_seconds = time.time() - start

    dataset = (tf.data.Dataset.from_tensor_slices((images, targets))
               .shuffle(num_train, seed=seed, reshuffle_each_iteration=True)
               .repeat()
               .batch(batch_size, drop_remainder=True)
               .map(lambda x, y: (tf.cast(x, tf.float32) / 127.5 - 1.0, y),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    model = ShapesEvaluator(image_size=image_size, widths=widths, cell_dim=cell_dim)
    model(np.zeros((1, image_size, image_size, 3), np.float32))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    # Epochs only pace the log; pick the largest divisor of `steps` up to 500 so the total is exact.
    steps_per_epoch = max(d for d in range(1, min(steps, 500) + 1) if steps % d == 0)
    epochs = steps // steps_per_epoch
    model.fit(dataset, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose)
    train_seconds = time.time() - start
    info = {"spec": _training_spec(image_size, num_train, steps_per_epoch * epochs, batch_size,
                                   learning_rate, seed, widths, cell_dim, shapes_config),
            "config": model.get_config(), "train_seconds": round(train_seconds, 1),
            "render_seconds": round(render_seconds, 1)}
    if model_dir:
        save_shapes_evaluator(model, model_dir, info)
    return model, info


_TRAIN_DEFAULTS = {k: p.default for k, p in inspect.signature(train_shapes_evaluator).parameters.items()}


def save_shapes_evaluator(model: ShapesEvaluator, model_dir: str, info: dict):
    """Writes `evaluator.json`, then `evaluator.weights.h5` atomically (its presence marks a
    complete checkpoint for `load_or_train_shapes_evaluator`)."""
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "evaluator.json"), "w") as f:
        json.dump(info, f, indent=2)
    with atomic_path(os.path.join(model_dir, "evaluator.weights.h5"), ".weights.h5") as tmp:
        model.save_weights(tmp)


def load_shapes_evaluator(model_dir: str) -> ShapesEvaluator:
    """Loads an evaluator written by `train_shapes_evaluator(model_dir=...)`."""
    weights = os.path.join(model_dir, "evaluator.weights.h5")
    meta = os.path.join(model_dir, "evaluator.json")
    if not (os.path.exists(weights) and os.path.exists(meta)):
        raise CheckpointError(f"no shapes evaluator in {model_dir}: expected evaluator.weights.h5 "
                              "and evaluator.json (train one with train_shapes_evaluator)")
    with open(meta) as f:
        info = json.load(f)
    config = {k: v for k, v in info["config"].items() if k in ("image_size", "widths", "cell_dim")}
    model = ShapesEvaluator(**config)
    model(np.zeros((1, model.image_size, model.image_size, 3), np.float32))
    model.load_weights(weights)
    return model


def load_or_train_shapes_evaluator(cache_dir: str | None = None, verbose: int = 0, **train_kwargs):
    """The evaluator for the given training spec, trained once and cached.

    The checkpoint lives under `cache_dir` (default `cache_root()/shapes_evaluator`) in a
    folder named by the hash of the training spec, so changing any training argument or
    `EVALUATOR_VERSION` trains a new one.

    Args:
        cache_dir: cache folder.
        **train_kwargs: arguments of `train_shapes_evaluator` (not `model_dir`).

    Returns:
        A `ShapesEvaluator` with `evaluator_info` (training spec and time) attached.
    """
    unknown = set(train_kwargs) - set(_TRAIN_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown training arguments: {sorted(unknown)}")
    args = {**_TRAIN_DEFAULTS, **train_kwargs}
    for unused in ("model_dir", "verbose"):
        args.pop(unused, None)
    shapes_config = args.pop("shapes_config") or ShapesConfig(num_train=args["num_train"])
    spec = _training_spec(shapes_config=shapes_config, **args)
    model_dir = os.path.join(cache_dir or os.path.join(cache_root(), "shapes_evaluator"),
                             config_hash(spec))
    if os.path.exists(os.path.join(model_dir, "evaluator.weights.h5")):
        model = load_shapes_evaluator(model_dir)
        with open(os.path.join(model_dir, "evaluator.json")) as f:
            model.evaluator_info = json.load(f)
        return model
    model, info = train_shapes_evaluator(model_dir=model_dir, shapes_config=shapes_config,
                                         verbose=verbose, **args)
    model.evaluator_info = info
    return model


def evaluate_on_real(evaluator: ShapesEvaluator, split: str = "test", image_size: int | None = None,
                     shapes_config: ShapesConfig | None = None) -> dict:
    """Accuracy of the evaluator on ground-truth renders of a split (its ceiling on fakes)."""
    data = ShapesImageSet(split, shapes_config or ShapesConfig())
    images = data.images(image_size or evaluator.image_size)
    return attribute_accuracy(evaluator, images, data.attributes, value_range=(0, 255))
