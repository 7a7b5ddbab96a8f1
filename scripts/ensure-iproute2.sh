#!/usr/bin/env bash
# Make sure iproute2's `ip` is installed for the network-namespace test
# (tests/integration/test_locust_hosts.py: a Locust swarm across hosts made of namespaces).
#
# Installs Debian's `iproute2` package with apt-get when `ip` is missing and we are root. Never
# fails: when it cannot be installed it says why and exits 0, and the test skips with a clear
# reason (it needs root anyway, to create namespaces). Safe with no stdin (CI).
set -u

log() { printf 'ensure-iproute2: %s\n' "$*" >&2; }

if found=$(command -v ip 2>/dev/null) && [ -n "$found" ]; then
    log "found $found"
    exit 0
fi
for candidate in /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip; do
    if [ -x "$candidate" ]; then
        log "found $candidate (not on PATH: add $(dirname "$candidate") to PATH for the test)"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    log "iproute2 is not installed and this is not root: cannot install it (and the namespace"
    log "test needs root anyway). As root: apt-get install iproute2   (the test skips until then)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "iproute2 is not installed and apt-get is not available: install iproute2 by other means"
    log "(the namespace test skips until then)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "installing Debian's iproute2: apt-get update && apt-get install -y --no-install-recommends iproute2"
if ! apt-get update -qq </dev/null >&2; then
    log "apt-get update failed; the namespace test will skip."
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends iproute2 </dev/null >&2; then
    log "apt-get install iproute2 failed; the namespace test will skip."
    exit 0
fi

if command -v ip >/dev/null 2>&1; then
    log "installed: $(ip -V 2>/dev/null || echo iproute2)"
else
    log "apt-get reported success but ip is still not on PATH; the namespace test will skip."
fi
exit 0
