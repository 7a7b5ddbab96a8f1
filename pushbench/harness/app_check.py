"""Whether an app named in uvicorn's ``module:attr`` form can be imported, asked before a run.

A run that launches a fresh server per scenario would otherwise fail the same way once per
scenario, late; asked first, a typo in ``--app`` is one line and exit 2. The import happens in a
child process (the app's module may start things at import, and must not do so in the harness),
through uvicorn's own importer, so the message is the one ``uvicorn`` itself prints.
"""

from __future__ import annotations

import subprocess
import sys

__all__ = ["app_import_error"]

_CHECK = """
import sys
from uvicorn.importer import ImportFromStringError, import_from_string
app_dir, target, factory = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.path.insert(0, app_dir)
try:
    app = import_from_string(target)
    if factory:
        if not callable(app):
            raise ImportFromStringError(f"--factory: {target} is not callable")
        app()
except ImportFromStringError as exc:
    print(f"Error loading ASGI app. {exc}", file=sys.stderr)
    sys.exit(2)
"""


def app_import_error(
    app: str, app_dir: str | None = None, factory: bool = False, timeout_s: float = 60.0
) -> str | None:
    """None when ``app`` imports (as uvicorn would: ``app_dir`` first on the path), else the
    one-line reason (uvicorn's ``Error loading ASGI app. ...``, or the import's own error)."""
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _CHECK, app_dir or ".", app, "1" if factory else "0"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"Error loading ASGI app. Importing {app} took more than {timeout_s:g} s."
    if completed.returncode == 0:
        return None
    lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"Error loading ASGI app {app} (exit {completed.returncode})."
