"""Command-line helpers: one-line errors instead of stack traces."""

import sys

from t2izoo.errors import T2IError


def run_main(fn, *args, **kwargs):
    """Runs `fn`; a T2IError (bad flag, path, data, checkpoint) exits with its message only."""
    try:
        return fn(*args, **kwargs)
    except T2IError as err:
        print(f"error: {err}", file=sys.stderr)
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
