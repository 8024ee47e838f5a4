"""What a user sees when a command is given a bad flag: one `error:` line on stderr, no TensorFlow
start-up logging above it, a non-zero exit.

One subprocess per entry point, all started at once (a TensorFlow start costs ~5-20 s here). The
subprocesses get the user's default environment: no TF_CPP_MIN_LOG_LEVEL, no T2IZOO_TF_LOG.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from t2izoo.utils import tf_logging

REPO = Path(__file__).resolve().parents[1]

# entry point -> (bad arguments, what the one line says). Most of them import TensorFlow before the
# error, so the TensorFlow start-up lines would show if they were not hidden.
BAD_FLAGS = {
    "t2izoo.recipes.gan_int_cls": (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
    "t2izoo.recipes.damsm": (["--dataset=nope"], "--dataset=nope"),
    "t2izoo.generate": (["--model_dir=/no/such/run", "--caption=a red circle"], "/no/such/run"),
    "t2izoo.manipulate": (["--image=in.png", "--caption=a red circle"], "--model_dir"),
    "t2izoo.evaluate": (["--model_dir=/no/such/run", "--num_samples=0"], "--num_samples=0"),
    "t2izoo.export": (["--model_dir=/no/such/run", "--out=/tmp/unused", "--format=onnx"], "--format='onnx'"),
    "t2izoo.convert": (["--checkpoint=g.pth", "--out=/tmp/unused"], "--from"),
    "t2izoo.data.preview": (["--dataset=nope"], "--dataset=nope"),
    "t2izoo.metrics": (["--split=nope"], "--split=nope"),  # argparse printed its usage line above the error
    "serving.server": (["--model_base_path=/no/such", "--grpc_port=0", "--rest_port=0"],
                       "cannot both be 0"),
    "serving.client": (["--caption=a red circle"], "--model_name"),
}


@pytest.fixture(scope="module")
def bad_flag_runs(tmp_path_factory):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", tf_logging.ENV_VAR, "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(REPO)
    cwd = tmp_path_factory.mktemp("cwd")  # nothing a failed start could write lands in the repo
    procs = {module: subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for module, (args, _) in BAD_FLAGS.items()}
    results = {}
    for module, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results[module] = (proc.returncode, out, err)
    assert list(cwd.iterdir()) == [], "a command that failed on its flags wrote files"
    return results


@pytest.mark.parametrize("module", list(BAD_FLAGS))
def test_bad_flag_is_one_line(bad_flag_runs, module):
    returncode, _, stderr = bad_flag_runs[module]
    lines = stderr.splitlines()
    assert returncode != 0
    assert len(lines) == 1, f"{module} printed {len(lines)} lines on stderr:\n{stderr}"
    assert lines[0].startswith("error: ")
    assert BAD_FLAGS[module][1] in lines[0]


@pytest.mark.parametrize("argv, environ, wanted", [
    (["prog"], {}, False),
    (["prog", "--verbosity=1"], {}, True),
    (["prog", "-v", "2"], {}, True),
    (["prog", "--verbosity", "0"], {}, False),
    (["prog", "--verbosity=-1"], {}, False),
    (["prog"], {"T2IZOO_TF_LOG": "1"}, True),
    (["prog"], {"T2IZOO_TF_LOG": "0"}, False),
])
def test_tf_logging_stays_on_when_asked(argv, environ, wanted):
    assert tf_logging.wants_tf_logging(argv, environ) is wanted
    environ = dict(environ)
    assert tf_logging.quiet(argv, environ) is (not wanted)
    # A user's own TF_CPP_MIN_LOG_LEVEL is never replaced; otherwise quiet sets INFO and WARNING off.
    assert environ.get("TF_CPP_MIN_LOG_LEVEL") == (None if wanted else tf_logging.QUIET_CPP_LEVEL)
    kept = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    tf_logging.quiet(argv, kept)
    assert kept["TF_CPP_MIN_LOG_LEVEL"] == "0"
