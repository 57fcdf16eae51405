#!/usr/bin/env bash
# Headless Chromium for the browser test of `moodscape serve` (tests/serve/test_browser.py), from Debian's
# package: Playwright drives it, so no browser is downloaded at run time. Run by `make test` when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and this system has no apt-get: install Chromium by hand for the browser test" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
echo "installing Debian's chromium for the browser test (once)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
