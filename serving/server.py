"""A local stand-in for `tensorflow_model_server`: TF Serving's gRPC and REST APIs in Python.

It serves SavedModels exported in TF Serving's layout (`BASE/<model_name>/<version>/`) so
that clients can be developed and tested end to end on a machine where the real server
cannot be installed. It speaks the same protocols as TF Serving:

- gRPC `tensorflow.serving.PredictionService`: `Predict` and `GetModelMetadata` (the other
  methods answer UNIMPLEMENTED);
- REST: `POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict` with `"instances"` (row)
  or `"inputs"` (columnar) JSON, `GET /v1/models/<name>[/versions/<v>]` (status) and
  `GET /v1/models/<name>[/versions/<v>]/metadata`.

Requests are validated as TF Serving validates them, plus checks on captions (every
`DT_STRING` input): unknown model, version or label gives NOT_FOUND (HTTP 404); unknown
signature, missing or extra input, wrong dtype or rank, mismatched or empty batch, a batch
over `max_batch_size`, an empty caption, bytes that are not UTF-8 or a caption over
`max_caption_length` characters give INVALID_ARGUMENT (HTTP 400) with a message. A bad
request never stops the server.

With batching on, concurrent requests for the same signature are queued and merged into
one call of the SavedModel (up to `max_batch_size` rows, waiting at most
`batch_timeout_micros` after the first queued request), then split back; this mirrors
`tensorflow_model_server --enable_batching --batching_parameters_file=...`.

Differences from TF Serving worth knowing: models are loaded once at start (no polling of
the base path for new versions); the batch size limit applies with batching off as well;
and requests are never split across batches.

Example:
    python -m serving.server --model_base_path=/tmp/export/shapes_gan_int_cls \\
        --model_name=shapes_gan_int_cls --grpc_port=8500 --rest_port=8501

    server = ModelServer([ModelConfig("dummy", "/tmp/export/dummy")], grpc_port=0, rest_port=0)
    server.start()   # server.grpc_port / server.rest_port hold the bound ports
    ...
    server.stop()
"""

from __future__ import annotations

import ast
import base64
import collections
import dataclasses
import json
import logging
import os
import re
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import numpy as np

from t2izoo.errors import ConfigError, T2IError

logger = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
DEFAULT_MAX_CAPTION_LENGTH = 10_000
# Largest REST body accepted; bigger requests are refused before being read.
MAX_REST_BODY_BYTES = 64 * 1024 * 1024
# gRPC's 4 MiB default is too small for a batch of 256x256 images.
GRPC_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "NOT_FOUND": 404,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}


class ServingError(T2IError):
    """A request the server refuses, with the canonical status code TF Serving would use.

    Args:
        code: canonical gRPC status name: "INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE",
            "UNIMPLEMENTED", "FAILED_PRECONDITION" or "INTERNAL".
        message: one line saying what was wrong and what was expected.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 500)


def _invalid(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


# --------------------------------------------------------------------------------------
# Text-format configuration files (models.config, batching parameters).
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<punct>[{}:<>\[\],;])
      | (?P<word>[^\s{}:<>\[\],;"'\#]+)""",
    re.VERBOSE,
)


def parse_text_proto(text: str, where: str = "config") -> dict:
    """Parses protobuf text format into nested dicts without needing the message classes.

    Every field maps to a list of values (fields may repeat); a value is a dict for a
    message, or a str/int/float/bool for a scalar. Enough for `models.config` and TF Serving
    batching parameter files.

    Args:
        text: the file's contents.
        where: the file name, used in error messages.

    Returns:
        dict of field name -> list of values.

    Raises:
        ConfigError: on a syntax error, naming the line.
    """
    tokens = []  # (kind, value, line)
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        line = text.count("\n", 0, pos) + 1
        if match is None:
            raise ConfigError(f"{where} line {line}: cannot parse {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        if kind != "space":
            tokens.append((kind, match.group(kind), line))
        pos = match.end()

    index = 0

    def error(message):
        line = tokens[min(index, len(tokens) - 1)][2] if tokens else 1
        return ConfigError(f"{where} line {line}: {message}")

    def scalar(kind, value):
        if kind == "string":
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise error(f"bad string literal {value}") from None
        if value in ("true", "True"):
            return True
        if value in ("false", "False"):
            return False
        for cast in (int, float):
            try:
                return cast(value)
            except ValueError:
                pass
        return value  # an enum identifier

    def message(closing):
        nonlocal index
        fields: dict = {}
        while True:
            if index >= len(tokens):
                if closing is None:
                    return fields
                raise error(f"missing '{closing}' at end of file")
            kind, value, _ = tokens[index]
            if kind == "punct" and value == closing:
                index += 1
                return fields
            if kind == "punct" and value in ",;":
                index += 1
                continue
            if kind != "word":
                raise error(f"expected a field name, found {value!r}")
            name = value
            index += 1
            if index < len(tokens) and tokens[index][1] == ":":
                index += 1
            if index >= len(tokens):
                raise error(f"field {name!r} has no value")
            kind, value, _ = tokens[index]
            if kind == "punct" and value in "{<":
                index += 1
                fields.setdefault(name, []).append(message("}" if value == "{" else ">"))
            elif kind == "punct" and value == "[":
                index += 1
                while tokens[index][1] != "]":
                    if tokens[index][1] != ",":
                        fields.setdefault(name, []).append(scalar(*tokens[index][:2]))
                    index += 1
                    if index >= len(tokens):
                        raise error(f"missing ']' for field {name!r}")
                index += 1
            elif kind in ("word", "string"):
                fields.setdefault(name, []).append(scalar(kind, value))
                index += 1
            else:
                raise error(f"unexpected {value!r} after field {name!r}")

    return message(None)


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None


def _single(fields: dict, name: str, where: str, default=None, message: bool = False):
    values = fields.get(name, [])
    if len(values) > 1:
        raise ConfigError(f"{where}: field {name!r} given {len(values)} times")
    if not values:
        return default
    value = values[0]
    if isinstance(value, dict) and not message:  # a wrapper message such as `max_batch_size { value: 8 }`
        if set(value) != {"value"}:
            raise ConfigError(f"{where}: field {name!r} should be `{name} {{ value: ... }}`")
        value = value["value"][0]
    return value


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """How concurrent requests are merged, as in TF Serving's `--batching_parameters_file`.

    Args:
        max_batch_size: most rows in one call of the model; a single request with more rows
            is refused with INVALID_ARGUMENT.
        batch_timeout_micros: longest wait, from the first queued request, for more requests
            to fill a batch.
        num_batch_threads: batches run in parallel.
        max_enqueued_batches: queued rows beyond `max_enqueued_batches * max_batch_size` are
            refused with UNAVAILABLE.
        allowed_batch_sizes: optional increasing sizes ending in `max_batch_size`; a batch is
            padded (repeating its last row) up to the next allowed size.
    """

    max_batch_size: int = 32
    batch_timeout_micros: int = 5_000
    num_batch_threads: int = 2
    max_enqueued_batches: int = 100
    allowed_batch_sizes: tuple = ()

    def __post_init__(self):
        for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"batching parameter {name} must be a positive integer, got {value!r}")
        if (not isinstance(self.batch_timeout_micros, int) or isinstance(self.batch_timeout_micros, bool)
                or self.batch_timeout_micros < 0):
            raise ConfigError(
                f"batching parameter batch_timeout_micros must be >= 0, got {self.batch_timeout_micros!r}")
        sizes = tuple(self.allowed_batch_sizes)
        object.__setattr__(self, "allowed_batch_sizes", sizes)
        if sizes:
            if any(not isinstance(s, int) or s < 1 for s in sizes) or list(sizes) != sorted(set(sizes)):
                raise ConfigError(f"allowed_batch_sizes must be increasing positive integers, got {list(sizes)}")
            if sizes[-1] != self.max_batch_size:
                raise ConfigError(
                    f"the last of allowed_batch_sizes ({sizes[-1]}) must equal max_batch_size "
                    f"({self.max_batch_size})")

    _KNOWN = ("max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches",
              "allowed_batch_sizes")
    # Valid in TF Serving's file but without effect here.
    _IGNORED = ("pad_variable_length_inputs", "enable_large_batch_splitting", "max_execution_batch_size",
                "thread_pool_name", "batch_padding_policy")

    @classmethod
    def from_text(cls, text: str, where: str = "batching parameters") -> "BatchingParameters":
        """Parses TF Serving's batching parameters text proto.

        Args:
            text: e.g. "max_batch_size { value: 32 } batch_timeout_micros { value: 5000 }".
            where: file name for error messages.
        """
        fields = parse_text_proto(text, where)
        unknown = sorted(set(fields) - set(cls._KNOWN) - set(cls._IGNORED))
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown}; expected some of {list(cls._KNOWN)}")
        kwargs = {}
        for name in cls._KNOWN[:-1]:
            value = _single(fields, name, where)
            if value is not None:
                kwargs[name] = value
        if "allowed_batch_sizes" in fields:
            kwargs["allowed_batch_sizes"] = tuple(fields["allowed_batch_sizes"])
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str) -> "BatchingParameters":
        """Reads a batching parameters file (see `from_text`).

        Args:
            path: file path.
        """
        return cls.from_text(_read_text(path, "batching parameters file"), where=path)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One served model, as a `config { ... }` entry of TF Serving's models.config.

    Args:
        name: model name used in requests.
        base_path: folder holding numeric version folders, each a SavedModel.
        version_policy: "latest" (the `num_versions` highest), "all" or "specific".
        num_versions: for "latest".
        versions: for "specific".
        version_labels: label -> version, e.g. {"stable": 1}.
    """

    name: str
    base_path: str
    version_policy: str = "latest"
    num_versions: int = 1
    versions: tuple = ()
    version_labels: tuple = ()  # (label, version) pairs; a dict is accepted too

    def __post_init__(self):
        if not self.name or "/" in self.name or ":" in self.name:
            raise ConfigError(f"model name must be non-empty without '/' or ':', got {self.name!r}")
        if self.version_policy not in ("latest", "all", "specific"):
            raise ConfigError(
                f"model {self.name}: version policy must be latest, all or specific, got {self.version_policy!r}")
        if self.version_policy == "latest" and self.num_versions < 1:
            raise ConfigError(f"model {self.name}: num_versions must be >= 1, got {self.num_versions}")
        if self.version_policy == "specific" and not self.versions:
            raise ConfigError(f"model {self.name}: the specific version policy needs at least one version")
        labels = self.version_labels
        if isinstance(labels, dict):
            labels = tuple(sorted(labels.items()))
        object.__setattr__(self, "version_labels", tuple(labels))
        object.__setattr__(self, "versions", tuple(int(v) for v in self.versions))


def load_model_config(path: str) -> list:
    """Reads TF Serving's `--model_config_file` (a `model_config_list` text proto).

    Relative base paths are taken relative to the working directory, as TF Serving does.

    Args:
        path: the models.config file.

    Returns:
        list of ModelConfig.

    Raises:
        ConfigError: unreadable file, syntax error, missing name/base_path, bad version policy.
    """
    fields = parse_text_proto(_read_text(path, "model config file"), where=path)
    lists = fields.get("model_config_list", [])
    if len(lists) != 1 or set(fields) != {"model_config_list"}:
        raise ConfigError(f"{path}: expected one `model_config_list {{ config {{ ... }} }}` block")
    configs = []
    for entry in lists[0].get("config", []):
        where = f"{path}: config {entry.get('name', ['?'])[0]!r}"
        name = _single(entry, "name", where)
        base_path = _single(entry, "base_path", where)
        if not name or not base_path:
            raise ConfigError(f"{where}: every config needs name and base_path")
        platform = _single(entry, "model_platform", where, "tensorflow")
        if platform != "tensorflow":
            raise ConfigError(f"{where}: model_platform must be 'tensorflow', got {platform!r}")
        kwargs: dict = {}
        policy = _single(entry, "model_version_policy", where, message=True)
        if policy:
            if len(policy) != 1:
                raise ConfigError(f"{where}: model_version_policy takes one of latest, all, specific")
            (kind, (body,)), = policy.items()
            kwargs["version_policy"] = kind
            if kind == "latest":
                kwargs["num_versions"] = int(_single(body, "num_versions", where, 1))
            elif kind == "specific":
                kwargs["versions"] = tuple(body.get("versions", []))
        labels = {}
        for label in entry.get("version_labels", []):
            labels[_single(label, "key", where)] = int(_single(label, "value", where))
        kwargs["version_labels"] = labels
        configs.append(ModelConfig(name=name, base_path=base_path, **kwargs))
    if not configs:
        raise ConfigError(f"{path}: model_config_list has no config entries")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: model names must be unique, got {names}")
    return configs


# --------------------------------------------------------------------------------------
# Loaded models and signatures.
# --------------------------------------------------------------------------------------


def _dtype_name(enum: int) -> str:
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(enum)


def _numpy_dtype(enum: int):
    import tensorflow as tf

    return tf.dtypes.as_dtype(enum).as_numpy_dtype


class _TensorSpec:
    """dtype (DataType enum) and shape (tuple with None for unknown dims, or None) of one input/output."""

    def __init__(self, info):
        self.dtype = info.dtype
        shape = info.tensor_shape
        self.shape = None if shape.unknown_rank else tuple(
            None if d.size < 0 else d.size for d in shape.dim)

    def describe(self) -> str:
        shape = "?" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
        return f"{_dtype_name(self.dtype)}{shape}"


@dataclasses.dataclass
class _TaskSlot:
    """One request waiting in a batch queue."""

    inputs: dict
    size: int
    key: tuple
    enqueued: float
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: Optional[dict] = None
    error: Optional[ServingError] = None


class _Batcher:
    """Merges concurrent requests to one signature into batched calls (TF Serving's BasicBatchScheduler).

    Args:
        run: callable taking a dict of stacked numpy inputs and returning a dict of numpy outputs.
        params: BatchingParameters.
        name: for logs and thread names.
    """

    def __init__(self, run, params: BatchingParameters, name: str):
        self.run = run
        self.params = params
        self.name = name
        self._queue: collections.deque = collections.deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self.batches_run = 0
        self.requests_run = 0
        self.largest_batch_requests = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{name}-{i}", daemon=True)
            for i in range(params.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs: dict, size: int) -> dict:
        """Queues one request and blocks until its rows of the batched outputs are ready."""
        key = tuple(sorted((k, v.shape[1:]) for k, v in inputs.items()))
        task = _TaskSlot(inputs=inputs, size=size, key=key, enqueued=time.monotonic())
        limit = self.params.max_enqueued_batches * self.params.max_batch_size
        with self._cond:
            if self._closed:
                raise ServingError("UNAVAILABLE", "the server is shutting down")
            if self._queued_rows + size > limit:
                raise ServingError(
                    "UNAVAILABLE",
                    f"the batch queue for {self.name} is full ({self._queued_rows} rows waiting); retry later")
            self._queue.append(task)
            self._queued_rows += size
            self._cond.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def _take_batch(self) -> list:
        """Waits for a first task, then until the batch is full or its timeout passes (lock held)."""
        while not self._queue:
            if self._closed:
                return []
            self._cond.wait()
        first = self._queue[0]
        deadline = first.enqueued + self.params.batch_timeout_micros / 1e6
        max_rows = self.params.max_batch_size
        while not self._closed:
            rows = sum(t.size for t in self._queue if t.key == first.key)
            remaining = deadline - time.monotonic()
            if rows >= max_rows or remaining <= 0:
                break
            self._cond.wait(remaining)
        batch, rows, kept = [], 0, collections.deque()
        for task in self._queue:
            if task.key == first.key and rows + task.size <= max_rows:
                batch.append(task)
                rows += task.size
            else:
                kept.append(task)
        self._queue = kept
        self._queued_rows -= rows
        return batch

    def _work(self):
        while True:
            with self._cond:
                batch = self._take_batch()
                if not batch:
                    return
                self.batches_run += 1
                self.requests_run += len(batch)
                self.largest_batch_requests = max(self.largest_batch_requests, len(batch))
            try:
                self._run_batch(batch)
            except ServingError as e:
                for task in batch:
                    task.error = e
            except Exception as e:  # keep the worker alive whatever the model does
                logger.exception("batch for %s failed", self.name)
                for task in batch:
                    task.error = ServingError("INTERNAL", f"model execution failed: {e}")
            finally:
                for task in batch:
                    task.done.set()

    def _run_batch(self, batch: list):
        rows = sum(t.size for t in batch)
        padded = rows
        for size in self.params.allowed_batch_sizes:
            if size >= rows:
                padded = size
                break
        names = list(batch[0].inputs)
        inputs = {}
        for name in names:
            parts = [t.inputs[name] for t in batch]
            if padded > rows:
                parts.append(np.repeat(parts[-1][-1:], padded - rows, axis=0))
            inputs[name] = np.concatenate(parts, axis=0)
        outputs = self.run(inputs)
        for name, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != padded:
                raise ServingError(
                    "INTERNAL",
                    f"output {name!r} has shape {list(value.shape)}; batching needs a leading batch "
                    f"dimension of {padded}")
        start = 0
        for task in batch:
            task.outputs = {k: v[start:start + task.size] for k, v in outputs.items()}
            start += task.size

    def close(self):
        """Stops the workers; requests still queued fail with UNAVAILABLE."""
        with self._cond:
            self._closed = True
            pending = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for task in pending:
            task.error = ServingError("UNAVAILABLE", "the server is shutting down")
            task.done.set()
        for thread in self._threads:
            thread.join(timeout=5)


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
        self.inputs = {k: _TensorSpec(v) for k, v in signature_def.inputs.items()}
        self.outputs = {k: _TensorSpec(v) for k, v in signature_def.outputs.items()}
        self.defaults = {k: tf.make_ndarray(v) for k, v in signature_def.defaults.items()}
        batchable = all(s.shape for s in self.inputs.values())  # known rank >= 1 everywhere
        self.batcher = _Batcher(self._call, batching, label) if batching and batchable else None

    def describe_inputs(self) -> str:
        return ", ".join(f"{k}: {s.describe()}" for k, s in sorted(self.inputs.items()))

    def check_input_names(self, names) -> None:
        """INVALID_ARGUMENT for an input the signature does not take."""
        for name in names:
            if name not in self.inputs:
                raise _invalid(
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
                raise _invalid(
                    f"missing input {name!r} for signature {self.name!r}, which takes "
                    f"{{{self.describe_inputs()}}}")
        for name in output_filter:
            if name not in self.outputs:
                raise _invalid(
                    f"output_filter names {name!r}, which is not an output of signature {self.name!r} "
                    f"(outputs: {sorted(self.outputs)})")
        batch = None
        for name, value in sorted(inputs.items()):
            spec = self.inputs[name]
            if spec.shape is not None:
                if value.ndim != len(spec.shape):
                    raise _invalid(
                        f"input {name!r} has shape {list(value.shape)}; signature {self.name!r} expects "
                        f"{spec.describe()}")
                for got, want in zip(value.shape, spec.shape):
                    if want is not None and got != want:
                        raise _invalid(
                            f"input {name!r} has shape {list(value.shape)}; signature {self.name!r} "
                            f"expects {spec.describe()}")
            if value.ndim >= 1:
                if batch is None:
                    batch = value.shape[0]
                elif value.shape[0] != batch:
                    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in sorted(inputs.items())}
                    raise _invalid(f"inputs disagree on the batch size: {sizes}")
            if spec.dtype == _DT_STRING:
                self._check_strings(name, value)
        if batch is not None:
            if batch == 0:
                raise _invalid("the request has an empty batch; send at least one caption")
            if batch > self.max_batch_size:
                raise _invalid(
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
                raise _invalid(f"{where} is {type(item).__name__}, expected a string")
            try:
                text = item.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _invalid(f"{where} is not valid UTF-8 (byte {e.start}); captions must be UTF-8 text") from None
            if not text.strip():
                raise _invalid(f"{where} is an empty caption; send some text")
            if len(text) > self.max_caption_length:
                raise _invalid(
                    f"{where} has {len(text)} characters, over the limit of {self.max_caption_length}")

    def _call(self, inputs: dict) -> dict:
        import tensorflow as tf

        tensors = {k: tf.constant(v, dtype=tf.dtypes.as_dtype(self.inputs[k].dtype)) for k, v in inputs.items()}
        try:
            outputs = self.function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise _invalid(f"the model rejected the request: {message}") from None
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
            raise _invalid(
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


_DT_STRING = 7  # types_pb2.DT_STRING, kept literal so the hot path avoids a lookup


# --------------------------------------------------------------------------------------
# gRPC front end.
# --------------------------------------------------------------------------------------


def _make_servicer(registry: ModelRegistry):
    import grpc
    import tensorflow as tf
    from google.protobuf import wrappers_pb2
    from tensorflow_serving.apis import (get_model_metadata_pb2, model_pb2, predict_pb2,
                                         prediction_service_pb2_grpc)

    codes = {
        "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
        "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
        "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
        "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
        "INTERNAL": grpc.StatusCode.INTERNAL,
    }

    def resolve(spec):
        version = spec.version.value if spec.HasField("version") else None
        return registry.resolve(spec.name, version, spec.version_label)

    def response_spec(model, signature_name):
        return model_pb2.ModelSpec(name=model.name, version=wrappers_pb2.Int64Value(value=model.version),
                                   signature_name=signature_name)

    class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        """TF Serving's PredictionService over a ModelRegistry."""

        def Predict(self, request, context):
            try:
                model = resolve(request.model_spec)
                signature = model.signature(request.model_spec.signature_name)
                signature.check_input_names(request.inputs)
                inputs = {}
                for name, proto in request.inputs.items():
                    want = signature.inputs[name].dtype
                    if proto.dtype != want:
                        raise _invalid(
                            f"input {name!r} has dtype {_dtype_name(proto.dtype)}; signature "
                            f"{signature.name!r} expects {_dtype_name(want)}")
                    try:
                        inputs[name] = tf.make_ndarray(proto)
                    except Exception as e:
                        raise _invalid(f"input {name!r} is not a valid TensorProto: {e}") from None
                outputs = signature.predict(inputs, tuple(request.output_filter))
                response = predict_pb2.PredictResponse(model_spec=response_spec(model, signature.name))
                for name, value in outputs.items():
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
                return response
            except ServingError as e:
                context.abort(codes[e.code], e.message)
            except Exception as e:  # answer INTERNAL rather than gRPC's opaque UNKNOWN
                logger.exception("Predict failed")
                context.abort(grpc.StatusCode.INTERNAL, f"internal error: {e}")

        def GetModelMetadata(self, request, context):
            try:
                model = resolve(request.model_spec)
                fields = list(request.metadata_field)
                if not fields:
                    raise _invalid("GetModelMetadataRequest must name at least one metadata_field "
                                   "(the only one supported is 'signature_def')")
                for field in fields:
                    if field != "signature_def":
                        raise _invalid(f"metadata field {field!r} is not supported; use 'signature_def'")
                response = get_model_metadata_pb2.GetModelMetadataResponse(
                    model_spec=response_spec(model, ""))
                response.metadata["signature_def"].Pack(model.signature_def_map())
                return response
            except ServingError as e:
                context.abort(codes[e.code], e.message)

    return PredictionServicer()


# --------------------------------------------------------------------------------------
# REST front end.
# --------------------------------------------------------------------------------------

_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[A-Za-z]+)|/(?P<metadata>metadata))?$")

def _json_leaf(value, dtype: int, where: str):
    """One JSON scalar converted to the signature dtype."""
    if dtype == _DT_STRING:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise _invalid(f"{where}: a binary string must be written {{\"b64\": \"...\"}}")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise _invalid(f"{where}: {{\"b64\": ...}} is not valid base64") from None
        if not isinstance(value, str):
            raise _invalid(f"{where}: expected a string (DT_STRING), got {json.dumps(value)[:40]}")
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise _invalid(f"{where} is not valid UTF-8 (lone surrogate escape); captions must be UTF-8 text") from None
    np_dtype = np.dtype(_numpy_dtype(dtype))
    name = _dtype_name(dtype)
    if np_dtype == np.bool_:
        if not isinstance(value, bool):
            raise _invalid(f"{where}: expected true or false ({name}), got {json.dumps(value)[:40]}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"{where}: expected a number ({name}), got {json.dumps(value)[:40]}")
    if np.issubdtype(np_dtype, np.integer):
        if isinstance(value, float) and not value.is_integer():
            raise _invalid(f"{where}: expected an integer ({name}), got {value}")
        info = np.iinfo(np_dtype)
        if not info.min <= value <= info.max:
            raise _invalid(f"{where}: {value} is out of range for {name}")
        return int(value)
    if np.issubdtype(np_dtype, np.floating) or np.issubdtype(np_dtype, np.complexfloating):
        return value
    raise _invalid(f"{where}: dtype {name} cannot be sent as JSON")


def _json_to_array(value, spec: _TensorSpec, name: str) -> np.ndarray:
    """A (nested) JSON list converted to a numpy array of the signature's dtype."""
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    leaves = []

    def walk(item, depth, where):
        if depth == len(shape):
            if isinstance(item, list):
                raise _invalid(f"input {name!r} is a ragged list at {where}; every row needs the same shape")
            leaves.append(_json_leaf(item, spec.dtype, f"input {name!r} element {where}"))
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            raise _invalid(f"input {name!r} is a ragged list at {where}; every row needs the same shape")
        for i, child in enumerate(item):
            walk(child, depth + 1, f"{where}[{i}]")

    walk(value, 0, "")
    if spec.dtype == _DT_STRING:
        array = np.empty(len(leaves), dtype=object)
        array[:] = leaves
    else:
        array = np.array(leaves, dtype=_numpy_dtype(spec.dtype))
    return array.reshape(shape)


def _array_to_json(value: np.ndarray, name: str):
    """Output tensor -> JSON (nested lists; strings UTF-8, or {"b64"} for '*_bytes' outputs or non-text)."""
    if value.dtype == object:
        def convert(item):
            if isinstance(item, bytes):
                if not name.endswith("_bytes"):
                    try:
                        return item.decode("utf-8")
                    except UnicodeDecodeError:
                        pass
                return {"b64": base64.b64encode(item).decode("ascii")}
            return item

        return np.vectorize(convert, otypes=[object])(value).tolist() if value.size else value.tolist()
    return value.tolist()


def _rest_predict(registry: ModelRegistry, name, version, label, body: bytes) -> dict:
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise _invalid(f"JSON parse error: {e}") from None
    if not isinstance(request, dict):
        raise _invalid("the request body must be a JSON object with \"instances\" or \"inputs\"")
    model = registry.resolve(name, version, label)
    signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature_name, str):
        raise _invalid("signature_name must be a string")
    signature = model.signature(signature_name)
    unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise _invalid(f"unknown key(s) {unknown} in the request; expected signature_name and instances or inputs")
    if ("instances" in request) == ("inputs" in request):
        raise _invalid("the request must have exactly one of \"instances\" (row format) or \"inputs\" (columnar)")

    def is_named(obj):
        return isinstance(obj, dict) and set(obj) != {"b64"}

    only_input = next(iter(signature.inputs)) if len(signature.inputs) == 1 else None
    columns = {}
    if "instances" in request:
        rows = request["instances"]
        if not isinstance(rows, list) or not rows:
            raise _invalid("\"instances\" must be a non-empty list, one entry per example")
        if rows and all(is_named(r) for r in rows):
            keys = set(rows[0])
            for i, row in enumerate(rows):
                if set(row) != keys:
                    raise _invalid(f"instance {i} has keys {sorted(row)}, instance 0 has {sorted(keys)}; "
                                   f"every instance needs the same named inputs")
            columns = {k: [row[k] for row in rows] for k in keys}
        elif any(is_named(r) for r in rows):
            raise _invalid("instances mix named objects and plain values")
        elif only_input is not None:
            columns = {only_input: rows}
        else:
            raise _invalid(
                f"signature {signature.name!r} takes several inputs ({signature.describe_inputs()}); each "
                f"instance must be an object naming them")
        row_format = True
    else:
        value = request["inputs"]
        if is_named(value):
            columns = value
        elif only_input is not None:
            columns = {only_input: value}
        else:
            raise _invalid(
                f"signature {signature.name!r} takes several inputs ({signature.describe_inputs()}); \"inputs\" "
                f"must be an object naming them")
        row_format = False
    signature.check_input_names(columns)
    inputs = {k: _json_to_array(v, signature.inputs[k], k) for k, v in columns.items()}
    outputs = signature.predict(inputs)
    if row_format:
        batch = {v.shape[0] for v in outputs.values() if v.ndim}
        if len(outputs) == 1:
            (out_name, value), = outputs.items()
            return {"predictions": _array_to_json(value, out_name)}
        if len(batch) != 1:
            raise ServingError("INTERNAL", "outputs disagree on the batch size; use the columnar \"inputs\" format")
        per_output = {k: _array_to_json(v, k) for k, v in outputs.items()}
        return {"predictions": [{k: per_output[k][i] for k in outputs} for i in range(batch.pop())]}
    if len(outputs) == 1:
        (out_name, value), = outputs.items()
        return {"outputs": _array_to_json(value, out_name)}
    return {"outputs": {k: _array_to_json(v, k) for k, v in outputs.items()}}


def _rest_status(registry: ModelRegistry, name, version) -> dict:
    registry.resolve(name, version)  # NOT_FOUND as TF Serving
    versions = [version] if version is not None else sorted(registry.models[name], reverse=True)
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions]}


def _rest_metadata(registry: ModelRegistry, name, version, label) -> dict:
    from google.protobuf import json_format

    model = registry.resolve(name, version, label)
    return {
        "model_spec": {"name": model.name, "signature_name": "", "version": str(model.version)},
        "metadata": {"signature_def": json_format.MessageToDict(
            model.signature_def_map(), preserving_proto_field_name=True)},
    }


def _make_handler(registry: ModelRegistry):
    class Handler(BaseHTTPRequestHandler):
        """TF Serving's REST API (predict, model status, metadata)."""

        protocol_version = "HTTP/1.1"
        server_version = "t2izoo-model-server"

        def log_message(self, format, *args):  # route access logs to logging, not stderr
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, payload: dict):
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self, method: str):
            match = _REST_PATH.match(self.path.split("?", 1)[0])
            if match is None:
                raise _invalid(f"malformed request: {method} {self.path}; expected /v1/models/<name>"
                               f"[/versions/<version>][:predict|/metadata]")
            version = match.group("version")
            if version is not None:
                if not version.isdigit():
                    raise _invalid(f"version must be a number, got {version!r}")
                version = int(version)
            return match, version, match.group("label") or ""

        def _handle(self, method: str):
            body = b""
            try:
                if method == "POST":
                    try:
                        length = int(self.headers.get("Content-Length") or 0)
                    except ValueError:
                        length = -1
                    if length < 0 or length > MAX_REST_BODY_BYTES:
                        self.close_connection = True
                        raise _invalid(f"request body must be 0 to {MAX_REST_BODY_BYTES} bytes with a Content-Length")
                    body = self.rfile.read(length)
                match, version, label = self._route(method)
                name, verb = match.group("name"), match.group("verb")
                if method == "GET" and verb is None:
                    if match.group("metadata"):
                        payload = _rest_metadata(registry, name, version, label)
                    elif label:
                        raise _invalid("model status takes a version, not a label")
                    else:
                        payload = _rest_status(registry, name, version)
                elif method == "POST" and verb == "predict" and not match.group("metadata"):
                    payload = _rest_predict(registry, name, version, label, body)
                elif method == "POST" and verb in ("classify", "regress"):
                    raise ServingError("UNIMPLEMENTED", f"{verb} is not implemented by this server; use predict")
                else:
                    raise _invalid(f"malformed request: {method} {self.path}")
                self._send(200, payload)
            except ServingError as e:
                self._send(e.http_status, {"error": e.message})
            except Exception as e:  # never let one request take the handler down silently
                logger.exception("REST request %s %s failed", method, self.path)
                self._send(500, {"error": f"internal error: {e}"})

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler


# --------------------------------------------------------------------------------------
# The server.
# --------------------------------------------------------------------------------------


class ModelServer:
    """TF Serving's gRPC and REST APIs over SavedModels, for development and tests.

    Args:
        models: list of ModelConfig (see `load_model_config` for a models.config file).
        grpc_port: gRPC port; 0 picks a free one, None disables gRPC.
        rest_port: REST port; 0 picks a free one, None disables REST.
        host: interface to bind, "127.0.0.1" (loopback) by default.
        batching: BatchingParameters; its max_batch_size also limits each request.
        enable_batching: merge concurrent requests into one model call.
        max_caption_length: most characters in one caption (any DT_STRING input element).
        grpc_workers: threads answering gRPC calls (requests waiting in a batch hold one).

    Example:
        server = ModelServer([ModelConfig("shapes", "/tmp/export/shapes")], grpc_port=0, rest_port=0)
        with server:
            print(server.grpc_port, server.rest_port)
    """

    def __init__(self, models, grpc_port: Optional[int] = 8500, rest_port: Optional[int] = 8501,
                 host: str = "127.0.0.1", batching: Optional[BatchingParameters] = None,
                 enable_batching: bool = True, max_caption_length: int = DEFAULT_MAX_CAPTION_LENGTH,
                 grpc_workers: int = 32):
        if grpc_port is None and rest_port is None:
            raise ConfigError("enable at least one of the gRPC and REST ports")
        if max_caption_length < 1:
            raise ConfigError(f"max_caption_length must be >= 1, got {max_caption_length}")
        self.models = list(models)
        self.host = host
        self.grpc_port = grpc_port
        self.rest_port = rest_port
        self.batching = batching or BatchingParameters()
        self.enable_batching = enable_batching
        self.max_caption_length = max_caption_length
        self.grpc_workers = grpc_workers
        self.registry: Optional[ModelRegistry] = None
        self._grpc_server = None
        self._httpd = None
        self._http_thread = None

    def start(self) -> "ModelServer":
        """Loads the models and starts listening; sets `grpc_port`/`rest_port` to the bound ports.

        Raises:
            ConfigError: a model cannot be loaded or a port cannot be bound.
        """
        for config in self.models:  # fail fast on a bad path, before importing TensorFlow
            find_versions(config.base_path)
        self.registry = ModelRegistry(
            self.models, max_batch_size=self.batching.max_batch_size,
            max_caption_length=self.max_caption_length,
            batching=self.batching if self.enable_batching else None)
        try:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            if self.grpc_port is not None:
                server = grpc.server(
                    futures.ThreadPoolExecutor(max_workers=self.grpc_workers, thread_name_prefix="grpc"),
                    options=[("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                             ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
                             ("grpc.so_reuseport", 0)])
                prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
                    _make_servicer(self.registry), server)
                address = f"[{self.host}]:{self.grpc_port}" if ":" in self.host else f"{self.host}:{self.grpc_port}"
                try:
                    port = server.add_insecure_port(address)
                except RuntimeError:
                    port = 0
                if not port:
                    raise ConfigError(f"cannot listen for gRPC on {address} (port in use?)")
                server.start()
                self._grpc_server, self.grpc_port = server, port
            if self.rest_port is not None:
                try:
                    httpd = ThreadingHTTPServer((self.host, self.rest_port), _make_handler(self.registry))
                except OSError as e:
                    raise ConfigError(f"cannot listen for REST on {self.host}:{self.rest_port}: {e.strerror}") from None
                httpd.daemon_threads = True
                self._httpd, self.rest_port = httpd, httpd.server_address[1]
                self._http_thread = threading.Thread(target=httpd.serve_forever, name="rest", daemon=True)
                self._http_thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def batch_stats(self) -> dict:
        """Per "model/version/signature": batches run, requests run and most requests in one batch."""
        stats = {}
        for versions in (self.registry.models.values() if self.registry else ()):
            for model in versions.values():
                for signature in model.signatures.values():
                    if signature.batcher is not None:
                        b = signature.batcher
                        stats[signature.label] = {"batches": b.batches_run, "requests": b.requests_run,
                                                  "largest_batch_requests": b.largest_batch_requests}
        return stats

    def stop(self, grace: float = 1.0) -> None:
        """Stops listening and releases the models; safe to call twice."""
        if self._grpc_server is not None:
            self._grpc_server.stop(grace).wait()
            self._grpc_server = None
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._http_thread.join(timeout=5)
            self._httpd = None
        if self.registry is not None:
            self.registry.close()
            self.registry = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------


def _define_flags():
    from absl import flags

    flags.DEFINE_string("model_base_path", None,
                        "Base path of one model: holds numeric version folders (BASE/<model_name>).")
    flags.DEFINE_string("model_name", "default", "Name of the model given by --model_base_path.")
    flags.DEFINE_string("model_config_file", None,
                        "TF Serving models.config (model_config_list) instead of --model_base_path.")
    flags.DEFINE_integer("grpc_port", 8500, "gRPC port; 0 disables gRPC.", lower_bound=0, upper_bound=65535)
    flags.DEFINE_integer("rest_port", 8501, "REST port; 0 disables REST.", lower_bound=0, upper_bound=65535)
    flags.DEFINE_alias("port", "grpc_port")
    flags.DEFINE_alias("rest_api_port", "rest_port")
    flags.DEFINE_string("host", "127.0.0.1", "Interface to bind; 0.0.0.0 for every interface.")
    flags.DEFINE_boolean("enable_batching", True, "Merge concurrent requests into one model call.")
    flags.DEFINE_string("batching_parameters_file", None, "TF Serving batching parameters text proto.")
    flags.DEFINE_integer("max_caption_length", DEFAULT_MAX_CAPTION_LENGTH,
                         "Most characters in one caption.", lower_bound=1)
    flags.register_multi_flags_validator(
        ["model_base_path", "model_config_file"],
        lambda f: (f["model_base_path"] is None) != (f["model_config_file"] is None),
        message="give exactly one of --model_base_path and --model_config_file")
    flags.register_multi_flags_validator(
        ["grpc_port", "rest_port"], lambda f: f["grpc_port"] or f["rest_port"],
        message="--grpc_port and --rest_port cannot both be 0")
    return flags.FLAGS


def main(argv) -> int:
    """Runs the server until interrupted (Ctrl-C or SIGTERM)."""
    import signal
    import sys

    del argv
    flags_ = FLAGS
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if flags_.model_config_file:
            models = load_model_config(flags_.model_config_file)
        else:
            models = [ModelConfig(flags_.model_name, flags_.model_base_path)]
        batching = (BatchingParameters.from_file(flags_.batching_parameters_file)
                    if flags_.batching_parameters_file else BatchingParameters())
        server = ModelServer(models, grpc_port=flags_.grpc_port or None, rest_port=flags_.rest_port or None,
                             host=flags_.host, batching=batching, enable_batching=flags_.enable_batching,
                             max_caption_length=flags_.max_caption_length)
        server.start()
    except T2IError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for name, versions in server.registry.models.items():
        for version, model in sorted(versions.items()):
            print(f"serving {name} version {version} from {model.path}: signatures {sorted(model.signatures)}",
                  flush=True)
    if server.grpc_port:
        print(f"gRPC PredictionService on {server.host}:{server.grpc_port}", flush=True)
    if server.rest_port:
        print(f"REST API on http://{server.host}:{server.rest_port}/v1/models/<name>", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    from absl import app

    FLAGS = _define_flags()
    app.run(main)
