"""User-facing errors.

Everything a user can get wrong (flags, paths, data files, checkpoints) raises one of these
with a message that names the file or value and says what was expected. Command-line entry
points catch `T2IError` and print the message on one line instead of a stack trace.
"""


class T2IError(Exception):
    """Base class for errors that carry a user-readable message."""


class ConfigError(T2IError, ValueError):
    """A flag, preset, override or stored run configuration is invalid."""


class DataError(T2IError, ValueError):
    """A dataset root, file, image or caption is missing or malformed."""


class CheckpointError(T2IError, RuntimeError):
    """A model directory or checkpoint is missing, incomplete or incompatible."""


class TrainingDiverged(T2IError, RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
