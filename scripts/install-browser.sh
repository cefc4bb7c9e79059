#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (Playwright drives it; its own browser download
# cannot work offline). Does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
as_root=""
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null || { echo "install Debian's 'chromium' package as root first" >&2; exit 1; }
  as_root="sudo"
fi
$as_root apt-get update -q
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q chromium
