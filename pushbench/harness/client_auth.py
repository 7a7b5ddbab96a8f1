"""The bearer token the harness's clients present, when the server requires one.

One variable for both ends: ``PUSHBENCH_AUTH_TOKEN`` is the server's own setting
(``target_app.settings``), the launcher hands its environment to every server it starts, and
every client of the harness (the asyncio drivers, the Locust users) reads the same variable and
sends ``Authorization: Bearer <token>``. So ``PUSHBENCH_AUTH_TOKEN=... pushbench compare`` runs a
guarded server and measures it, and the same variable reaches a server started elsewhere
(``locust --host``). Unset or empty: no header is sent.
"""

from __future__ import annotations

import os

__all__ = ["TOKEN_ENV", "auth_headers"]

#: The environment variable holding the token (the server's ``auth_token`` setting).
TOKEN_ENV = "PUSHBENCH_AUTH_TOKEN"


def auth_headers() -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` when ``PUSHBENCH_AUTH_TOKEN`` is set, else ``{}``.

    Read at each call (one per connection, never per message), so a test or a command that sets
    the variable is followed at once.
    """
    token = os.environ.get(TOKEN_ENV, "")
    return {"Authorization": f"Bearer {token}"} if token else {}
