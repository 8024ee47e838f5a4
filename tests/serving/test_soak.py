"""A short soak of the serving stand-in over an exported tiny model (benchmarks/bench_serving_soak.py
is the long one): 16 concurrent loopback clients for a bounded time, a fifth of the requests bad.

Every good answer equals a direct SavedModel call for its captions and seeds, every bad one gets
its INVALID_ARGUMENT / NOT_FOUND, no connection is reset or refused, and the server still answers
afterwards. The clients run with a bogus proxy in the environment: loopback never goes through it.
"""

import os

import numpy as np
import pytest

from serving import soak as soak_lib
from serving.batching import BatchingParameters
from serving.model_config import ModelConfig
from serving.server import ModelServer

MAX_BATCH = 4


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """`soak_lib.tiny_export` of the session's shared tiny GAN-INT-CLS run (tests/conftest.py)."""
    from t2izoo.export import saved_model

    base = str(tmp_path_factory.mktemp("soak"))
    saved_model.export_saved_model(tiny_run("gan_int_cls"), base, "soak", version=1)
    base = os.path.join(base, "soak")
    return base, soak_lib.expected_images(os.path.join(base, "1"), seeds=range(4))


def test_soak_answers_every_request_correctly(exported, monkeypatch):
    base, expected = exported
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens there: a used proxy fails
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    server = ModelServer([ModelConfig("soak", base)], grpc_port=0, rest_port=0, batching=BatchingParameters(
        max_batch_size=MAX_BATCH, batch_timeout_micros=2000, num_batch_threads=2))
    server.start()
    try:
        tally = soak_lib.soak(f"127.0.0.1:{server.grpc_port}", f"127.0.0.1:{server.rest_port}", "soak", expected,
                              seconds=12, clients=16, bad_fraction=0.2, max_batch_size=MAX_BATCH, seed=3)
        after = soak_lib.soak(f"127.0.0.1:{server.grpc_port}", f"127.0.0.1:{server.rest_port}", "soak", expected,
                              seconds=0.5, clients=1, bad_fraction=0.0, max_batch_size=MAX_BATCH, seed=4)
    finally:
        server.stop()
    summary = "\n".join(soak_lib.report(tally))
    assert tally["good"] >= 20 and tally["bad"] >= 5, summary
    assert tally["correct"] == tally["good"], summary
    assert tally["bad_wrong_status"] == 0, summary
    assert not tally["connection_errors"], summary
    assert after["correct"] == after["good"] >= 1, "the server stopped answering after the soak"
    # Every answer was an image of the model, not a blank: the requests drew different images.
    assert len({v.tobytes() for v in expected.values()}) > 1
    assert all(np.asarray(v).dtype == np.uint8 for v in expected.values())
