"""Command-line helpers (`t2izoo.utils.cli`)."""

import pytest

from t2izoo.errors import ConfigError
from t2izoo.utils.cli import writing


def test_writing_turns_an_os_error_into_one_line_naming_the_flag(tmp_path):
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "grid.png"  # a file where a folder should be
    with pytest.raises(ConfigError, match=r"--out=.*grid\.png: cannot write it \(.*a_file: ") as err:
        with writing(str(out)):
            out.parent.mkdir(parents=True, exist_ok=True)
    assert "\n" not in str(err.value)
    with writing(str(tmp_path / "ok.png")):  # no error: nothing raised, the block's result kept
        (tmp_path / "ok.png").write_bytes(b"x")
    assert (tmp_path / "ok.png").read_bytes() == b"x"
    with pytest.raises(KeyError):  # not an OSError: passed on unchanged
        with writing(str(out)):
            raise KeyError("bug")
