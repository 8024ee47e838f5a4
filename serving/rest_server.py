"""TF Serving's REST API over a ModelRegistry, with the standard library's HTTP server.

- `POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict` with `"instances"` (row) or
  `"inputs"` (columnar) JSON; strings are UTF-8 JSON strings or `{"b64": "..."}`;
- `GET /v1/models/<name>[/versions/<v>]` (version status);
- `GET /v1/models/<name>[/versions/<v>]/metadata` (signatures).

A refused request gets the HTTP status of its ServingError and `{"error": "<message>"}`.

Example:
    rest = RestServer(registry, host="127.0.0.1", port=0)   # rest.port holds the bound port
    ...
    rest.stop()
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from serving.protocol import DEFAULT_SIGNATURE, ServingError, invalid
from serving.registry import DT_STRING, ModelRegistry, TensorSpec, dtype_name, numpy_dtype
from t2izoo.errors import ConfigError

logger = logging.getLogger(__name__)

# Largest REST body accepted; bigger requests are refused before being read.
MAX_REST_BODY_BYTES = 64 * 1024 * 1024
# Listen backlog: socketserver's default of 5 is below the number of clients that connect at once
# (16 in the soak, serving/soak.py); a full backlog drops connections. The kernel caps it at
# net.core.somaxconn.
LISTEN_BACKLOG = 1024


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG

_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[A-Za-z]+)|/(?P<metadata>metadata))?$")


def _json_leaf(value, dtype: int, where: str):
    """One JSON scalar converted to the signature dtype."""
    if dtype == DT_STRING:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise invalid(f"{where}: a binary string must be written {{\"b64\": \"...\"}}")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise invalid(f"{where}: {{\"b64\": ...}} is not valid base64") from None
        if not isinstance(value, str):
            raise invalid(f"{where}: expected a string (DT_STRING), got {json.dumps(value)[:40]}")
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(f"{where} is not valid UTF-8 (lone surrogate escape); captions must be UTF-8 text") from None
    np_dtype = np.dtype(numpy_dtype(dtype))
    name = dtype_name(dtype)
    if np_dtype == np.bool_:
        if not isinstance(value, bool):
            raise invalid(f"{where}: expected true or false ({name}), got {json.dumps(value)[:40]}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(f"{where}: expected a number ({name}), got {json.dumps(value)[:40]}")
    if np.issubdtype(np_dtype, np.integer):
        if isinstance(value, float) and not value.is_integer():
            raise invalid(f"{where}: expected an integer ({name}), got {value}")
        info = np.iinfo(np_dtype)
        if not info.min <= value <= info.max:
            raise invalid(f"{where}: {value} is out of range for {name}")
        return int(value)
    if np.issubdtype(np_dtype, np.floating) or np.issubdtype(np_dtype, np.complexfloating):
        return value
    raise invalid(f"{where}: dtype {name} cannot be sent as JSON")


def _json_to_array(value, spec: TensorSpec, name: str) -> np.ndarray:
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
                raise invalid(f"input {name!r} is a ragged list at {where}; every row needs the same shape")
            leaves.append(_json_leaf(item, spec.dtype, f"input {name!r} element {where}"))
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            raise invalid(f"input {name!r} is a ragged list at {where}; every row needs the same shape")
        for i, child in enumerate(item):
            walk(child, depth + 1, f"{where}[{i}]")

    walk(value, 0, "")
    if spec.dtype == DT_STRING:
        array = np.empty(len(leaves), dtype=object)
        array[:] = leaves
    else:
        array = np.array(leaves, dtype=numpy_dtype(spec.dtype))
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
        raise invalid(f"JSON parse error: {e}") from None
    if not isinstance(request, dict):
        raise invalid("the request body must be a JSON object with \"instances\" or \"inputs\"")
    model = registry.resolve(name, version, label)
    signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature_name, str):
        raise invalid("signature_name must be a string")
    signature = model.signature(signature_name)
    unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise invalid(f"unknown key(s) {unknown} in the request; expected signature_name and instances or inputs")
    if ("instances" in request) == ("inputs" in request):
        raise invalid("the request must have exactly one of \"instances\" (row format) or \"inputs\" (columnar)")

    def is_named(obj):
        return isinstance(obj, dict) and set(obj) != {"b64"}

    only_input = next(iter(signature.inputs)) if len(signature.inputs) == 1 else None
    columns = {}
    if "instances" in request:
        rows = request["instances"]
        if not isinstance(rows, list) or not rows:
            raise invalid("\"instances\" must be a non-empty list, one entry per example")
        if rows and all(is_named(r) for r in rows):
            keys = set(rows[0])
            for i, row in enumerate(rows):
                if set(row) != keys:
                    raise invalid(f"instance {i} has keys {sorted(row)}, instance 0 has {sorted(keys)}; "
                                   f"every instance needs the same named inputs")
            columns = {k: [row[k] for row in rows] for k in keys}
        elif any(is_named(r) for r in rows):
            raise invalid("instances mix named objects and plain values")
        elif only_input is not None:
            columns = {only_input: rows}
        else:
            raise invalid(
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
            raise invalid(
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


def make_handler(registry: ModelRegistry):
    """A BaseHTTPRequestHandler class answering from `registry`."""

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
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client hung up before the answer
                self.close_connection = True
                logger.debug("client %s hung up before the answer", self.address_string())

        def _route(self, method: str):
            match = _REST_PATH.match(self.path.split("?", 1)[0])
            if match is None:
                raise invalid(f"malformed request: {method} {self.path}; expected /v1/models/<name>"
                               f"[/versions/<version>][:predict|/metadata]")
            version = match.group("version")
            if version is not None:
                if not version.isdigit():
                    raise invalid(f"version must be a number, got {version!r}")
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
                        raise invalid(f"request body must be 0 to {MAX_REST_BODY_BYTES} bytes with a Content-Length")
                    body = self.rfile.read(length)
                    if len(body) < length:  # the client hung up mid-request: nobody to answer
                        self.close_connection = True
                        logger.debug("client %s sent %d of %d body bytes, then hung up", self.address_string(),
                                     len(body), length)
                        return
                match, version, label = self._route(method)
                name, verb = match.group("name"), match.group("verb")
                if method == "GET" and verb is None:
                    if match.group("metadata"):
                        payload = _rest_metadata(registry, name, version, label)
                    elif label:
                        raise invalid("model status takes a version, not a label")
                    else:
                        payload = _rest_status(registry, name, version)
                elif method == "POST" and verb == "predict" and not match.group("metadata"):
                    payload = _rest_predict(registry, name, version, label, body)
                elif method == "POST" and verb in ("classify", "regress"):
                    raise ServingError("UNIMPLEMENTED", f"{verb} is not implemented by this server; use predict")
                else:
                    raise invalid(f"malformed request: {method} {self.path}")
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


class RestServer:
    """Serves TF Serving's REST API for `registry` from a background thread.

    Args:
        registry: the loaded models.
        host: interface to bind.
        port: port, or 0 for a free one; `self.port` holds the bound one.

    Raises:
        ConfigError: the port cannot be bound.
    """

    def __init__(self, registry: ModelRegistry, host: str, port: int):
        try:
            self._httpd = _HTTPServer((host, port), make_handler(registry))
        except OSError as e:
            raise ConfigError(f"cannot listen for REST on {host}:{port}: {e.strerror}") from None
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops listening and closes the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
