"""A soak of the serving stand-in: concurrent loopback clients, a fraction of them bad.

`soak(grpc_address, rest_address, model_name, expected, ...)` drives a running server (in this
process or another) for `seconds` with `clients` threads. Each request is good (1-2 captions
through `generate_seeded`, over gRPC or REST) or, with probability `bad_fraction`, one of
`BAD_KINDS`. A good answer is correct when it equals `expected[(caption, seed)]`, the image a
direct SavedModel call gives for that caption and seed; a bad one when its status is the one
listed for its kind. Clients connect to 127.0.0.1 directly, never through an `http_proxy` /
`grpc_proxy` of the environment. Used by benchmarks/bench_serving_soak.py and
tests/serving/test_soak.py.
"""

from __future__ import annotations

import base64
import collections
import json
import random
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np

from serving.protocol import GRPC_MAX_MESSAGE_BYTES

DEFAULT_MAX_CAPTION_LENGTH = 10_000  # serving.server's default --max_caption_length

SIGNATURE = "generate_seeded"
# kind -> the status a correct server answers (gRPC code name; REST uses its HTTP equivalent).
BAD_KINDS = {
    "empty_caption": "INVALID_ARGUMENT",
    "non_utf8_caption": "INVALID_ARGUMENT",
    "caption_over_limit": "INVALID_ARGUMENT",  # max_caption_length + 1 characters
    "wrong_dtype": "INVALID_ARGUMENT",
    "missing_input": "INVALID_ARGUMENT",
    "batch_over_limit": "INVALID_ARGUMENT",
    "unknown_model": "NOT_FOUND",
    "unknown_version": "NOT_FOUND",
    "unknown_signature": "INVALID_ARGUMENT",
    "malformed_json": "INVALID_ARGUMENT",
    "truncated_grpc": "INVALID_ARGUMENT",
    "disconnect_mid_request": "DISCONNECTED",  # the client hangs up; nothing to answer
}
HTTP_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 500: "INTERNAL", 503: "UNAVAILABLE"}
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
GRPC_OPTIONS = [("grpc.enable_http_proxy", 0), ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)]


def rss_bytes(pid="self") -> int:
    """Resident set size of process `pid` (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _Client:
    """One soak client: its own gRPC channel, the shared no-proxy HTTP opener."""

    def __init__(self, grpc_address, rest_address, model_name, max_batch_size, seed,
                 max_caption_length=DEFAULT_MAX_CAPTION_LENGTH):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        self.grpc, self.predict_pb2 = grpc, predict_pb2
        self.channel = grpc.insecure_channel(grpc_address, options=GRPC_OPTIONS)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.raw_predict = self.channel.unary_unary("/tensorflow.serving.PredictionService/Predict",
                                                    request_serializer=None, response_deserializer=None)
        self.rest_address = rest_address
        self.model_name = model_name
        self.max_batch_size = max_batch_size
        self.max_caption_length = max_caption_length
        self.rng = random.Random(seed)

    # -- requests --------------------------------------------------------------------------
    def grpc_request(self, captions=None, seeds=None, model=None, version=None, signature=SIGNATURE,
                     seed_dtype=None):
        import tensorflow as tf

        request = self.predict_pb2.PredictRequest()
        request.model_spec.name = model or self.model_name
        request.model_spec.signature_name = signature
        if version is not None:
            request.model_spec.version.value = version
        if captions is not None:
            request.inputs["captions"].CopyFrom(tf.make_tensor_proto(captions, dtype=tf.string))
        if seeds is not None:
            request.inputs["seed"].CopyFrom(tf.make_tensor_proto(seeds, dtype=seed_dtype or tf.int32))
        return request

    def call_grpc(self, request=None, raw=None, timeout=60):
        """(status name, images or None)."""
        grpc = self.grpc
        try:
            if raw is not None:
                answer = self.predict_pb2.PredictResponse.FromString(self.raw_predict(raw, timeout=timeout))
            else:
                answer = self.stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name, None
        import tensorflow as tf

        return "OK", tf.make_ndarray(answer.outputs["images"])

    def call_rest(self, body: bytes, model=None, version=None, timeout=60):
        path = f"/v1/models/{model or self.model_name}" + (f"/versions/{version}" if version else "") + ":predict"
        request = urllib.request.Request(f"http://{self.rest_address}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with NO_PROXY.open(request, timeout=timeout) as answer:
                outputs = json.loads(answer.read())["outputs"]
                images = outputs["images"] if isinstance(outputs, dict) else outputs
                return "OK", np.asarray(images, np.uint8)
        except urllib.error.HTTPError as e:
            e.read()
            return HTTP_CODES.get(e.code, f"HTTP_{e.code}"), None

    @staticmethod
    def rest_body(captions, seeds) -> bytes:
        inputs = {}
        if captions is not None:
            inputs["captions"] = captions
        if seeds is not None:
            inputs["seed"] = seeds
        return json.dumps({"signature_name": SIGNATURE, "inputs": inputs}).encode()

    def disconnect_mid_request(self):
        """Sends half of a REST request, then hangs up (and cancels a gRPC call) without reading."""
        host, port = self.rest_address.rsplit(":", 1)
        body = self.rest_body(["a red circle"], [1])
        head = (f"POST /v1/models/{self.model_name}:predict HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(head + body[: len(body) // 2])
        future = self.stub.Predict.future(self.grpc_request(["a red circle"], [1]), timeout=60)
        future.cancel()
        return "DISCONNECTED", None

    def bad(self, kind: str, use_grpc: bool):
        """Sends one bad request of `kind`; returns its status name."""
        import tensorflow as tf

        n = self.max_batch_size + 1
        grpc_cases = {
            "empty_caption": dict(captions=[""], seeds=[0]),
            "non_utf8_caption": dict(captions=[b"\xff\xfe red"], seeds=[0]),
            "caption_over_limit": dict(captions=["a" * (self.max_caption_length + 1)], seeds=[0]),
            "wrong_dtype": dict(captions=["a red circle"], seeds=[0.5], seed_dtype=tf.float32),
            "missing_input": dict(captions=["a red circle"]),
            "batch_over_limit": dict(captions=["a red circle"] * n, seeds=list(range(n))),
            "unknown_model": dict(captions=["a red circle"], seeds=[0], model="no_such_model"),
            "unknown_version": dict(captions=["a red circle"], seeds=[0], version=999),
            "unknown_signature": dict(captions=["a red circle"], seeds=[0], signature="no_such_signature"),
        }
        if kind == "disconnect_mid_request":
            return self.disconnect_mid_request()[0]
        if kind == "truncated_grpc":
            raw = self.grpc_request(["a red circle", "a blue square"], [1, 2]).SerializeToString()
            return self.call_grpc(raw=raw[: len(raw) - 7])[0]
        if kind == "malformed_json":
            return self.call_rest(b'{"signature_name": "generate_seeded", "inputs": {"captions": ["a red')[0]
        case = grpc_cases[kind]
        if use_grpc:
            return self.call_grpc(self.grpc_request(**case))[0]
        if kind == "non_utf8_caption":  # JSON cannot carry raw bytes: the b64 form of them
            body = json.dumps({"signature_name": SIGNATURE, "inputs": {
                "captions": [{"b64": base64.b64encode(b"\xff\xfe red").decode()}], "seed": [0]}}).encode()
        elif kind == "unknown_signature":
            body = json.dumps({"signature_name": "no_such_signature",
                               "inputs": {"captions": ["a red circle"], "seed": [0]}}).encode()
        else:
            body = self.rest_body(case["captions"], case.get("seeds"))
        return self.call_rest(body, model=case.get("model"), version=case.get("version"))[0]

    def close(self):
        self.channel.close()


def soak(grpc_address: str, rest_address: str, model_name: str, expected: dict, seconds: float,
         clients: int = 16, bad_fraction: float = 0.2, max_batch_size: int = 8, seed: int = 0,
         max_caption_length: int = DEFAULT_MAX_CAPTION_LENGTH) -> dict:
    """Drives the server for `seconds` with `clients` threads; returns the tallies (see `report`).

    Args:
        expected: (caption, seed) -> uint8 [H, W, 3] image of a direct SavedModel call; good
            requests draw their rows from these keys.
    """
    keys = sorted(expected)
    lock = threading.Lock()
    tally = {"sent": 0, "good": 0, "bad": 0, "correct": 0, "wrong_image": 0, "good_failed": collections.Counter(),
             "bad_by_kind": collections.defaultdict(collections.Counter), "bad_wrong_status": 0,
             "connection_errors": collections.Counter(), "latencies": [], "images": 0}
    deadline = time.monotonic() + seconds

    def run(index):
        client = _Client(grpc_address, rest_address, model_name, max_batch_size, seed * 1000 + index,
                         max_caption_length)
        kinds = list(BAD_KINDS)
        try:
            while time.monotonic() < deadline:
                use_grpc = client.rng.random() < 0.5
                try:
                    if client.rng.random() < bad_fraction:
                        kind = kinds[client.rng.randrange(len(kinds))]
                        status = client.bad(kind, use_grpc)
                        with lock:
                            tally["sent"] += 1
                            tally["bad"] += 1
                            tally["bad_by_kind"][kind][status] += 1
                            tally["bad_wrong_status"] += status != BAD_KINDS[kind]
                        continue
                    rows = [keys[client.rng.randrange(len(keys))] for _ in range(client.rng.choice((1, 2)))]
                    captions, seeds = [r[0] for r in rows], [r[1] for r in rows]
                    t0 = time.perf_counter()
                    if use_grpc:
                        status, images = client.call_grpc(client.grpc_request(captions, seeds))
                    else:
                        status, images = client.call_rest(client.rest_body(captions, seeds))
                    latency = time.perf_counter() - t0
                    correct = status == "OK" and images.shape[0] == len(rows) and all(
                        np.array_equal(images[i], expected[row]) for i, row in enumerate(rows))
                    with lock:
                        tally["sent"] += 1
                        tally["good"] += 1
                        tally["latencies"].append(latency)
                        if status != "OK":
                            tally["good_failed"][status] += 1
                        elif correct:
                            tally["correct"] += 1
                            tally["images"] += len(rows)
                        else:
                            tally["wrong_image"] += 1
                except (ConnectionError, urllib.error.URLError, socket.timeout, OSError) as e:
                    with lock:
                        tally["sent"] += 1
                        tally["connection_errors"][type(getattr(e, "reason", e)).__name__] += 1
        finally:
            client.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,), name=f"soak-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally["elapsed_s"] = time.monotonic() - t0
    return tally


def report(tally: dict, rss_start: int = None, rss_end: int = None) -> list:
    """The figures of a soak as printable lines."""
    lat = np.asarray(tally["latencies"]) * 1000
    p = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: float("nan"))
    lines = [
        f"requests sent: {tally['sent']} in {tally['elapsed_s']:.1f} s (good {tally['good']}, bad {tally['bad']})",
        f"good answers correct (equal to a direct SavedModel call): {tally['correct']} of {tally['good']}; "
        f"wrong image {tally['wrong_image']}; failed {dict(tally['good_failed']) or 0}",
        f"bad requests answered with the wrong status: {tally['bad_wrong_status']} of {tally['bad']}",
        "bad requests by kind: " + ", ".join(
            f"{kind} {dict(statuses)}" for kind, statuses in sorted(tally["bad_by_kind"].items())),
        f"connection errors (resets, refusals, timeouts): {sum(tally['connection_errors'].values())} "
        f"{dict(tally['connection_errors']) or ''}".rstrip(),
        f"good-request latency p50 {p(50):.1f} ms, p95 {p(95):.1f} ms, p99 {p(99):.1f} ms",
        f"throughput: {tally['sent'] / tally['elapsed_s']:.1f} requests/s, "
        f"{tally['images'] / tally['elapsed_s']:.1f} correct images/s",
    ]
    if rss_start is not None:
        lines.append(f"server RSS: start {rss_start / 2**20:.0f} MiB, end {rss_end / 2**20:.0f} MiB "
                     f"({(rss_end - rss_start) / 2**20:+.0f} MiB)")
    return lines


CAPTIONS = ("a large red circle", "a small blue square at the top left", "a green triangle",
            "two shapes: a yellow circle and a small purple square")


def tiny_export(root: str, model_name: str = "soak") -> str:
    """Trains the tiny GAN-INT-CLS run under `root` and exports it; returns the model's base path."""
    import os

    from t2izoo.export import saved_model
    from t2izoo.testing import tiny

    run_dir = tiny.build_tiny_run("gan_int_cls", root)
    base = os.path.join(root, "export")
    saved_model.export_saved_model(run_dir, base, model_name, version=1)
    return os.path.join(base, model_name)


def expected_images(version_dir: str, captions=CAPTIONS, seeds=range(8)) -> dict:
    """(caption, seed) -> the image one direct call of the SavedModel's `generate_seeded` gives."""
    import tensorflow as tf

    fn = tf.saved_model.load(version_dir).signatures[SIGNATURE]
    return {(c, s): fn(captions=tf.constant([c]), seed=tf.constant([s], tf.int32))["images"].numpy()[0]
            for c in captions for s in seeds}
