"""Feature extractors for the metrics, and the on-disk cache of reference-set statistics.

The metric maths (`inception_score`, `fid`, `r_precision`) takes plain arrays; the networks
that produce them live here (TF-GAN / stylegan2-ada split). Nothing is downloaded: the
Inception-v3 weights are a local file named by an argument or `$T2IZOO_INCEPTION_WEIGHTS`.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from t2izoo.data.base import cache_root, config_hash
from t2izoo.errors import DataError
from t2izoo.metrics.fid import FeatureStatistics
from t2izoo.metrics.validation import to_signed_unit_range

INCEPTION_WEIGHTS_ENV = "T2IZOO_INCEPTION_WEIGHTS"
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = ("https://github.com/fchollet/deep-learning-models/releases/download/"
                         "v0.5/" + INCEPTION_WEIGHTS_FILE)
INCEPTION_SIZE = 299


def file_sha1(path: str, length: int = 12) -> str:
    """Short SHA-1 of a file's bytes (part of cache keys, so new weights mean new statistics)."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def resolve_inception_weights(weights_path: str | None = None) -> str:
    """The Inception-v3 weights file from the argument or `$T2IZOO_INCEPTION_WEIGHTS`.

    Raises:
        DataError: neither is set, or the file does not exist (the message names the file to
            download by hand, since this package never downloads).
    """
    how = (f"provide the Keras ImageNet Inception-v3 weights file {INCEPTION_WEIGHTS_FILE} "
           f"(keras-applications release, {INCEPTION_WEIGHTS_URL}) and pass its path as "
           f"weights_path / --inception_weights or set ${INCEPTION_WEIGHTS_ENV}")
    return resolve_weights_file(weights_path, INCEPTION_WEIGHTS_ENV, "Inception-v3", how)


def resolve_weights_file(weights_path: str | None, env: str, what: str, how: str) -> str:
    """`weights_path`, else `$env`, checked to be a file; DataError saying `how` to get it."""
    path = weights_path or os.environ.get(env)
    if not path:
        raise DataError(f"no {what} weights given: {how}")
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise DataError(f"{what} weights file not found: {path}; {how}")
    return path


class InceptionFeatureExtractor:
    """ImageNet Inception-v3: 2048-d pool features (FID/KID) and 1000-way logits (IS).

    Builds `keras.applications.InceptionV3(weights=None, include_top=True,
    classifier_activation=None)` and loads a local weights file (the Keras release file
    `inception_v3_weights_tf_dim_ordering_tf_kernels.h5`, or any file `load_weights` accepts
    for this architecture). Images are resized bilinearly to 299x299 in [-1, 1], the input
    range of Keras' Inception-v3 (`preprocess_input` mode "tf").

    Note: Keras' Inception-v3 is not the TF1 graph of TTUR/TF-FID nor the pytorch-fid port,
    so FIDs are comparable within this package only (papers' FIDs differ by tool, see
    recipes' READMEs).

    Args:
        weights_path: the weights file; default `$T2IZOO_INCEPTION_WEIGHTS`.
        batch_size: images per forward pass.

    Call:
        images: `[N, H, W, 3]` in `value_range` ((-1, 1) default, or (0, 255)).
        Returns `(pool [N, 2048] float32, logits [N, 1000] float32)`.

    Example:
        >>> extractor = InceptionFeatureExtractor("~/weights/" + INCEPTION_WEIGHTS_FILE)
        >>> pool, logits = extractor(fake_images)          # [-1, 1]
        >>> inception_score(logits)
    """

    name = "inception_v3"

    def __init__(self, weights_path: str | None = None, batch_size: int = 32):
        import keras

        self.weights_path = resolve_inception_weights(weights_path)
        self.batch_size = int(batch_size)
        base = keras.applications.InceptionV3(weights=None, include_top=True,
                                              classifier_activation=None)
        try:
            base.load_weights(self.weights_path)
        except Exception as err:  # h5py/keras raise many types for a wrong file
            raise DataError(f"could not load Inception-v3 weights from {self.weights_path}: {err} "
                            f"(expected {INCEPTION_WEIGHTS_FILE} with the classification top)") from None
        self.model = keras.Model(base.inputs, [base.get_layer("avg_pool").output, base.output],
                                 name="inception_v3_features")
        self._weights_hash = None

    @property
    def weights_hash(self) -> str:
        if self._weights_hash is None:
            self._weights_hash = file_sha1(self.weights_path)
        return self._weights_hash

    def preprocess(self, images, value_range=(-1, 1)):
        """`[N, H, W, 3]` in `value_range` -> float32 `[N, 299, 299, 3]` in [-1, 1]."""
        from keras import ops

        images = to_signed_unit_range(images, value_range)
        if images.shape[1:3] != (INCEPTION_SIZE, INCEPTION_SIZE):
            images = ops.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE),
                                      interpolation="bilinear", antialias=False)
        return images

    def __call__(self, images, value_range=(-1, 1)) -> tuple:
        from keras import ops

        images = np.asarray(images)
        pools, logits = [], []
        for start in range(0, images.shape[0], self.batch_size):
            batch = self.preprocess(images[start:start + self.batch_size], value_range)
            pool, logit = self.model(batch, training=False)
            pools.append(ops.convert_to_numpy(pool))
            logits.append(ops.convert_to_numpy(logit))
        if not pools:
            raise DataError("images is empty")
        return np.concatenate(pools).astype(np.float32), np.concatenate(logits).astype(np.float32)


FID_INCEPTION_WEIGHTS_ENV = "T2IZOO_FID_INCEPTION_WEIGHTS"
FID_INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"


class PytorchFidFeatureExtractor(InceptionFeatureExtractor):
    """pytorch-fid's Inception (the `FIDInception*` port of the TF1 graph that TTUR's FID and the
    DM-GAN / DF-GAN tables use): 2048-d pool features, and the 1008-way logits of the file's `fc`.

    Converts a local copy of pytorch-fid's weights (`pt_inception-2015-12-05-6726825d.pth`,
    read with torch: `pip install 't2izoo[convert]'`; or the same state dict saved as `.npz`) into
    `TorchInceptionV3("fid")` (t2izoo/convert/inception.py). Images are resized bilinearly to 299
    (half-pixel centres, no antialiasing: pytorch-fid's `F.interpolate(..., align_corners=False)`)
    and scaled to [-1, 1] (its `normalize_input`).

    Args:
        weights_path: the weights file; default `$T2IZOO_FID_INCEPTION_WEIGHTS`.
        batch_size: images per forward pass.
    """

    name = "pytorch_fid_inception_v3"

    def __init__(self, weights_path: str | None = None, batch_size: int = 32):
        from t2izoo.convert.inception import build_inception
        from t2izoo.convert.state_dict import load_torch_state_dict

        how = (f"provide pytorch-fid's Inception weights {FID_INCEPTION_WEIGHTS_FILE} (its GitHub release) and "
               f"pass the path as --inception_weights or set ${FID_INCEPTION_WEIGHTS_ENV}")
        path = resolve_weights_file(weights_path, FID_INCEPTION_WEIGHTS_ENV, "pytorch-fid Inception", how)
        self.weights_path = path
        self.batch_size = int(batch_size)
        if path.endswith(".npz"):
            with np.load(path) as data:
                arrays = dict(data)
        else:
            arrays = load_torch_state_dict(path)
        self.net = build_inception("fid", arrays, path)
        fc = arrays.get("fc.weight")
        self.fc = None if fc is None else (np.asarray(fc, np.float32).T, np.asarray(arrays["fc.bias"], np.float32))
        self._weights_hash = None

    def __call__(self, images, value_range=(-1, 1)) -> tuple:
        from keras import ops

        images = np.asarray(images)
        pools = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = self.preprocess(images[start:start + self.batch_size], value_range)
            pools.append(ops.convert_to_numpy(self.net(batch, training=False)["pool"]))
        if not pools:
            raise DataError("images is empty")
        pool = np.concatenate(pools).astype(np.float32)
        logits = pool @ self.fc[0] + self.fc[1] if self.fc is not None else np.zeros((len(pool), 0), np.float32)
        return pool, logits.astype(np.float32)


# `--fid_extractor` of t2izoo.evaluate: the network behind fid, kid and is.
FEATURE_EXTRACTORS = {"keras": InceptionFeatureExtractor, "pytorch_fid": PytorchFidFeatureExtractor}


def make_feature_extractor(kind: str = "keras", weights_path: str | None = None):
    if kind not in FEATURE_EXTRACTORS:
        raise DataError(f"unknown feature extractor {kind!r}; choose one of {', '.join(FEATURE_EXTRACTORS)}")
    return FEATURE_EXTRACTORS[kind](weights_path)


def stats_key(dataset: str, split: str, extractor: str, weights_hash: str, resolution: int,
              **extra) -> dict:
    """The key parts of a reference-statistics cache entry (stylegan2-ada style)."""
    return dict(dataset=dataset, split=split, extractor=extractor, weights=weights_hash,
                resolution=int(resolution), **extra)


def cached_stats(key_parts: dict, compute_fn, cache_dir: str | None = None) -> FeatureStatistics:
    """Loads reference statistics from disk, or computes them once with `compute_fn()`.

    Args:
        key_parts: JSON-able dict naming everything the statistics depend on: dataset, split,
            extractor name, weights-file hash, resolution, sample count (see `stats_key`).
        compute_fn: returns `FeatureStatistics` or an `[N, D]` feature array.
        cache_dir: default `cache_root()/metric_stats`.

    Returns:
        `FeatureStatistics`; the file is `<cache_dir>/<hash(key_parts)>.npz` with a `.json`
        beside it recording the key.
    """
    if not isinstance(key_parts, dict) or not key_parts:
        raise DataError("key_parts must be a non-empty dict (dataset, split, extractor, ...)")
    cache_dir = cache_dir or os.path.join(cache_root(), "metric_stats")
    name = config_hash(key_parts)
    path = os.path.join(cache_dir, f"{name}.npz")
    if os.path.exists(path):
        try:
            return FeatureStatistics.load(path)
        except DataError:
            pass  # a corrupt or stale file is recomputed
    result = compute_fn()
    stats = result if isinstance(result, FeatureStatistics) else FeatureStatistics.from_features(result)
    stats.save(path)
    with open(os.path.join(cache_dir, f"{name}.json"), "w") as f:
        json.dump(key_parts, f, indent=2, sort_keys=True, default=str)
    return stats
