"""Whether a run and its baseline were measured in the same environment.

A comparison across environments (other package versions, another Python, another CPU) is not a
regression verdict: the gate still checks the ratios, but says in one warning line what differs,
so that a reader does not blame the code for what the machine or an upgrade changed. Pure.
"""

from __future__ import annotations

from pushbench.core.schema import Environment

__all__ = ["environment_differences", "environment_warning"]

#: Package changes listed in the warning before it says "and N more".
_MAX_PACKAGES_LISTED = 6


def environment_differences(run: Environment, baseline: Environment) -> list[str]:
    """What differs, each as ``what: baseline -> run``; empty when nothing known differs.

    Packages compare the versions of distributions both documents list (what one run imported
    and the other did not is no difference in versions); a CPU model only when both know it.
    """
    found: list[str] = []
    if run.python != baseline.python:
        found.append(f"Python {baseline.python} -> {run.python}")
    if run.cpu_model and baseline.cpu_model and run.cpu_model != baseline.cpu_model:
        found.append(f"CPU model {baseline.cpu_model} -> {run.cpu_model}")
    if run.cpu_count != baseline.cpu_count:
        found.append(f"CPU count {baseline.cpu_count} -> {run.cpu_count}")
    changed = [
        f"{name} {baseline.packages[name]} -> {version}"
        for name, version in sorted(run.packages.items())
        if name in baseline.packages and baseline.packages[name] != version
    ]
    if changed:
        listed = ", ".join(changed[:_MAX_PACKAGES_LISTED])
        if len(changed) > _MAX_PACKAGES_LISTED:
            listed += f" and {len(changed) - _MAX_PACKAGES_LISTED} more"
        found.append(f"packages {listed}")
    return found


def environment_warning(run: Environment, baseline: Environment) -> str | None:
    """The gate's one warning line, or None when the environments match."""
    found = environment_differences(run, baseline)
    if not found:
        return None
    return (
        "baseline and run differ in their environment (" + "; ".join(found) + "): a difference "
        "against the baseline may come from there, not from the code"
    )
