"""The serving configuration files: models.config (TF Serving's own proto parser) and the
batching parameters file (a small text-format reader); fast, no model is loaded."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serving.batching import BatchingParameters, parse_text_proto
from serving.model_config import ModelConfig, load_model_config, parse_model_config
from t2izoo.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repo_models_config_parses_with_tf_serving_proto():
    assert load_model_config(str(REPO / "export" / "models.config")) == [
        ModelConfig("shapes_gan_int_cls", "/models/shapes_gan_int_cls", version_policy="latest", num_versions=1),
        ModelConfig("shapes_stackgan_v2", "/models/shapes_stackgan_v2", version_policy="specific",
                    versions=(1, 2), version_labels={"stable": 1, "canary": 2}),
    ]


def test_version_policies():
    all_versions, latest = parse_model_config("""
        model_config_list {
          config { name: "all" base_path: "/m/all" model_version_policy { all {} } }
          config { name: "latest" base_path: "rel/latest" model_version_policy { latest { num_versions: 3 } } }
        }""")
    assert all_versions == ModelConfig("all", "/m/all", version_policy="all")
    assert latest == ModelConfig("latest", "rel/latest", version_policy="latest", num_versions=3)
    (default,) = parse_model_config("model_config_list { config { name: 'd' base_path: '/d' } }")
    assert default == ModelConfig("d", "/d")  # latest, one version, as TF Serving


BAD_MODEL_CONFIGS = {
    "unclosed block": ("model_config_list {\n  config {\n    name: 'a'\n    base_path: '/m/a'\n  }\n",
                       r"line 5: Expected \"}\""),
    "unknown field": ("model_config_list {\n  config {\n    name: 'a'\n    base_pth: '/m/a'\n  }\n}\n",
                      r"line 4: .* has no field named \"base_pth\""),
    "not an integer": ("model_config_list { config { name: 'a' base_path: '/a'\n"
                       "  model_version_policy { specific { versions: x } } } }", "line 2: .*integer"),
    "two policies": ("model_config_list { config { name: 'a' base_path: '/a'\n"
                     "  model_version_policy { latest {} all {} } } }", "line 2: .*oneof"),
    "empty file": ("# nothing here\n", "expected one `model_config_list"),
    "no config entries": ("model_config_list { }", "has no config entries"),
    "missing base_path": ("model_config_list { config { name: 'a' } }", "config 'a': every config needs name and base_path"),
    "other platform": ("model_config_list { config { name: 'a' base_path: '/a' model_platform: 'pytorch' } }",
                       "model_platform must be 'tensorflow', got 'pytorch'"),
    "repeated name": ("model_config_list { config { name: 'a' base_path: '/a' } config { name: 'a' base_path: '/b' } }",
                      r"model names must be unique, got \['a', 'a'\]"),
    "specific without versions": ("model_config_list { config { name: 'a' base_path: '/a'"
                                  " model_version_policy { specific {} } } }", "needs at least one version"),
}


@pytest.mark.parametrize("text, message", BAD_MODEL_CONFIGS.values(), ids=BAD_MODEL_CONFIGS.keys())
def test_malformed_models_config_gives_one_line(tmp_path, text, message):
    path = tmp_path / "models.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_model_config(str(path))
    assert "\n" not in str(error.value)


def test_unreadable_models_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read model config file .*missing.config"):
        load_model_config(str(tmp_path / "missing.config"))
    path = tmp_path / "latin1.config"
    path.write_bytes(b"model_config_list { config { name: 'caf\xe9' base_path: '/a' } }")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_model_config(str(path))


def test_server_command_line_refuses_malformed_models_config(tmp_path):
    path = tmp_path / "models.config"
    path.write_text("model_config_list {\n  config {\n    name: 'a'\n    base_pth: '/m/a'\n  }\n}\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-m", "serving.server", f"--model_config_file={path}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f'error: {path} line 4: Message type "tensorflow.serving.ModelConfig" has no field named "base_pth".')


def test_repo_batching_config():
    assert BatchingParameters.from_file(str(REPO / "export" / "batching.config")) == BatchingParameters(
        max_batch_size=32, batch_timeout_micros=5000, num_batch_threads=4, max_enqueued_batches=100)


def test_malformed_batching_parameters():
    with pytest.raises(ConfigError, match="line 2"):
        parse_text_proto("a: 1\nb { c: 2", "x.config")
    with pytest.raises(ConfigError, match="unknown field"):
        BatchingParameters.from_text("max_batch_size { value: 4 } max_batch { value: 2 }")
    with pytest.raises(ConfigError, match="must equal max_batch_size"):
        BatchingParameters.from_text("max_batch_size { value: 4 } allowed_batch_sizes: 2")
