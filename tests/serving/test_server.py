"""End-to-end tests of the local TF Serving stand-in and its clients, on loopback.

A dummy SavedModel (exported with keras.export.ExportArchive, in TF Serving layout) maps
captions and seeds to 8x8 uint8 images whose pixels follow a formula, so every answer can
be checked exactly against both the formula and a direct call of the SavedModel.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from serving import client as client_lib
from serving.batching import Batcher, BatchingParameters
from serving.model_config import ModelConfig, load_model_config
from serving.protocol import DEFAULT_SIGNATURE, ServingError
from serving.registry import ModelRegistry, find_versions
from serving.server import ModelServer
from t2izoo.errors import ConfigError
from t2izoo.export.saved_model import SERVING_SIGNATURE

REPO = Path(__file__).resolve().parents[2]
SIZE = 8
MAX_BATCH = 8
LATEST_OFFSET = 100  # version 2 adds this to every pixel, so versions are told apart


def expected_images(captions, seeds, offset=LATEST_OFFSET):
    """The dummy model's formula: pixel = (7 * chars + 13 * seed + 8y + x + 50c + offset) mod 256."""
    chars = np.array([len(c) for c in captions]).reshape(-1, 1, 1, 1)
    seeds = np.asarray(seeds).reshape(-1, 1, 1, 1)
    y = np.arange(SIZE).reshape(1, -1, 1, 1)
    x = np.arange(SIZE).reshape(1, 1, -1, 1)
    c = np.arange(3).reshape(1, 1, 1, -1)
    return ((chars * 7 + seeds * 13 + y * 8 + x + c * 50 + offset) % 256).astype(np.uint8)


def export_dummy(path, offset):
    """Writes a SavedModel with signature serving_default(captions, seed) -> {"images"}."""

    @tf.function
    def serve(captions, seed):
        chars = tf.strings.length(captions, unit="UTF8_CHAR")
        y = tf.reshape(tf.range(SIZE), [1, SIZE, 1, 1])
        x = tf.reshape(tf.range(SIZE), [1, 1, SIZE, 1])
        c = tf.reshape(tf.range(3), [1, 1, 1, 3])
        value = tf.reshape(chars * 7 + seed * 13, [-1, 1, 1, 1]) + y * 8 + x + c * 50 + offset
        return {"images": tf.cast(tf.math.floormod(value, 256), tf.uint8)}

    archive = keras.export.ExportArchive()
    archive.add_endpoint("serving_default", serve, input_signature=[
        tf.TensorSpec([None], tf.string, name="captions"), tf.TensorSpec([None], tf.int32, name="seed")])
    archive.write_out(str(path), verbose=False)


@pytest.fixture(scope="module")
def base_path(tmp_path_factory):
    base = tmp_path_factory.mktemp("export") / "dummy"
    export_dummy(base / "1", offset=0)
    export_dummy(base / "2", offset=LATEST_OFFSET)
    (base / "3").mkdir()  # a half-written version: no saved_model.pb, so it is skipped
    (base / "notes").mkdir()
    return base


@pytest.fixture(scope="module")
def served(base_path):
    server = ModelServer(
        [ModelConfig("dummy", str(base_path))], grpc_port=0, rest_port=0,
        batching=BatchingParameters(max_batch_size=MAX_BATCH, batch_timeout_micros=30_000, num_batch_threads=1))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def direct(base_path):
    return tf.saved_model.load(str(base_path / "2")).signatures["serving_default"]


@pytest.fixture(scope="module")
def stub(served):
    channel = grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}")
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    channel.close()


def call_direct(direct, captions, seeds):
    return direct(captions=tf.constant(captions), seed=tf.constant(seeds, tf.int32))["images"].numpy()


def rest(served, method, path, body=None):
    """Raw REST call; returns (HTTP status, decoded JSON)."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{served.rest_port}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def assert_still_serving(served):
    captions = ["still here"]
    images = client_lib.GrpcClient(f"127.0.0.1:{served.grpc_port}", "dummy").predict(captions, seed=1)
    np.testing.assert_array_equal(images, expected_images(captions, [1]))
    status, answer = rest(served, "POST", "/v1/models/dummy:predict",
                          {"inputs": {"captions": captions, "seed": [1]}})
    assert status == 200
    np.testing.assert_array_equal(np.array(answer["outputs"], np.uint8), expected_images(captions, [1]))


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_round_trip_matches_saved_model_and_writes_png(served, direct, tmp_path, protocol):
    captions = ["a red circle", "a small blue square", "grün ✓", "x" * 10_000]
    port = served.grpc_port if protocol == "grpc" else served.rest_port
    out = tmp_path / f"{protocol}.png"
    images = client_lib.generate(protocol, f"127.0.0.1:{port}", "dummy", captions, str(out), seed=5)
    assert images.dtype == np.uint8 and images.shape == (4, SIZE, SIZE, 3)
    seeds = [5, 6, 7, 8]
    np.testing.assert_array_equal(images, call_direct(direct, captions, seeds))
    np.testing.assert_array_equal(images, expected_images(captions, seeds))
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * SIZE + 2, 2 * SIZE + 2, 3)
    np.testing.assert_array_equal(grid, client_lib.image_grid(images))
    np.testing.assert_array_equal(grid[SIZE + 2:, SIZE + 2:], images[3])

    single = tmp_path / f"{protocol}-single.png"
    client_lib.generate(protocol, f"127.0.0.1:{port}", "dummy", "one", str(single), seed=[3])
    np.testing.assert_array_equal(np.asarray(Image.open(single)), expected_images(["one"], [3])[0])


def test_rest_row_format_with_b64_caption(served):
    status, answer = rest(served, "POST", "/v1/models/dummy/versions/2:predict", {
        "signature_name": "serving_default",
        "instances": [{"captions": "abc", "seed": 1},
                      {"captions": {"b64": base64.b64encode("héllo".encode()).decode()}, "seed": 2}]})
    assert status == 200
    assert len(answer["predictions"]) == 2
    assert isinstance(answer["predictions"][0][0][0][0], int)  # uint8 as plain JSON numbers
    np.testing.assert_array_equal(np.array(answer["predictions"], np.uint8),
                                  expected_images(["abc", "héllo"], [1, 2]))


def test_versions_status_and_metadata(served, base_path):
    address = f"127.0.0.1:{served.grpc_port}"
    images = client_lib.GrpcClient(address, "dummy", version=2).predict(["ab"], seed=0)
    np.testing.assert_array_equal(images, expected_images(["ab"], [0]))
    with pytest.raises(client_lib.ServerResponseError) as error:
        client_lib.GrpcClient(address, "dummy", version=1).predict(["ab"], seed=0)
    assert error.value.code == "NOT_FOUND" and "no loaded version 1" in error.value.message

    rest_client = client_lib.RestClient(f"127.0.0.1:{served.rest_port}", "dummy")
    assert rest_client.status()["model_version_status"] == [
        {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]

    for metadata in (client_lib.GrpcClient(address, "dummy").metadata(), rest_client.metadata()):
        assert str(metadata["model_spec"]["version"]) == "2"
        assert list(metadata["signature_def"]) == ["serving_default"]
        signature = metadata["signature_def"]["serving_default"]
        assert signature["inputs"]["captions"]["dtype"] == "DT_STRING"
        assert signature["inputs"]["seed"]["dtype"] == "DT_INT32"
        assert signature["outputs"]["images"]["dtype"] == "DT_UINT8"
        dims = [int(d["size"]) for d in signature["outputs"]["images"]["tensor_shape"]["dim"]]
        assert dims == [-1, SIZE, SIZE, 3]
        assert signature["method_name"] == "tensorflow/serving/predict"


def test_concurrent_requests_are_correct_and_batched(served):
    before = served.batch_stats()["dummy/2/serving_default"]
    grpc_client = client_lib.GrpcClient(f"127.0.0.1:{served.grpc_port}", "dummy")
    rest_client = client_lib.RestClient(f"127.0.0.1:{served.rest_port}", "dummy")
    count = 16
    barrier = threading.Barrier(count)
    results, errors = {}, []

    def worker(i):
        try:
            captions = ["c" * (i + 1)] * (1 + i % 2)
            client = grpc_client if i % 2 else rest_client
            barrier.wait(timeout=20)
            results[i] = (captions, client.predict(captions, seed=i))
        except Exception as e:  # collected and reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == count
    for i, (captions, images) in results.items():
        np.testing.assert_array_equal(images, expected_images(captions, [i + k for k in range(len(captions))]))
    after = served.batch_stats()["dummy/2/serving_default"]
    requests = after["requests"] - before["requests"]
    batches = after["batches"] - before["batches"]
    assert requests == count
    assert batches < count  # some requests shared a model call
    assert after["largest_batch_requests"] > 1


def test_default_signature_is_tf_serving_s_and_the_exporter_s():
    assert DEFAULT_SIGNATURE == tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY == SERVING_SIGNATURE


def test_batcher_merges_splits_and_pads():
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 10}

    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=300_000, num_batch_threads=1,
                                allowed_batch_sizes=(4, 8))
    batcher = Batcher(run, params, "test")
    results = {}

    def worker(i):
        results[i] = batcher.submit({"x": np.full((2,), i)}, 2)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    batcher.close()
    assert calls == [8]  # 6 rows padded to the allowed size 8, one call
    for i in range(3):
        np.testing.assert_array_equal(results[i]["y"], [i * 10, i * 10])
    with pytest.raises(ServingError, match="shutting down"):
        batcher.submit({"x": np.zeros(1)}, 1)


def grpc_request(captions=("a cat",), seeds=(0,), name="dummy", version=None, label="",
                 signature="", captions_dtype=tf.string, seed_dtype=tf.int32, extra=None, output_filter=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    request.model_spec.signature_name = signature
    if captions is not None:
        request.inputs["captions"].CopyFrom(tf.make_tensor_proto(list(captions), dtype=captions_dtype))
    if seeds is not None:
        request.inputs["seed"].CopyFrom(tf.make_tensor_proto(seeds, dtype=seed_dtype))
    for key, value in (extra or {}).items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    request.output_filter.extend(output_filter)
    return request


NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
BAD_GRPC = {
    "unknown model": (dict(name="nope"), NOT_FOUND, "no model named 'nope'"),
    "unknown version": (dict(version=7), NOT_FOUND, "no loaded version 7"),
    "unloaded old version": (dict(version=1), NOT_FOUND, "no loaded version 1"),
    "unknown label": (dict(label="canary"), NOT_FOUND, "no version label 'canary'"),
    "unknown signature": (dict(signature="tokens"), INVALID, "signature key 'tokens' not found"),
    "missing captions": (dict(captions=None), INVALID, "missing input 'captions'"),
    "missing seed": (dict(seeds=None), INVALID, "missing input 'seed'"),
    "extra input": (dict(extra={"noise": [1.0]}), INVALID, "'noise' is not an input"),
    "captions as int32": (dict(captions=[1], captions_dtype=tf.int32), INVALID, "dtype DT_INT32"),
    "seed as float": (dict(seed_dtype=tf.float32), INVALID, "expects DT_INT32"),
    "batch over the limit": (dict(captions=["a"] * 9, seeds=list(range(9))), INVALID, "over the limit of 8"),
    "empty caption": (dict(captions=["ok", ""], seeds=[0, 1]), INVALID, "element 1 is an empty caption"),
    "blank caption": (dict(captions=["   "]), INVALID, "empty caption"),
    "non-UTF-8 caption": (dict(captions=[b"\xff\xfe red"]), INVALID, "not valid UTF-8"),
    "caption too long": (dict(captions=["x" * 10_001]), INVALID, "10001 characters, over the limit of 10000"),
    "batch sizes disagree": (dict(captions=["a", "b"], seeds=[0, 1, 2]), INVALID, "disagree on the batch size"),
    "seed of wrong rank": (dict(seeds=[[0]]), INVALID, "expects DT_INT32[?]"),
    "empty batch": (dict(captions=[], seeds=[]), INVALID, "empty batch"),
    "unknown output_filter": (dict(output_filter=["logits"]), INVALID, "'logits'"),
}


@pytest.mark.parametrize("kwargs, code, message", BAD_GRPC.values(), ids=BAD_GRPC.keys())
def test_bad_grpc_requests_are_refused_and_server_keeps_serving(served, stub, kwargs, code, message):
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(grpc_request(**kwargs), timeout=30)
    assert error.value.code() == code
    assert message in error.value.details()
    good = stub.Predict(grpc_request(captions=["fine"], seeds=[4]), timeout=30)
    np.testing.assert_array_equal(tf.make_ndarray(good.outputs["images"]), expected_images(["fine"], [4]))


def test_bad_metadata_requests(stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "dummy"
    with pytest.raises(grpc.RpcError) as error:
        stub.GetModelMetadata(request, timeout=30)
    assert error.value.code() == INVALID and "metadata_field" in error.value.details()
    request.metadata_field.append("signature_def")
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as error:
        stub.GetModelMetadata(request, timeout=30)
    assert error.value.code() == NOT_FOUND


def predict_body(captions, seeds=None, **extra):
    inputs = {"captions": captions}
    if seeds is not None:
        inputs["seed"] = seeds
    return {"inputs": inputs, **extra}


BAD_REST = {
    "unknown model": ("POST", "/v1/models/nope:predict", predict_body(["a"], [0]), 404, "no model named"),
    "unknown version": ("POST", "/v1/models/dummy/versions/1:predict", predict_body(["a"], [0]), 404,
                        "no loaded version 1"),
    "status of unknown model": ("GET", "/v1/models/nope", None, 404, "no model named"),
    "malformed path": ("GET", "/v2/models/dummy", None, 400, "malformed request"),
    "classify": ("POST", "/v1/models/dummy:classify", {}, 501, "not implemented"),
    "invalid JSON": ("POST", "/v1/models/dummy:predict", b"{", 400, "JSON parse error"),
    "neither instances nor inputs": ("POST", "/v1/models/dummy:predict", {"signature_name": "serving_default"},
                                     400, "exactly one of"),
    "both instances and inputs": ("POST", "/v1/models/dummy:predict",
                                  {"instances": [{"captions": "a", "seed": 0}], "inputs": {}}, 400, "exactly one of"),
    "unknown signature": ("POST", "/v1/models/dummy:predict", predict_body(["a"], [0], signature_name="tokens"),
                          400, "signature key 'tokens' not found"),
    "missing seed": ("POST", "/v1/models/dummy:predict", predict_body(["a"]), 400, "missing input 'seed'"),
    "seed as string": ("POST", "/v1/models/dummy:predict", predict_body(["a"], ["x"]), 400, "expected a number"),
    "seed as fraction": ("POST", "/v1/models/dummy:predict", predict_body(["a"], [1.5]), 400, "expected an integer"),
    "caption as number": ("POST", "/v1/models/dummy:predict", predict_body([3], [0]), 400, "expected a string"),
    "ragged captions": ("POST", "/v1/models/dummy:predict", predict_body([["a"], "b"], [0, 1]), 400, "ragged"),
    "batch over the limit": ("POST", "/v1/models/dummy:predict", predict_body(["a"] * 9, list(range(9))), 400,
                             "over the limit of 8"),
    "empty caption": ("POST", "/v1/models/dummy:predict", predict_body([""], [0]), 400, "empty caption"),
    "non-UTF-8 b64 caption": ("POST", "/v1/models/dummy:predict",
                              predict_body([{"b64": base64.b64encode(b"\xc3\x28").decode()}], [0]), 400,
                              "not valid UTF-8"),
    "lone surrogate": ("POST", "/v1/models/dummy:predict", b'{"inputs": {"captions": ["\\ud800"], "seed": [0]}}',
                       400, "not valid UTF-8"),
    "caption too long": ("POST", "/v1/models/dummy:predict", predict_body(["x" * 10_001], [0]), 400,
                         "over the limit of 10000"),
    "unnamed instances": ("POST", "/v1/models/dummy:predict", {"instances": ["a", "b"]}, 400,
                          "each instance must be an object"),
}


@pytest.mark.parametrize("method, path, body, status, message", BAD_REST.values(), ids=BAD_REST.keys())
def test_bad_rest_requests_are_refused_and_server_keeps_serving(served, method, path, body, status, message):
    got_status, answer = rest(served, method, path, body)
    assert got_status == status
    assert set(answer) == {"error"} and message in answer["error"]
    assert_still_serving(served)


def test_model_config_file_with_versions_and_labels(base_path, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(f"""
        # two versions of the dummy model, one labelled
        model_config_list {{
          config {{
            name: 'dummy'
            base_path: "{base_path}"
            model_platform: "tensorflow"
            model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
            version_labels {{ key: 'stable' value: 1 }}
          }}
        }}
    """)
    (model,) = load_model_config(str(config))
    assert model.versions == (1, 2) and dict(model.version_labels) == {"stable": 1}
    registry = ModelRegistry([model], max_batch_size=4, max_caption_length=100, batching=None)
    try:
        stable = registry.resolve("dummy", label="stable")
        assert stable.version == 1 and registry.resolve("dummy").version == 2
        outputs = stable.signature("").predict({"captions": np.array([b"ab"], object), "seed": np.array([3], np.int32)})
        np.testing.assert_array_equal(outputs["images"], expected_images(["ab"], [3], offset=0))
    finally:
        registry.close()

    with pytest.raises(ConfigError, match="does not exist"):
        find_versions(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="must be its parent"):
        find_versions(str(base_path / "2"))
    with pytest.raises(ConfigError, match="no versions"):
        find_versions(str(base_path / "notes"))


def _bound_ports(server) -> dict:
    """The ports a `serving.server --grpc_port=-1 --rest_port=-1` process says it bound (read from
    its stdout; the lines come once it serves): no port is picked here, released and re-bound."""
    ports = {}
    for line in server.stdout:
        if line.startswith("gRPC PredictionService on "):
            ports["grpc"] = int(line.rsplit(":", 1)[1])
        elif line.startswith("REST API on http://"):
            ports["rest"] = int(line.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        if len(ports) == 2:
            return ports
    raise AssertionError(f"server exited before serving: {server.communicate()[1][-2000:]}")


def test_command_lines(base_path, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "serving.server", "--model_name=dummy", "--grpc_port=-1", "--rest_port=-1"]
    bad = subprocess.Popen(command + [f"--model_base_path={tmp_path / 'missing'}"],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = subprocess.Popen(command + [f"--model_base_path={base_path}"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ports = _bound_ports(server)
        grpc_port, rest_port = ports["grpc"], ports["rest"]
        out = tmp_path / "cli.png"
        run = subprocess.run(
            [sys.executable, "-m", "serving.client", f"--server=127.0.0.1:{rest_port}", "--protocol=rest",
             "--model_name=dummy", "--caption=a red circle", "--caption=a cat", "--seed=2", f"--out={out}"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        images = expected_images(["a red circle", "a cat"], [2, 3])
        np.testing.assert_array_equal(np.asarray(Image.open(out)), client_lib.image_grid(images))
        images = client_lib.GrpcClient(f"127.0.0.1:{grpc_port}", "dummy").predict(["via grpc"], seed=0)
        np.testing.assert_array_equal(images, expected_images(["via grpc"], [0]))

        run = subprocess.run(
            [sys.executable, "-m", "serving.client", f"--server=127.0.0.1:{rest_port}", "--protocol=rest",
             "--model_name=nope", "--caption=a cat", f"--out={tmp_path / 'no.png'}"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 1
        assert run.stderr.strip().splitlines()[-1].startswith("error: server answered HTTP 404: ")
        assert "Traceback" not in run.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        finally:
            server.kill()
    assert server.returncode == 0
    _, stderr = bad.communicate(timeout=60)
    assert bad.returncode == 1
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: model base path")


def test_loopback_clients_ignore_proxies_of_the_environment(served, monkeypatch):
    """A user's http_proxy / grpc_proxy never carries requests to a server on this machine."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy", "grpc_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens there: a used proxy fails
    for var in ("no_proxy", "NO_PROXY", "no_grpc_proxy"):
        monkeypatch.delenv(var, raising=False)
    for host in ("127.0.0.1", "localhost"):
        rest = client_lib.RestClient(f"{host}:{served.rest_port}", "dummy", timeout=10)
        np.testing.assert_array_equal(rest.predict(["via rest"], seed=1), expected_images(["via rest"], [1]))
        with client_lib.GrpcClient(f"{host}:{served.grpc_port}", "dummy", timeout=10) as grpc_client:
            np.testing.assert_array_equal(grpc_client.predict(["via grpc"], seed=2),
                                          expected_images(["via grpc"], [2]))
    assert not client_lib.is_loopback("example.com:8500") and client_lib.is_loopback("[::1]:8500")
