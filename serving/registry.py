"""The loaded models: version folders found on disk, SavedModels loaded with
`tf.saved_model.load`, and their signatures, which validate requests as TF Serving does.

`ModelRegistry` holds every served model and version and resolves a request's model spec
(name, version or label); `ServedSignature.predict` checks a request's inputs against the
signature (names, dtypes, shapes, batch size, captions) and runs the model, through a
`serving.batching.Batcher` when batching is on. TensorFlow is imported when a model is loaded,
not with this module.

Example:
    registry = ModelRegistry([ModelConfig("shapes", "/tmp/export/shapes")], max_batch_size=32,
                             max_caption_length=10_000, batching=None)
    outputs = registry.resolve("shapes").signature("").predict({"captions": captions})
"""

from __future__ import annotations

import logging
import os
from typing import Optional

import numpy as np

from serving.batching import Batcher, BatchingParameters
from serving.protocol import DEFAULT_SIGNATURE, ServingError, invalid
from t2izoo.errors import ConfigError

logger = logging.getLogger(__name__)

DT_STRING = 7  # types_pb2.DT_STRING, kept literal so the hot path avoids a lookup


def dtype_name(enum: int) -> str:
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(enum)


def numpy_dtype(enum: int):
    import tensorflow as tf

    return tf.dtypes.as_dtype(enum).as_numpy_dtype


class TensorSpec:
    """dtype (DataType enum) and shape (tuple with None for unknown dims, or None) of one input/output."""

    def __init__(self, info):
        self.dtype = info.dtype
        shape = info.tensor_shape
        self.shape = None if shape.unknown_rank else tuple(
            None if d.size < 0 else d.size for d in shape.dim)

    def describe(self) -> str:
        shape = "?" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
        return f"{dtype_name(self.dtype)}{shape}"



class ServedSignature:
    """One callable signature of a loaded SavedModel, with request validation.

    Args:
        name: signature key, e.g. "serving_default".
        signature_def: the SignatureDef proto from saved_model.pb.
        function: the concrete function from `tf.saved_model.load(...).signatures[name]`.
        max_batch_size: most rows accepted in one request.
        max_caption_length: most characters in one element of a DT_STRING input.
        batching: BatchingParameters to merge concurrent requests, or None to call directly.
        label: "model/version/signature" for messages.
    """

    def __init__(self, name, signature_def, function, max_batch_size, max_caption_length, batching, label):
        import tensorflow as tf

        self.name = name
        self.signature_def = signature_def
        self.function = function
        self.max_batch_size = max_batch_size
        self.max_caption_length = max_caption_length
        self.label = label
        self.inputs = {k: TensorSpec(v) for k, v in signature_def.inputs.items()}
        self.outputs = {k: TensorSpec(v) for k, v in signature_def.outputs.items()}
        self.defaults = {k: tf.make_ndarray(v) for k, v in signature_def.defaults.items()}
        batchable = all(s.shape for s in self.inputs.values())  # known rank >= 1 everywhere
        self.batcher = Batcher(self._call, batching, label) if batching and batchable else None

    def describe_inputs(self) -> str:
        return ", ".join(f"{k}: {s.describe()}" for k, s in sorted(self.inputs.items()))

    def check_input_names(self, names) -> None:
        """INVALID_ARGUMENT for an input the signature does not take."""
        for name in names:
            if name not in self.inputs:
                raise invalid(
                    f"input {name!r} is not an input of signature {self.name!r}; it takes "
                    f"{{{self.describe_inputs()}}}")

    def predict(self, inputs: dict, output_filter=()) -> dict:
        """Validates `inputs`, runs the model (batched if enabled) and returns numpy outputs.

        Args:
            inputs: input name -> numpy array already in the signature's dtype (callers check
                wire dtypes against `self.inputs` first).
            output_filter: output names to return; all when empty.

        Raises:
            ServingError: INVALID_ARGUMENT for a request that does not fit the signature.
        """
        self.check_input_names(inputs)
        inputs = dict(inputs)
        for name, spec in sorted(self.inputs.items()):
            if name not in inputs and name in self.defaults:
                continue
            if name not in inputs:
                raise invalid(
                    f"missing input {name!r} for signature {self.name!r}, which takes "
                    f"{{{self.describe_inputs()}}}")
        for name in output_filter:
            if name not in self.outputs:
                raise invalid(
                    f"output_filter names {name!r}, which is not an output of signature {self.name!r} "
                    f"(outputs: {sorted(self.outputs)})")
        batch = None
        for name, value in sorted(inputs.items()):
            spec = self.inputs[name]
            if spec.shape is not None:
                if value.ndim != len(spec.shape):
                    raise invalid(
                        f"input {name!r} has shape {list(value.shape)}; signature {self.name!r} expects "
                        f"{spec.describe()}")
                for got, want in zip(value.shape, spec.shape):
                    if want is not None and got != want:
                        raise invalid(
                            f"input {name!r} has shape {list(value.shape)}; signature {self.name!r} "
                            f"expects {spec.describe()}")
            if value.ndim >= 1:
                if batch is None:
                    batch = value.shape[0]
                elif value.shape[0] != batch:
                    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in sorted(inputs.items())}
                    raise invalid(f"inputs disagree on the batch size: {sizes}")
            if spec.dtype == DT_STRING:
                self._check_strings(name, value)
        if batch is not None:
            if batch == 0:
                raise invalid("the request has an empty batch; send at least one caption")
            if batch > self.max_batch_size:
                raise invalid(
                    f"batch of {batch} is over the limit of {self.max_batch_size} rows per request; "
                    f"split it into smaller requests")
        for name, default in self.defaults.items():
            if name not in inputs:
                if default.ndim == 0 and self.inputs[name].shape and batch is not None:
                    default = np.full((batch,) + (1,) * (len(self.inputs[name].shape) - 1), default)
                inputs[name] = default
        if self.batcher is not None and batch is not None:
            outputs = self.batcher.submit(inputs, batch)
        else:
            outputs = self._call(inputs)
        if output_filter:
            outputs = {k: outputs[k] for k in output_filter}
        return outputs

    def _check_strings(self, name: str, value: np.ndarray):
        for index, item in enumerate(value.reshape(-1)):
            where = f"input {name!r} element {index}"
            if not isinstance(item, bytes):
                raise invalid(f"{where} is {type(item).__name__}, expected a string")
            try:
                text = item.decode("utf-8")
            except UnicodeDecodeError as e:
                raise invalid(f"{where} is not valid UTF-8 (byte {e.start}); captions must be UTF-8 text") from None
            if not text.strip():
                raise invalid(f"{where} is an empty caption; send some text")
            if len(text) > self.max_caption_length:
                raise invalid(
                    f"{where} has {len(text)} characters, over the limit of {self.max_caption_length}")

    def _call(self, inputs: dict) -> dict:
        import tensorflow as tf

        tensors = {k: tf.constant(v, dtype=tf.dtypes.as_dtype(self.inputs[k].dtype)) for k, v in inputs.items()}
        try:
            outputs = self.function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise invalid(f"the model rejected the request: {message}") from None
        return {k: v.numpy() for k, v in outputs.items()}


class ServedModel:
    """One version of one model, loaded with `tf.saved_model.load`.

    Args:
        name: model name.
        version: version number (the folder name).
        path: the version folder.
        max_batch_size, max_caption_length, batching: see ServedSignature.
    """

    def __init__(self, name: str, version: int, path: str, max_batch_size: int, max_caption_length: int,
                 batching: Optional[BatchingParameters]):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.name = name
        self.version = version
        self.path = path
        saved_model = saved_model_pb2.SavedModel()
        try:
            with open(os.path.join(path, "saved_model.pb"), "rb") as f:
                saved_model.ParseFromString(f.read())
            self.loaded = tf.saved_model.load(path)
        except Exception as e:  # any failure to read or restore is a bad export
            raise ConfigError(f"cannot load SavedModel {path}: {str(e).strip().splitlines()[0]}") from None
        signature_defs = saved_model.meta_graphs[0].signature_def
        self.signatures = {}
        for key, function in self.loaded.signatures.items():
            if key not in signature_defs:
                continue
            self.signatures[key] = ServedSignature(
                key, signature_defs[key], function, max_batch_size, max_caption_length, batching,
                label=f"{name}/{version}/{key}")
        if not self.signatures:
            raise ConfigError(f"SavedModel {path} has no serving signatures")

    def signature(self, name: str) -> ServedSignature:
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise invalid(
                f"serving signature key {name!r} not found in model {self.name!r} version {self.version}; "
                f"available: {sorted(self.signatures)}")
        return self.signatures[name]

    def signature_def_map(self):
        """The SignatureDefMap reported by GetModelMetadata."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        result = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in sorted(self.signatures.items()):
            result.signature_def[key].CopyFrom(signature.signature_def)
        return result

    def close(self):
        for signature in self.signatures.values():
            if signature.batcher is not None:
                signature.batcher.close()


def find_versions(base_path: str) -> list:
    """Numeric version folders under `base_path` that hold a saved_model.pb, in increasing order.

    Args:
        base_path: a model's base path (`BASE/<model_name>`).

    Raises:
        ConfigError: missing folder, a SavedModel folder given instead of its parent, or no versions.
    """
    if not os.path.isdir(base_path):
        raise ConfigError(f"model base path {base_path} does not exist or is not a folder")
    if os.path.exists(os.path.join(base_path, "saved_model.pb")):
        raise ConfigError(
            f"{base_path} is a SavedModel itself; the base path must be its parent, holding numeric "
            f"version folders (BASE/<model_name>/<version>/saved_model.pb)")
    versions = []
    for entry in os.listdir(base_path):
        if not entry.isdigit():
            continue
        if os.path.exists(os.path.join(base_path, entry, "saved_model.pb")):
            versions.append(int(entry))
        else:
            logger.warning("skipping %s: no saved_model.pb (export still being written?)",
                           os.path.join(base_path, entry))
    if not versions:
        raise ConfigError(
            f"no versions under {base_path}: expected numeric folders holding saved_model.pb, "
            f"as in {os.path.join(base_path, '1', 'saved_model.pb')}")
    return sorted(versions)


class ModelRegistry:
    """The loaded models and their versions; resolves a request's model spec.

    Args:
        configs: list of ModelConfig.
        max_batch_size: most rows per request.
        max_caption_length: most characters per caption.
        batching: BatchingParameters, or None to run each request on its own.
    """

    def __init__(self, configs, max_batch_size: int, max_caption_length: int,
                 batching: Optional[BatchingParameters]):
        self.models: dict = {}
        self.labels: dict = {}
        try:
            for config in configs:
                available = find_versions(config.base_path)
                if config.version_policy == "latest":
                    chosen = available[-config.num_versions:]
                elif config.version_policy == "all":
                    chosen = available
                else:
                    missing = sorted(set(config.versions) - set(available))
                    if missing:
                        raise ConfigError(
                            f"model {config.name}: versions {missing} not found under {config.base_path} "
                            f"(found {available})")
                    chosen = sorted(config.versions)
                self.models[config.name] = {}
                for version in chosen:
                    path = os.path.join(config.base_path, str(version))
                    logger.info("loading %s version %d from %s", config.name, version, path)
                    self.models[config.name][version] = ServedModel(
                        config.name, version, path, max_batch_size, max_caption_length, batching)
                labels = dict(config.version_labels)
                for label, version in labels.items():
                    if version not in self.models[config.name]:
                        raise ConfigError(
                            f"model {config.name}: label {label!r} points at version {version}, which is "
                            f"not loaded (loaded: {sorted(self.models[config.name])})")
                self.labels[config.name] = labels
        except BaseException:
            self.close()
            raise

    def resolve(self, name: str, version: Optional[int] = None, label: str = "") -> ServedModel:
        """Finds the model version a request names (latest when neither version nor label is given).

        Raises:
            ServingError: NOT_FOUND for an unknown model, version or label.
        """
        if name not in self.models:
            raise ServingError(
                "NOT_FOUND", f"servable not found: no model named {name!r} (serving {sorted(self.models)})")
        versions = self.models[name]
        if label:
            if label not in self.labels[name]:
                raise ServingError(
                    "NOT_FOUND", f"model {name!r} has no version label {label!r} "
                    f"(labels: {sorted(self.labels[name])})")
            version = self.labels[name][label]
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise ServingError(
                "NOT_FOUND", f"servable not found: model {name!r} has no loaded version {version} "
                f"(loaded: {sorted(versions)})")
        return versions[version]

    def close(self):
        for versions in self.models.values():
            for model in versions.values():
                model.close()
