#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/integration/test_browser.py).
#
# Installs the `chromium` package with apt-get when it is missing and we are root. Never fails:
# when Chromium cannot be installed it says why and exits 0, and the browser tests skip with a
# clear reason. Safe with no stdin (CI).
set -u

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

if [ -x /usr/bin/chromium ]; then
    log "found /usr/bin/chromium"
    exit 0
fi
if found=$(command -v chromium 2>/dev/null) && [ -n "$found" ]; then
    log "found $found"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "Chromium is not installed and this is not root: cannot install it."
    log "Install it with: sudo apt-get install chromium   (the browser tests will skip until then)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "Chromium is not installed and apt-get is not available: cannot install it."
    log "Install Chromium by other means at /usr/bin/chromium (the browser tests will skip until then)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "installing Debian's chromium: apt-get update && apt-get install -y --no-install-recommends chromium"
if ! apt-get update -qq </dev/null >&2; then
    log "apt-get update failed; the browser tests will skip."
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium </dev/null >&2; then
    log "apt-get install chromium failed; the browser tests will skip."
    exit 0
fi

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    log "installed: $(chromium --version 2>/dev/null || echo chromium)"
else
    log "apt-get reported success but chromium is still not on PATH; the browser tests will skip."
fi
exit 0
