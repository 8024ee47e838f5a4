"""Command-line helpers: one-line errors instead of stack traces."""

import contextlib
import logging
import os
import sys

from t2izoo.errors import ConfigError, T2IError


def run_main(fn, *args, **kwargs):
    """Runs `fn`; a T2IError (bad flag, path, data, checkpoint) exits with its message only."""
    try:
        return fn(*args, **kwargs)
    except T2IError as err:
        print(f"error: {err}", file=sys.stderr)
        if "tensorflow" in sys.modules:
            # A failed restore leaves a checkpoint whose deletion at exit logs every value it did
            # not restore (70+ lines under the error for a checkpoint of another architecture).
            logging.getLogger("tensorflow").setLevel(logging.ERROR)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def parse_flags(argv):
    """absl `app.run(..., flags_parser=parse_flags)`: a bad or missing flag is one `error:` line, exit 2.

    absl's own parser prints two lines ("FATAL Flags parsing error: ..." and a hint); this prints one.
    """
    from absl import flags

    try:
        return flags.FLAGS(argv)
    except flags.Error as err:
        print(f"error: {err} (see --helpshort)", file=sys.stderr)
        sys.exit(2)


@contextlib.contextmanager
def writing(path: str, flag: str = "--out"):
    """Turns an OSError while the block writes `path` (a folder that cannot be made, a file where
    a folder should be, no permission, a full disk) into a one-line ConfigError naming the flag."""
    try:
        yield
    except OSError as err:
        where = f"{err.filename}: " if err.filename and os.path.abspath(err.filename) != os.path.abspath(path) else ""
        raise ConfigError(f"{flag}={path}: cannot write it ({where}{err.strerror or type(err).__name__})") from None
