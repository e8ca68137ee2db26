"""scripts/find-python, which `make` uses to make the virtualenv: the newest
Python 3.12–3.14 on the machine, plain or pyenv's. Run against made-up
interpreters on a PATH of their own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# pyenv's shim for a Python that is not pyenv's global one runs it only when asked by name.
PYENV_SHIM = 'if [ -n "${PYENV_VERSION:-}" ]; then echo "/pyenv/$PYENV_VERSION/bin/python"; exit 0; fi'


def find_python(
    tmp_path: Path, *, plain: tuple[str, ...] = (), pyenv: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    """Run the script where the only interpreters are `plain` ones ("3.12": a
    python3.12 on PATH) and pyenv's versions `pyenv` ("3.13.0"), whose shims run
    only with PYENV_VERSION set, as where pyenv's global Python is another."""
    bin = tmp_path / "bin"
    bin.mkdir()
    for tool in ("bash", "env", "grep", "sort"):
        (bin / tool).symlink_to(shutil.which(tool) or tool)
    shims = {version.rsplit(".", 1)[0] for version in pyenv}
    for minor in shims | set(plain):
        body = [PYENV_SHIM] if minor in shims else []
        body.append(f"echo /usr/bin/python{minor}" if minor in plain else "exit 127")
        write_script(bin / f"python{minor}", *body)
    if pyenv:
        write_script(bin / "pyenv", "printf '%s\\n' " + " ".join(pyenv))
    result = subprocess.run(
        [str(bin / "bash"), str(ROOT / "scripts" / "find-python")],
        env={"PATH": str(bin)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.returncode, result.stdout.strip(), result.stderr


def write_script(path: Path, *lines: str) -> None:
    path.write_text("\n".join(["#!/bin/sh", *lines, ""]))
    path.chmod(0o755)


def test_the_newest_plain_python_wins(tmp_path: Path) -> None:
    assert find_python(tmp_path, plain=("3.12", "3.13", "3.14")) == (
        0,
        "/usr/bin/python3.14",
        "",
    )


def test_pyenvs_newer_python_wins_over_an_older_plain_one(tmp_path: Path) -> None:
    code, found, _ = find_python(tmp_path, plain=("3.12",), pyenv=("3.11.7", "3.13.0"))
    assert (code, found) == (0, "/pyenv/3.13.0/bin/python")


def test_pyenvs_newest_patch_release_wins(tmp_path: Path) -> None:
    code, found, _ = find_python(tmp_path, pyenv=("3.12.1", "3.14.0", "3.14.2", "3.10.13"))
    assert (code, found) == (0, "/pyenv/3.14.2/bin/python")


def test_only_3_12_still_works(tmp_path: Path) -> None:
    assert find_python(tmp_path, plain=("3.12",))[:2] == (0, "/usr/bin/python3.12")


def test_without_a_supported_python_it_says_what_to_install(tmp_path: Path) -> None:
    code, found, error = find_python(tmp_path, plain=("3.11",), pyenv=("3.11.7", "3.15.0"))
    assert (code, found) == (1, "")
    assert "aurio needs Python 3.12, 3.13 or 3.14" in error
