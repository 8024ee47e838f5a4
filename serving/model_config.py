"""TF Serving's `--model_config_file` (models.config), read with TF Serving's own parser.

The file is a `tensorflow.serving.ModelServerConfig` text proto; it is parsed with
`google.protobuf.text_format` into the message class shipped by tensorflow-serving-api, so
what TF Serving accepts is accepted here, and a mistake gives one line naming the file and
line instead of a stack trace.

Example:
    models = load_model_config("export/models.config")   # list of ModelConfig
"""

from __future__ import annotations

import dataclasses
import re

from t2izoo.errors import ConfigError


def read_config_file(path: str, what: str) -> str:
    """The text of a configuration file, or ConfigError with one line saying why not.

    Args:
        path: the file.
        what: what the file is, for the message ("model config file").
    """
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read {what} {path}: not UTF-8 text (byte {e.start})") from None


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One served model, as a `config { ... }` entry of TF Serving's models.config.

    Args:
        name: model name used in requests.
        base_path: folder holding numeric version folders, each a SavedModel.
        version_policy: "latest" (the `num_versions` highest), "all" or "specific".
        num_versions: for "latest".
        versions: for "specific".
        version_labels: label -> version, e.g. {"stable": 1}.
    """

    name: str
    base_path: str
    version_policy: str = "latest"
    num_versions: int = 1
    versions: tuple = ()
    version_labels: tuple = ()  # (label, version) pairs; a dict is accepted too

    def __post_init__(self):
        if not self.name or "/" in self.name or ":" in self.name:
            raise ConfigError(f"model name must be non-empty without '/' or ':', got {self.name!r}")
        if self.version_policy not in ("latest", "all", "specific"):
            raise ConfigError(
                f"model {self.name}: version policy must be latest, all or specific, got {self.version_policy!r}")
        if self.version_policy == "latest" and self.num_versions < 1:
            raise ConfigError(f"model {self.name}: num_versions must be >= 1, got {self.num_versions}")
        if self.version_policy == "specific" and not self.versions:
            raise ConfigError(f"model {self.name}: the specific version policy needs at least one version")
        labels = self.version_labels
        if isinstance(labels, dict):
            labels = tuple(sorted(labels.items()))
        object.__setattr__(self, "version_labels", tuple(labels))
        object.__setattr__(self, "versions", tuple(int(v) for v in self.versions))


def parse_model_config(text: str, where: str = "model config") -> list:
    """Parses a `model_config_list` text proto (see `load_model_config`).

    Args:
        text: the file's contents.
        where: the file name, used in error messages.

    Returns:
        list of ModelConfig.

    Raises:
        ConfigError: syntax error or unknown field (naming the line), missing name/base_path,
            a platform other than tensorflow, bad version policy, repeated model names.
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    server_config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, server_config)
    except text_format.ParseError as e:
        message = re.sub(r"^\d+(?::\d+)? : ", "", str(e))  # the line goes in front, as ours
        line = e.GetLine()
        raise ConfigError(f"{where} line {line}: {message}" if line else f"{where}: {message}") from None
    if server_config.WhichOneof("config") != "model_config_list":
        raise ConfigError(f"{where}: expected one `model_config_list {{ config {{ ... }} }}` block")
    configs = []
    for entry in server_config.model_config_list.config:
        entry_where = f"{where}: config {(entry.name or '?')!r}"
        if not entry.name or not entry.base_path:
            raise ConfigError(f"{entry_where}: every config needs name and base_path")
        platform = entry.model_platform or "tensorflow"
        if platform != "tensorflow":
            raise ConfigError(f"{entry_where}: model_platform must be 'tensorflow', got {platform!r}")
        policy = entry.model_version_policy
        kind = policy.WhichOneof("policy_choice") or "latest"
        configs.append(ModelConfig(
            name=entry.name, base_path=entry.base_path, version_policy=kind,
            # TF Serving serves at least one version when num_versions is left at 0.
            num_versions=max(policy.latest.num_versions, 1),
            versions=tuple(policy.specific.versions) if kind == "specific" else (),
            version_labels=dict(entry.version_labels)))
    if not configs:
        raise ConfigError(f"{where}: model_config_list has no config entries")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: model names must be unique, got {names}")
    return configs


def load_model_config(path: str) -> list:
    """Reads TF Serving's `--model_config_file` (a `model_config_list` text proto).

    Relative base paths are taken relative to the working directory, as TF Serving does.

    Args:
        path: the models.config file.

    Returns:
        list of ModelConfig.

    Raises:
        ConfigError: unreadable file, syntax error, missing name/base_path, bad version policy.
    """
    return parse_model_config(read_config_file(path, "model config file"), where=path)
