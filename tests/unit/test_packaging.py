"""What ``pip install .`` puts into site-packages: ``pushbench`` and ``target_app``, nothing with a
generic top-level name (``benchmarks``, ``loadtests``, ``tests``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

from pushbench.harness.launcher import missing_modules

ROOT = Path(__file__).parents[2]


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return find_packages(where=str(ROOT), include=include)


def test_the_wheel_holds_pushbench_and_target_app_only() -> None:
    assert {name.split(".")[0] for name in _packages()} == {"pushbench", "target_app"}


def test_every_pushbench_folder_with_modules_is_a_package_the_wheel_ships() -> None:
    """A layer folder without ``__init__.py`` would be left out of the wheel silently."""
    shipped = set(_packages())
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "pushbench").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert folders <= shipped


def test_the_locust_entry_point_ships_inside_the_package() -> None:
    assert (ROOT / "pushbench" / "locust" / "locustfile.py").is_file()
    assert "loadtests" not in {name.split(".")[0] for name in _packages()}


def test_dev_pulls_every_extra_so_make_install_can_run_every_test() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    users = set(extras) - {"dev", "all"}
    assert f"pushbench[{','.join(sorted(users))}]" in extras["dev"]
    assert extras["all"] == [f"pushbench[{','.join(sorted(users))}]"]


def test_missing_server_modules_are_named_without_importing_them() -> None:
    assert missing_modules(("json", "no_such_module_for_pushbench")) == [
        "no_such_module_for_pushbench"
    ]
    assert missing_modules() == []  # the dev install has the [server] extra
