"""The venv the tests run in holds exactly ``requirements.lock`` (what ``make install`` installs),
and the lock covers every requirement ``pyproject.toml`` declares."""

from __future__ import annotations

import re
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

from pushbench.core.lockfile import LOCK_NAME, lock_sha256, normalize_name, parse_pins
from pushbench.harness.environment import find_lock

ROOT = Path(__file__).parents[2]
PINS = parse_pins((ROOT / LOCK_NAME).read_text())
#: The project itself: installed editable by `make install`, never pinned in its own lock.
UNPINNED = {"pushbench"}


def _installed() -> dict[str, str]:
    # The venv's site-packages only: importing setuptools puts its vendored distributions on
    # sys.path, and they are not installed packages.
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {
        normalize_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=paths)
    }


def test_every_locked_version_is_the_installed_one() -> None:
    installed = _installed()
    wrong = {
        name: (version, installed.get(name, "missing"))
        for name, version in PINS.items()
        if installed.get(name) != version
    }
    assert not wrong, f"locked -> installed (run `make install`): {wrong}"


def test_nothing_unlocked_is_installed() -> None:
    extra = sorted(set(_installed()) - PINS.keys() - UNPINNED)
    assert not extra, f"installed but not in {LOCK_NAME} (run `make lock`): {extra}"


def test_the_lock_covers_every_declared_requirement() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for requirements in project["optional-dependencies"].values():
        declared += requirements
    names = {normalize_name(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in declared}
    missing = sorted(names - PINS.keys() - UNPINNED)
    assert not missing, f"declared in pyproject.toml but not locked (run `make lock`): {missing}"


def test_pins_are_read_past_hashes_comments_and_the_unsafe_project() -> None:
    text = (
        "Flask_Login==0.6.3 \\\n    --hash=sha256:ab\n    # via locust\n"
        "uvloop==0.23.0 ; sys_platform != 'win32' \\\n"
        "# The following packages are considered to be unsafe in a requirements file:\n"
        "# pushbench\n"
    )
    assert parse_pins(text) == {"flask-login": "0.6.3", "uvloop": "0.23.0"}
    assert lock_sha256(b"x") == (
        "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    )


def test_the_checkout_lock_is_the_one_results_record() -> None:
    assert find_lock() == ROOT / LOCK_NAME
