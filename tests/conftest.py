"""Shared test set-up: quiet TF, two logical CPUs for MirroredStrategy, a private cache."""

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


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
