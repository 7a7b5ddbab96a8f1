"""Capture where a run happened: interpreter, platform, CPUs, the versions of every package the run
imported, the lock file's hash, git commit.

Kept apart from :mod:`pushbench.core.schema` because it does I/O (it runs ``git``); the schema only
describes the data.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from pushbench.core.lockfile import LOCK_NAME, lock_sha256, normalize_name
from pushbench.core.schema import CpuClock, CpuClocks, Environment
from pushbench.harness.cpu_clock import CPU_CLOCK, CPU_RESOLUTION_NS

__all__ = [
    "KEY_PACKAGES",
    "cpu_clocks",
    "cpu_model",
    "environment",
    "find_lock",
    "git_commit",
    "imported_packages",
    "package_versions",
    "server_record",
]

#: Distributions whose versions change what is measured, recorded even when this process did not
#: import them (the reference server runs in its own process, from the same environment);
#: missing ones are left out.
KEY_PACKAGES: tuple[str, ...] = (
    "pushbench",
    "fastapi",
    "starlette",
    "uvicorn",
    "granian",
    "hypercorn",
    "gunicorn",
    "uvicorn-worker",
    "h11",
    "websockets",
    "wsproto",
    "httptools",
    "uvloop",
    "aiohttp",
    "pydantic",
    "hdrhistogram",
    "locust",
    "redis",
)

_SOURCE_DIR = Path(__file__).resolve().parent


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution in ``names``; ones not installed are absent."""
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def server_record(server: str) -> dict[str, str | None]:
    """``{"name": "granian", "version": "2.8.9"}``: the ASGI server a run's figures belong to,
    as its results' config records it (version None when it is not installed here)."""
    return {"name": server, "version": package_versions((server,)).get(server)}


def imported_packages(modules: Mapping[str, object] | None = None) -> dict[str, str]:
    """Distribution -> version of every installed distribution a module in ``modules``
    (default: this process's ``sys.modules``) comes from; the standard library has none."""
    names = {name.partition(".")[0] for name in (sys.modules if modules is None else modules)}
    providers = metadata.packages_distributions()
    distributions = {dist for name in names for dist in providers.get(name, ())}
    return package_versions(distributions)


def find_lock(source_dir: Path = _SOURCE_DIR) -> Path | None:
    """The checkout's ``requirements.lock`` (pushbench run from a checkout), else None."""
    path = source_dir.parents[1] / LOCK_NAME
    return path if path.is_file() else None


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``; else what :mod:`platform` says), or None."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def git_commit(cwd: str | os.PathLike[str] = _SOURCE_DIR, timeout_s: float = 5.0) -> str | None:
    """The commit checked out at ``cwd`` (default: pushbench's own source), or None.

    None when git is missing, ``cwd`` is not in a repository, or git does not answer in time:
    a missing commit must never stop a benchmark.
    """
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None


def cpu_clocks() -> CpuClocks:
    """How this run reads CPU: the server tree through :mod:`pushbench.harness.cpu_clock`, the
    generator through ``time.process_time`` (the clock Python names, at its resolution)."""
    info = time.get_clock_info("process_time")
    return CpuClocks(
        server=CpuClock(clock=CPU_CLOCK, resolution_ns=CPU_RESOLUTION_NS),
        generator=CpuClock(
            clock=info.implementation, resolution_ns=max(1, round(info.resolution * 1e9))
        ),
    )


def environment() -> Environment:
    """The :class:`~pushbench.core.schema.Environment` of this process."""
    found = {**package_versions(), **imported_packages()}
    packages = {normalize_name(name): version for name, version in found.items()}
    lock = find_lock()
    return Environment(
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        packages=dict(sorted(packages.items())),
        git_commit=git_commit(),
        cpu_clocks=cpu_clocks(),
        cpu_model=cpu_model(),
        lock_sha256=lock_sha256(lock.read_bytes()) if lock is not None else None,
    )
