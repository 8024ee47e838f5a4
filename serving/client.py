"""Clients for a served text-to-image model: captions in, PNG files out.

Both talk to TF Serving (`tensorflow_model_server`) or to the local `serving.server`:

- `GrpcClient`: `tensorflow.serving.PredictionService/Predict` with the captions as a
  `tf.make_tensor_proto` string tensor (and an optional int32 `seed` tensor);
- `RestClient`: `POST /v1/models/<name>:predict` with columnar JSON
  (`{"inputs": {"captions": [...], "seed": [...]}}`), using only the standard library, so it
  does not import TensorFlow.

The served signature (`serving_default` by default) takes `captions: DT_STRING[batch]` and,
if it declares it, `seed: DT_INT32[batch]`, and returns `images: DT_UINT8[batch, H, W, 3]`.

Example:
    python -m serving.client --server=localhost:8500 --protocol=grpc \\
        --model_name=shapes_gan_int_cls --caption="a red circle" --seed=0 --out=out.png

    images = RestClient("localhost:8501", "shapes_gan_int_cls").predict(["a red circle"], seed=0)
    save_png(images, "out.png")
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import base64
import json
import math
import os
import sys
import urllib.error
import urllib.request
from typing import Optional, Sequence, Union

import numpy as np

from serving.protocol import DEFAULT_SIGNATURE, GRPC_MAX_MESSAGE_BYTES
from t2izoo.errors import T2IError


class ServerResponseError(T2IError):
    """The server refused a request or could not be reached.

    Args:
        code: gRPC status name ("INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE", ...) or, for
            REST, "HTTP <status>".
        message: the server's message.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"server answered {code}: {message}")
        self.code = code
        self.message = message


def _caption_bytes(captions) -> list:
    if isinstance(captions, (str, bytes)):
        captions = [captions]
    captions = list(captions)
    if not captions:
        raise T2IError("give at least one caption")
    out = []
    for caption in captions:
        if isinstance(caption, str):
            out.append(caption.encode("utf-8", errors="surrogateescape"))
        elif isinstance(caption, bytes):
            out.append(caption)
        else:
            raise T2IError(f"captions must be strings, got {type(caption).__name__}")
    return out


def _seeds(seed, count: int) -> Optional[list]:
    """None, one int (seed, seed+1, ... per caption) or one int per caption."""
    if seed is None:
        return None
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return [int(seed) + i for i in range(count)]
    seeds = [int(s) for s in seed]
    if len(seeds) != count:
        raise T2IError(f"give one seed per caption: {count} captions, {len(seeds)} seeds")
    return seeds


def check_images(images, where: str = "server response") -> np.ndarray:
    """Checks a batch of images is uint8 [batch, H, W, 1|3|4] and returns it as a numpy array.

    Args:
        images: array-like from the server.
        where: for error messages.

    Raises:
        T2IError: wrong rank, channel count or values outside 0..255.
    """
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or 0 in array.shape:
        raise T2IError(f"{where}: expected images [batch, H, W, 3], got shape {list(array.shape)}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() > 255:
            raise T2IError(f"{where}: expected uint8 pixels 0..255, got dtype {array.dtype}")
        array = array.astype(np.uint8)
    return array


def image_grid(images: np.ndarray, columns: Optional[int] = None, padding: int = 2) -> np.ndarray:
    """Tiles a batch of images into one image, row by row, separated by white lines.

    Args:
        images: uint8 [batch, H, W, C].
        columns: images per row; about the square root of the batch by default.
        padding: pixels between images.

    Returns:
        uint8 [rows * (H + padding) - padding, columns * (W + padding) - padding, C]; the image
        itself when the batch holds one.
    """
    images = check_images(images, "image_grid")
    count, height, width, channels = images.shape
    if count == 1:
        return images[0]
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + padding) - padding, columns * (width + padding) - padding, channels),
                   255, dtype=np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + padding), (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def save_png(images: np.ndarray, path: str, columns: Optional[int] = None) -> str:
    """Writes one image, or a grid of several, as a PNG file.

    Args:
        images: uint8 [batch, H, W, C].
        path: output file; its folder is created.
        columns: grid columns (see `image_grid`).

    Returns:
        the path written.
    """
    from PIL import Image

    grid = image_grid(images, columns)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(grid).save(path, format="PNG")
    except OSError as e:
        raise T2IError(f"cannot write {path}: {e.strerror or e}") from None
    return path


class _Client:
    """What both clients share: the request (captions, optional seeds) and the answer's checks;
    a subclass connects (`_connect`) and sends (`_predict`) with its protocol.

    Args:
        server: "host:port" of the endpoint.
        model_name: served model name.
        signature_name: signature to call.
        version: model version; the latest when None.
        timeout: seconds per call.
        output_key: the output holding the images.
    """

    def __init__(self, server: str, model_name: str, signature_name: str = DEFAULT_SIGNATURE,
                 version: Optional[int] = None, timeout: float = 60.0, output_key: str = "images"):
        self.server = server
        self.model_name = model_name
        self.signature_name = signature_name
        self.version = version
        self.timeout = timeout
        self.output_key = output_key
        self._connect()

    def _connect(self):
        pass

    def predict(self, captions: Union[str, Sequence[str]], seed=None) -> np.ndarray:
        """Generates one image per caption.

        Args:
            captions: one caption or a list.
            seed: None (the signature's own behaviour), an int (seed + i for caption i) or
                one int per caption; sent as the int32 `seed` input.

        Returns:
            uint8 [len(captions), H, W, 3].

        Raises:
            ServerResponseError: the server refused the request or is unreachable.
        """
        inputs = {"captions": _caption_bytes(captions)}
        seeds = _seeds(seed, len(inputs["captions"]))
        if seeds is not None:
            inputs["seed"] = seeds
        outputs = self._predict(inputs)
        if self.output_key not in outputs:
            raise T2IError(f"the response has no output {self.output_key!r} (outputs: {sorted(outputs)})")
        return check_images(self._array(outputs[self.output_key]))

    def _predict(self, inputs: dict):
        """Sends {"captions": [bytes], "seed": [int] (optional)}; returns the outputs by name."""
        raise NotImplementedError

    def _array(self, value) -> np.ndarray:
        return np.asarray(value)


def is_loopback(server: str) -> bool:
    """Whether "host:port" (or "http://host:port") names this machine's loopback interface."""
    host = server.split("://", 1)[-1].split("/", 1)[0]
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    return host in ("localhost", "::1") or host.startswith("127.")


class GrpcClient(_Client):
    """TF Serving PredictionService client sending captions and returning images.

    Args:
        server: "host:port" of the gRPC endpoint (TF Serving's --port, 8500 by default).
        model_name, signature_name, version, timeout, output_key: see `_Client`.
    """

    def _connect(self):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        options = [("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)]
        if is_loopback(self.server):  # a server on this machine: never through $grpc_proxy/$http_proxy
            options.append(("grpc.enable_http_proxy", 0))
        self._channel = grpc.insecure_channel(self.server, options=options)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _model_spec(self, spec):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = int(self.version)

    def _call(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
            if code == grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
                raise ServerResponseError(
                    "UNAVAILABLE", f"cannot reach gRPC server at {self.server}: {details}") from None
            raise ServerResponseError(code.name, details) from None

    def _predict(self, inputs):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec)
        request.model_spec.signature_name = self.signature_name
        dtypes = {"captions": tf.string, "seed": tf.int32}
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtypes[name]))
        return self._call(self.stub.Predict, request).outputs

    def _array(self, value):
        import tensorflow as tf

        return tf.make_ndarray(value)

    def metadata(self) -> dict:
        """The model's signatures, as {"model_spec": ..., "signature_def": {name: SignatureDef dict}}."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._call(self.stub.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return {"model_spec": json_format.MessageToDict(response.model_spec, preserving_proto_field_name=True),
                "signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)
                .get("signature_def", {})}

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RestClient(_Client):
    """TF Serving REST client sending captions and returning images (standard library only).

    Args:
        server: "host:port" or "http://host:port" of the REST endpoint (TF Serving's
            --rest_api_port, 8501 by default).
        model_name, signature_name, version, timeout, output_key: see `_Client`.
    """

    def _connect(self):
        server = self.server.rstrip("/")
        self.base_url = server if "://" in server else f"http://{server}"
        # A server on this machine is reached directly, never through $http_proxy; others as the
        # environment says.
        self._opener = urllib.request.build_opener(
            *([urllib.request.ProxyHandler({})] if is_loopback(self.base_url) else []))

    def model_url(self) -> str:
        url = f"{self.base_url}/v1/models/{self.model_name}"
        return url if self.version is None else f"{url}/versions/{int(self.version)}"

    def request(self, method: str, url: str, payload: Optional[dict] = None) -> dict:
        """Sends one JSON request and returns the decoded JSON answer.

        Raises:
            ServerResponseError: an HTTP error (with the server's {"error": ...} message) or
                an unreachable server.
        """
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(req, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", errors="replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = text.strip() or e.reason
            raise ServerResponseError(f"HTTP {e.code}", message) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerResponseError("UNAVAILABLE", f"cannot reach REST server at {self.base_url}: {reason}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise T2IError(f"{url} answered with something that is not JSON: {body[:60]!r}") from None

    def _predict(self, inputs):
        captions = [c.decode("utf-8") if _is_utf8(c) else {"b64": base64.b64encode(c).decode("ascii")}
                    for c in inputs["captions"]]
        inputs = dict(inputs, captions=captions)
        answer = self.request("POST", self.model_url() + ":predict",
                              {"signature_name": self.signature_name, "inputs": inputs})
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if outputs is None:
            raise T2IError("the response has no \"outputs\"")
        # The columnar format does not wrap a single output in its name.
        return outputs if isinstance(outputs, dict) else {self.output_key: outputs}

    def metadata(self) -> dict:
        """The model's signatures, as {"model_spec": ..., "signature_def": {name: SignatureDef dict}}."""
        answer = self.request("GET", self.model_url() + "/metadata")
        signature_def = answer.get("metadata", {}).get("signature_def", {}).get("signature_def", {})
        return {"model_spec": answer.get("model_spec", {}), "signature_def": signature_def}

    def status(self) -> dict:
        """The model's version status, as TF Serving's `GET /v1/models/<name>`."""
        return self.request("GET", self.model_url())


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def make_client(protocol: str, server: str, model_name: str, **kwargs):
    """GrpcClient or RestClient by protocol name ("grpc" or "rest").

    Args:
        protocol: "grpc" or "rest".
        server: "host:port".
        model_name: served model name.
        **kwargs: signature_name, version, timeout, output_key.
    """
    if protocol == "grpc":
        return GrpcClient(server, model_name, **kwargs)
    if protocol == "rest":
        return RestClient(server, model_name, **kwargs)
    raise T2IError(f"protocol must be grpc or rest, got {protocol!r}")


def generate(protocol: str, server: str, model_name: str, captions, out: str, seed=None, **kwargs) -> np.ndarray:
    """Sends captions, writes the images (a grid when several) to `out` and returns them.

    Args:
        protocol: "grpc" or "rest".
        server: "host:port".
        model_name: served model name.
        captions: one caption or a list.
        out: PNG path.
        seed: see `GrpcClient.predict`.
        **kwargs: passed to the client (signature_name, version, timeout, output_key).
    """
    client = make_client(protocol, server, model_name, **kwargs)
    try:
        images = client.predict(captions, seed=seed)
    finally:
        if hasattr(client, "close"):
            client.close()
    save_png(images, out)
    return images


def _define_flags():
    from absl import flags

    flags.DEFINE_string("server", "localhost:8500", "host:port of the gRPC or REST endpoint.")
    flags.DEFINE_enum("protocol", "grpc", ["grpc", "rest"], "How to talk to the server.")
    flags.DEFINE_string("model_name", None, "Served model name.", required=True)
    flags.DEFINE_multi_string("caption", None, "Caption; repeat for several images (written as a grid).",
                              required=True)
    flags.DEFINE_integer("seed", None, "Noise seed; caption i uses seed + i. Unset: not sent.")
    flags.DEFINE_string("out", "out.png", "PNG file to write.")
    flags.DEFINE_string("signature_name", DEFAULT_SIGNATURE, "Signature to call.")
    flags.DEFINE_integer("model_version", None, "Model version; the latest when unset.", lower_bound=1)
    flags.DEFINE_float("timeout", 60.0, "Seconds to wait for the answer.", lower_bound=0.1)
    return flags.FLAGS


def main(argv) -> int:
    """Command line: one request, one PNG; errors print one line and exit 1."""
    del argv
    try:
        images = generate(FLAGS.protocol, FLAGS.server, FLAGS.model_name, FLAGS.caption, FLAGS.out,
                          seed=FLAGS.seed, signature_name=FLAGS.signature_name, version=FLAGS.model_version,
                          timeout=FLAGS.timeout)
    except T2IError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {FLAGS.out}: {images.shape[0]} image(s) of {images.shape[1]}x{images.shape[2]}")
    return 0


if __name__ == "__main__":
    from absl import app

    from t2izoo.utils.cli import parse_flags

    FLAGS = _define_flags()
    app.run(main, flags_parser=parse_flags)
