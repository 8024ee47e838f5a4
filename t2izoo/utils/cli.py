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
