"""RFC 6901 JSON pointer lookup: where a poll's messages and next cursor are in its answer."""

from __future__ import annotations

from typing import Any

__all__ = ["resolve_pointer"]


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer lookup (``""``: the document itself).

    Ten lines rather than a dependency: only lookup is needed, never patching.

    Raises:
        LookupError: nothing at ``pointer``.
    """
    node = document
    for raw in pointer.split("/")[1:] if pointer else ():
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise LookupError(f"no item {key!r} in a list of {len(node)} at {pointer!r}")
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise LookupError(f"nothing at {pointer!r} (no {key!r})")
    return node
