#!/usr/bin/env bash
# Debian's Chromium for the browser test (tests/test_web_e2e.py), installed when it is
# missing and this user may install packages. Playwright drives it through
# executable_path; `playwright install` (which downloads its own browser) is never used.
set -euo pipefail
browser=/usr/bin/chromium
[ -x "$browser" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "ensure_chromium: $browser is missing and apt-get as root is not available" >&2
    exit 1
fi
echo "ensure_chromium: installing Debian's chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
[ -x "$browser" ]
