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

The pieces: `serving.model_config` (models.config), `serving.batching` (batching parameters
and the batch scheduler), `serving.registry` (loaded models, request validation),
`serving.grpc_server` and `serving.rest_server` (the two front ends); this module starts
them together (`ModelServer`) and is the command line.

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

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import logging
import threading
from typing import Optional

from serving.batching import BatchingParameters
from serving.grpc_server import start_grpc_server
from serving.model_config import ModelConfig, load_model_config
from serving.registry import ModelRegistry, find_versions
from serving.rest_server import RestServer
from t2izoo.errors import ConfigError, T2IError

DEFAULT_MAX_CAPTION_LENGTH = 10_000


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
        self._rest_server: Optional[RestServer] = None

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
            if self.grpc_port is not None:
                self._grpc_server, self.grpc_port = start_grpc_server(
                    self.registry, self.host, self.grpc_port, self.grpc_workers)
            if self.rest_port is not None:
                self._rest_server = RestServer(self.registry, self.host, self.rest_port)
                self.rest_port = self._rest_server.port
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
        if self._rest_server is not None:
            self._rest_server.stop()
            self._rest_server = None
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
    flags.DEFINE_integer("grpc_port", 8500, "gRPC port; 0 disables gRPC; -1: a free port the kernel picks "
                         "(printed at start).", lower_bound=-1, upper_bound=65535)
    flags.DEFINE_integer("rest_port", 8501, "REST port; 0 disables REST; -1: a free port the kernel picks "
                         "(printed at start).", lower_bound=-1, upper_bound=65535)
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
        ports = {name: None if port == 0 else max(port, 0)  # -1: port 0 to the kernel, which picks one
                 for name, port in (("grpc", flags_.grpc_port), ("rest", flags_.rest_port))}
        server = ModelServer(models, grpc_port=ports["grpc"], rest_port=ports["rest"],
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

    from t2izoo.utils.cli import parse_flags

    FLAGS = _define_flags()
    app.run(main, flags_parser=parse_flags)
