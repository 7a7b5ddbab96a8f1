"""The published package: ``pip wheel .`` builds, and the wheel works from a fresh venv.

The wheel is installed first without extras (the ``pushbench`` command and its help work, and a
command that needs the reference server says which extra it lacks), then with ``[server]``, where
``pushbench compare --quick`` measures the venv's own installed ``target_app``. Everything runs
from a temporary directory, so nothing of the checkout can shadow the installed packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
#: What the build needs of the checkout (the sdist's contents), copied so that building leaves
#: no ``build/`` or ``*.egg-info`` in the checkout.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "pushbench", "target_app")


def _run(
    command: list[str], cwd: Path, limit_s: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout(limit_s)
    )
    if check:
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(dist)], source, 180)
    (wheel,) = dist.glob("pushbench-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_compare(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pushbench/py.typed", "target_app/py.typed", "pushbench/__main__.py"} <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), sorted(names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    python, pip = str(venv / "bin" / "python"), [str(venv / "bin" / "python"), "-m", "pip"]
    _run([*pip, "install", "--quiet", str(wheel)], tmp_path, 300)

    # The base install: the command and its help, but not the server's dependencies.
    assert "compare" in _run([str(venv / "bin" / "pushbench"), "--help"], tmp_path, 60).stdout
    assert "compare" in _run([python, "-m", "pushbench", "--help"], tmp_path, 60).stdout
    no_server = _run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('fastapi'))"], tmp_path, 60
    )
    assert no_server.stdout.strip() == "None"
    quick = [
        str(venv / "bin" / "pushbench"), "compare", "--quick", "--transports", "ws",
        "--flavor", "asgi", "--duration", "1", "--warmup", "0", "--no-pin", "--out", "reports",
    ]  # fmt: skip
    refused = _run(quick, tmp_path, 60, check=False)
    # A run error (the scenario could not start), recorded and gated as such: exit 1.
    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "pushbench[server]" in refused.stdout + refused.stderr
    shutil.rmtree(tmp_path / "reports")

    # With the server extra: a real comparison against the venv's own target_app.
    _run([*pip, "install", "--quiet", f"{wheel}[server]"], tmp_path, 300)
    where = _run([python, "-c", "import target_app; print(target_app.__file__)"], tmp_path, 60)
    assert where.stdout.startswith(str(venv)), where.stdout
    _run(quick, tmp_path, 120)
    (results,) = (tmp_path / "reports").glob("*-compare-*/results.json")
    (scenario,) = load_results(results).scenarios
    assert scenario.delivered == scenario.sent > 0
