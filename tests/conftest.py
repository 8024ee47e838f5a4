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

    Under pytest-xdist every worker uses the same folder, beside the workers' own temporary
    folders (`getbasetemp().parent`, the controller's base folder): a run trains once for all of
    them (`build_tiny_run` trains under a lock that the other workers wait on).
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "tiny-runs"
        root.mkdir(exist_ok=True)
        return root
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


def pytest_addoption(parser, pluginmanager):
    """Without pytest-xdist (`-p no:xdist`, or not installed) `pytest.ini`'s `-n 2 --dist loadgroup`
    are accepted and ignored: the suite runs in one process (`_addoption`: pytest keeps lowercase
    short options for plugins; pytest-xdist registers its `-n` the same way)."""
    if not pluginmanager.hasplugin("xdist"):
        group = parser.getgroup("xdist stand-in")
        group._addoption("-n", "--numprocesses", dest="numprocesses", default=None,
                         help="ignored: pytest-xdist is not loaded")
        group.addoption("--dist", dest="dist", default="no", help="ignored: pytest-xdist is not loaded")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`pytest.ini` runs `-n 2 --dist loadgroup`), the tests of a module that
    share a module-scoped fixture (a trained run, an export, a server) go to one worker, so it is
    built once: each such test joins the group of its module and of the values of its module-scoped
    fixture parameters (`tests/export/test_export.py`: one group per exported run). The others are
    spread test by test. Runs without xdist (`-n 0`, `-p no:xdist`) ignore the marks."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group"):
            continue
        defs = info.name2fixturedefs
        shared = [name for name in item.fixturenames if name in defs and defs[name][-1].scope in ("module", "class")]
        if not shared:
            continue
        callspec = getattr(item, "callspec", None)
        params = sorted(f"{k}={callspec.params[k]}" for k in (callspec.params if callspec else ())
                        if k in defs and defs[k][-1].scope in ("module", "class"))
        item.add_marker(pytest.mark.xdist_group("|".join([item.module.__name__, *params])))
