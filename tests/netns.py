"""Separate network hosts on one machine: Linux network namespaces joined through a router.

A test that must cross a real network path (a Locust master and its workers on different hosts)
cannot rely on a lab of machines. Each *host* here is a network namespace with its own loopback,
its own ``eth0`` and its own address; every host's ``eth0`` is one end of a veth pair whose other
end sits in a *router* namespace that forwards between them, and each host routes everything
through it (``default via``). Traffic between hosts so leaves one network stack, crosses two veth
links and the router's forwarding path, and arrives at another stack: what two machines on one
switch see, minus the wire's own delay.

Addresses are private (``10.200.<n>.0/30`` per host: ``.1`` the router, ``.2`` the host) and
live only inside the namespaces, so they collide with nothing outside; namespace names carry a
random suffix, so tests running in parallel do not share them. Processes run in a host with
``ip netns exec <namespace> <argv>`` (:meth:`Host.command`), which execs ``argv`` there: the pid
a test gets is the program's own. Creating namespaces needs root (CAP_NET_ADMIN), iproute2's
``ip`` (``make test-deps`` installs it) and a kernel with veth: :func:`unavailable` says which is
missing, for the test to skip with that reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Host", "link_bytes", "network", "unavailable"]

#: Seconds any one ``ip`` call may take (they return in milliseconds).
IP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Host:
    """One host of a :func:`network`: its role, namespace and address on its ``eth0``."""

    role: str
    netns: str
    address: str
    gateway: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host's network namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]


def _ip(*args: str) -> None:
    completed = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {completed.stderr.strip()}")


def unavailable() -> str | None:
    """Why network namespaces with veth links cannot be made here, or None when they can.

    Probes by doing it (a namespace with a veth pair inside, removed at once): root alone
    is not enough in a container without CAP_NET_ADMIN, and a kernel may lack veth.
    """
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2): `make test-deps` installs it as root"
    if os.geteuid() != 0:
        return "not root: creating network namespaces needs root (CAP_NET_ADMIN)"
    probe = f"pb-probe-{uuid.uuid4().hex[:8]}"
    try:
        _ip("netns", "add", probe)
    except RuntimeError as exc:
        return f"cannot create a network namespace (no CAP_NET_ADMIN?): {exc}"
    try:
        _ip("-n", probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
    except RuntimeError as exc:
        return f"cannot create a veth link (kernel without veth?): {exc}"
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _ip("netns", "delete", probe)
    return None


@contextlib.contextmanager
def network(roles: Sequence[str]) -> Iterator[dict[str, Host]]:
    """One host per role behind one router, all removed on exit (also when the body fails).

    Stop the processes started in the hosts before leaving: a namespace outlives its name
    while a process is still in it.
    """
    suffix = uuid.uuid4().hex[:8]
    router = f"pb-{suffix}-router"
    created: list[str] = []
    try:
        _ip("netns", "add", router)
        created.append(router)
        _ip("-n", router, "link", "set", "lo", "up")
        # Forwarding is per namespace and off in a new one; no sysctl binary needed.
        subprocess.run(
            ["ip", "netns", "exec", router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
            check=True,
            timeout=IP_TIMEOUT_S,
        )
        hosts: dict[str, Host] = {}
        for index, role in enumerate(roles, start=1):
            netns = f"pb-{suffix}-{role}"
            _ip("netns", "add", netns)
            created.append(netns)
            host = Host(role, netns, f"10.200.{index}.2", f"10.200.{index}.1")
            port = f"h{index}"
            # Both ends made inside namespaces: no interface name in the root one to collide.
            _ip("-n", router, "link", "add", port, "type", "veth",
                "peer", "name", "eth0", "netns", netns)  # fmt: skip
            _ip("-n", router, "address", "add", f"{host.gateway}/30", "dev", port)
            _ip("-n", router, "link", "set", port, "up")
            _ip("-n", netns, "link", "set", "lo", "up")
            _ip("-n", netns, "address", "add", f"{host.address}/30", "dev", "eth0")
            _ip("-n", netns, "link", "set", "eth0", "up")
            _ip("-n", netns, "route", "add", "default", "via", host.gateway)
            hosts[role] = host
        yield hosts
    finally:
        for netns in reversed(created):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _ip("netns", "delete", netns)


def link_bytes(host: Host) -> tuple[int, int]:
    """(received, sent) bytes of the host's ``eth0`` so far: what crossed its link."""
    completed = subprocess.run(
        ["ip", "-n", host.netns, "-j", "-s", "link", "show", "dev", "eth0"],
        capture_output=True,
        text=True,
        timeout=IP_TIMEOUT_S,
        check=True,
    )
    (link,) = json.loads(completed.stdout)
    stats = link["stats64"]
    return int(stats["rx"]["bytes"]), int(stats["tx"]["bytes"])
