"""The multi-worker set-up's checks that need no second process: TF_CONFIG, chief choice, stops."""

import json
import os
import tempfile

import pytest
import tensorflow as tf

from t2izoo.errors import ConfigError
from t2izoo.trainers import run_loop

CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize("text, fragment", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{not json", "TF_CONFIG is not a valid cluster spec (JSONDecodeError"),
    (json.dumps({"cluster": CLUSTER}), "TF_CONFIG is not a valid cluster spec (KeyError: 'task')"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 2}}), "task index 2 is outside its 2"),
    (json.dumps({"cluster": CLUSTER, "task": {"type": "ps", "index": 0}}), "(KeyError: 'ps')"),
])
def test_a_bad_tf_config_is_one_line_naming_the_problem(text, fragment):
    with pytest.raises(ConfigError) as info:
        run_loop.check_tf_config(text)
    message = str(info.value)
    assert fragment in message and "\n" not in message and '"cluster"' in message  # shows a valid example


def test_a_valid_tf_config_passes():
    run_loop.check_tf_config(json.dumps({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}))


class _Resolver:
    def __init__(self, cluster, task_type, task_id):
        self.task_type, self.task_id = task_type, task_id
        self._spec = tf.train.ClusterSpec(cluster)

    def cluster_spec(self):
        return self._spec


class _Strategy:
    def __init__(self, *args):
        self.cluster_resolver = _Resolver(*args)


def test_the_chief_task_writes_and_worker_0_only_without_one():
    assert run_loop.is_chief(_Strategy(CLUSTER, "worker", 0))
    assert not run_loop.is_chief(_Strategy(CLUSTER, "worker", 1))
    with_chief = {"chief": ["127.0.0.1:3"], **CLUSTER}
    assert run_loop.is_chief(_Strategy(with_chief, "chief", 0))
    assert not run_loop.is_chief(_Strategy(with_chief, "worker", 0))
    assert run_loop.is_chief(tf.distribute.get_strategy())  # one process


def test_a_single_process_decides_stops_alone():
    strategy = tf.distribute.get_strategy()
    assert run_loop.any_worker(strategy, True) is True
    assert run_loop.any_worker(strategy, False) is False


def test_a_non_chief_worker_writes_to_a_private_copy(tmp_path, monkeypatch):
    model_dir = tmp_path / "run"
    (model_dir / "checkpoints").mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    monkeypatch.setattr(tempfile, "tempdir", None)
    work = run_loop.worker_dir(str(model_dir), _Strategy(CLUSTER, "worker", 1))
    assert work.startswith(str(tmp_path / "tmp"))
    assert sorted(os.listdir(work)) == ["config.json"]  # top-level files only
    assert run_loop.worker_dir(str(model_dir), _Strategy(CLUSTER, "worker", 0)) == str(model_dir)
