#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser.py drives it with Playwright through
# executable_path; `playwright install` cannot download here). Idempotent and quiet when it is there.
# It never fails the caller: when it cannot install, it says why and the browser tests skip.
set -uo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: chromium is missing and this is not root: run 'sudo apt-get install -y chromium'; the browser tests will skip" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: chromium is missing and there is no apt-get here; the browser tests will skip" >&2
    exit 0
fi
echo "install-chromium: installing chromium (Debian package; a minute)" >&2
if ! { apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; then
    echo "install-chromium: apt-get install chromium failed (offline?); the browser tests will skip" >&2
fi
exit 0
