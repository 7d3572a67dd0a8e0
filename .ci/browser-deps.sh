#!/usr/bin/env bash
# Install what the browser tests need: Debian's headless Chromium and Playwright's Python package.
# Idempotent: skips the apt step when /usr/bin/chromium is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-noto-cjk
fi
# The browser comes from Debian; Playwright must not download its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" -m pip install --quiet -r requirements-test.txt
