#!/usr/bin/env bash
# The UI tests drive Debian's Chromium (/usr/bin/chromium) with Playwright, which never downloads a browser here.
# Idempotent: nothing to do when it is installed; as root, install it with apt; otherwise say how and fail.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    exit 0
fi
echo "ensure_chromium: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2
exit 1
