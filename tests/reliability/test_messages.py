"""The one line a user mistake becomes: never a bare number, an encoding name or a traceback."""

from __future__ import annotations

import errno

import pytest
import typer

from alignlab.cli._common import _one_line, user_errors


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (FileExistsError(errno.EEXIST, "File exists", "/r/x"),
         "/r/x: file exists (a file is in the way of a folder)"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/r/y"),
         "/r/y: no such file or directory"),
        (PermissionError(errno.EACCES, "Permission denied", "/r/z"),
         "/r/z: permission denied; choose a path you can write"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/a", None, "/b"),
         "/a -> /b: is a directory (a folder where a file is expected)"),
        (FileExistsError(17), "file exists (a file is in the way of a folder)"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),
        (ValueError(2), "ValueError: 2"),
        (ValueError(""), "ValueError"),
        (ValueError("two\n  lines"), "two lines"),
        (UnicodeDecodeError("utf-8", b"caf\xe9", 3, 4, "invalid continuation byte"),
         "not UTF-8 text (byte 3: invalid continuation byte); save the file as UTF-8"),
    ],  # fmt: skip
)
def test_every_exception_shape_is_one_readable_line(exc, line):
    assert _one_line(exc) == line


def test_a_bug_is_a_traceback_and_exit_1_but_a_user_mistake_is_exit_2(capsys):
    with pytest.raises(typer.Exit) as info, user_errors():
        raise KeyError("internal")
    assert info.value.exit_code == 1
    assert "this is a bug in alignlab" in capsys.readouterr().err
    with pytest.raises(typer.Exit) as info, user_errors():
        raise ValueError("[bold]not markup[/bold] k=[0, 1]")
    assert info.value.exit_code == 2
    assert capsys.readouterr().err.strip() == "error: [bold]not markup[/bold] k=[0, 1]"


def test_a_file_a_library_cannot_read_is_named_by_the_reader_s_path(tmp_path, capsys):
    from alignlab.features_io import load_layers

    bad = tmp_path / "feats.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(typer.Exit) as info, user_errors():
        load_layers(bad)
    assert info.value.exit_code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad} cannot be read (BadZipFile") and "\n" not in err
