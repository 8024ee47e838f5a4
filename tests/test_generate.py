"""Bad inputs to the inference commands (`t2izoo.generate`, `t2izoo.manipulate`, `t2izoo.evaluate`)
and to `Text2Image.load`: one clear error, never a stack trace (issue #26). They used to end in
a KeyError deep in SISGAN's forward (a manipulation run given to generate), an IndexError from
TensorFlow's checkpoint reader (a truncated checkpoint), a FileNotFoundError (an --out that
cannot be written) or 70 lines of TensorFlow warnings under the error (another run's checkpoint).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.generate import Text2Image

REPO = Path(__file__).resolve().parents[1]


def test_a_manipulation_run_is_not_a_text_to_image_model(tiny_run):
    with pytest.raises(ConfigError, match="image manipulation.*t2izoo.manipulate"):
        Text2Image.load(tiny_run("sisgan"))


def test_a_damaged_checkpoint_is_one_clear_error(tiny_run_copy):
    run = Path(tiny_run_copy("gan_int_cls"))
    ckpt_dir = run / "checkpoints"
    newest = tf.train.latest_checkpoint(str(ckpt_dir))
    data = next(ckpt_dir.glob(Path(newest).name + ".data-*"))
    data.write_bytes(data.read_bytes()[:100])  # a copy cut short
    with pytest.raises(CheckpointError, match=r"incomplete or corrupt \(Read less bytes"):
        Text2Image.load(str(run))
    (ckpt_dir / "checkpoint").write_text("garbage {{\n")
    with pytest.raises(CheckpointError, match="names no readable checkpoint"):
        Text2Image.load(str(run))


def test_the_commands_fail_in_one_line(tiny_run, tmp_path):
    from PIL import Image

    gan, sisgan = tiny_run("gan_int_cls"), tiny_run("sisgan")
    (tmp_path / "a_file").write_text("")
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    other_ckpt = str(sorted(Path(sisgan, "checkpoints").glob("ckpt-*.index"))[-1])[:-len(".index")]
    cases = {  # arguments -> what the one line says
        ("t2izoo.generate", f"--model_dir={gan}", "--caption=a red circle", f"--out={tmp_path}/a_file/x.png"):
            "cannot write it",
        ("t2izoo.generate", f"--model_dir={sisgan}", "--caption=a red circle"): "not a text-to-image model",
        ("t2izoo.manipulate", f"--model_dir={sisgan}", f"--image={image}", "--caption=a red circle",
         f"--out={tmp_path}/a_file/x.png"): "cannot write it",
        ("t2izoo.manipulate", f"--model_dir={sisgan}", f"--image={image}", "--caption= ,. "): "--caption: caption is empty",
        ("t2izoo.evaluate", f"--model_dir={gan}", "--metrics=shapes_acc", "--num_samples=10",
         f"--checkpoint={other_ckpt}"): "cannot restore",
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    procs = {args: subprocess.Popen([sys.executable, "-m", *args], cwd=tmp_path, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in cases}
    for args, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        lines = stderr.splitlines()
        assert proc.returncode == 2, (args, stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and cases[args] in lines[0], (args, stderr)
