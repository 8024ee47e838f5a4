"""Shared test set-up: quiet TF, two logical CPUs for MirroredStrategy, a private cache, and one
folder of tiny trained runs for the whole session (`tiny_root`, `tiny_run`, `tiny_run_copy`)."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Always a private cache: never a user's $T2IZOO_CACHE (renders or evaluators of another version).
os.environ["T2IZOO_CACHE"] = tempfile.mkdtemp(prefix="t2izoo-test-cache-")

import pytest  # noqa: E402


def _configure_logical_cpus():
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError:  # already initialised by an earlier import
        pass


_configure_logical_cpus()


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """One folder for every tiny trained run of the session (`t2izoo.testing.tiny.build_tiny_run`).

    Each recipe's tiny run and each text encoder's pretraining run trains once, the first time a
    test asks for it, and is shared by the export, resume, XLA, evaluation, manipulation and
    multi-worker tests (a tiny run costs 10-30 s on two cores; each of those files used to train
    its own). Its runs are read-only: a test that writes into a run (evaluation logs, a damaged
    checkpoint, more steps) works on `tiny_run_copy`.
    """
    return tmp_path_factory.mktemp("tiny-runs")


@pytest.fixture(scope="session")
def tiny_run(tiny_root):
    """`tiny_run(name)`: the model_dir of the shared tiny run `name` (trained on first use)."""
    from t2izoo.testing import tiny

    return lambda name: tiny.build_tiny_run(name, tiny_root)


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path):
    """`tiny_run_copy(name)`: a private copy (under the test's tmp_path) of the shared tiny run
    `name`, for a test that writes into it. Runs it names (its text encoder, a Stage-I run) stay the
    shared, read-only ones."""
    import shutil

    def copy(name):
        return str(shutil.copytree(tiny_run(name), tmp_path / "runs" / name))

    return copy


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
