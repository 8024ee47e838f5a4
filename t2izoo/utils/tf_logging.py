"""Keeps TensorFlow's C++ start-up logging off a command's stderr unless the user asks for it.

Every command (`python -m t2izoo.recipes.<name>`, `t2izoo.generate`, `t2izoo.evaluate`,
`t2izoo.export`, `t2izoo.convert`, `t2izoo.data.preview`, `serving.server`, `serving.client`) calls
`quiet()` first, before anything imports TensorFlow. TensorFlow 2.21 prints 5-8 lines at import and
device start (oneDNN, CUDA probing, `cpu_feature_guard`); the oneDNN and cudart lines show even
with `TF_CPP_MIN_LOG_LEVEL=3` (checked with TF 2.21 here), so `quiet()` also installs an import hook that points file
descriptor 2 at /dev/null while TensorFlow is first imported and lists its devices, then puts it
back: a bad flag's one-line error is then the only line a user sees. TensorFlow stays a lazy import.

The logging stays on when the user asks for it: the environment variable `T2IZOO_TF_LOG=1` or
absl's `--verbosity=N` / `-v N` with N >= 1 on the command line. A `TF_CPP_MIN_LOG_LEVEL` the user
set is kept.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
from typing import Mapping, Sequence

ENV_VAR = "T2IZOO_TF_LOG"
QUIET_CPP_LEVEL = "2"  # hide INFO and WARNING from TensorFlow's C++ logging


def _verbosity_from_argv(argv: Sequence[str]):
    """The value of absl's --verbosity / -v in argv, or None."""
    for i, arg in enumerate(argv):
        for name in ("--verbosity", "-verbosity", "-v", "--v"):
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def wants_tf_logging(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """True when the user asked for TensorFlow's logging (T2IZOO_TF_LOG=1 or --verbosity >= 1)."""
    if environ.get(ENV_VAR, "").strip() not in ("", "0"):
        return True
    value = _verbosity_from_argv(argv)
    if value is None:
        return False
    try:
        return int(value) >= 1
    except ValueError:
        return False


@contextlib.contextmanager
def _stderr_to_devnull():
    """Points file descriptor 2 (what C++ logging writes to) at /dev/null for the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreter): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports `tensorflow`, when something first does, with stderr pointed at /dev/null.

    TensorFlow stays a lazy import (a command whose flags are wrong still fails before loading it).
    Python exceptions raised meanwhile propagate and are printed after stderr is back.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec_module(module):
            with _stderr_to_devnull():
                exec_module(module)
                # Probing the platforms (CUDA) logs too; listing physical devices does not start the
                # runtime, so a later logical-device split (MirroredStrategy over CPUs) still works.
                module.config.list_physical_devices()

        spec.loader.exec_module = quiet_exec_module
        return spec


def quiet(argv: Sequence[str] = None, environ=None) -> bool:
    """Hides TensorFlow's C++ start-up logging unless the user asked for it; True when hidden."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if wants_tf_logging(argv, environ):
        return False
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_CPP_LEVEL)
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    return True
