"""Request batching, as `tensorflow_model_server --enable_batching --batching_parameters_file=...`.

`BatchingParameters` reads TF Serving's batching parameters file. Its message
(`tensorflow.serving.BatchingParameters`, session_bundle_config.proto) is not compiled into
the tensorflow-serving-api package, so a small text-format reader (`parse_text_proto`) reads
this one file; models.config goes through TF Serving's own parser (`serving.model_config`).

`Batcher` merges concurrent requests to one signature into one call of the model (up to
`max_batch_size` rows, waiting at most `batch_timeout_micros` after the first queued request),
then splits the outputs back, as TF Serving's BasicBatchScheduler does.

Example:
    params = BatchingParameters.from_file("export/batching.config")
    batcher = Batcher(run, params, "shapes/1/serving_default")   # run: dict of numpy -> dict
    outputs = batcher.submit({"captions": captions}, size=len(captions))
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import logging
import re
import threading
import time
from typing import Optional

import numpy as np

from serving.model_config import read_config_file
from serving.protocol import ServingError
from t2izoo.errors import ConfigError

logger = logging.getLogger(__name__)

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
    message, or a str/int/float/bool for a scalar. Enough for TF Serving's batching parameters
    file, whose message class tensorflow-serving-api does not ship.

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


def _single(fields: dict, name: str, where: str):
    """The one value of a scalar field (unwrapping `name { value: ... }`), or None when absent."""
    values = fields.get(name, [])
    if len(values) > 1:
        raise ConfigError(f"{where}: field {name!r} given {len(values)} times")
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict):  # a wrapper message such as `max_batch_size { value: 8 }`
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
        return cls.from_text(read_config_file(path, "batching parameters file"), where=path)


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


class Batcher:
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
