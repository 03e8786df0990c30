#!/usr/bin/env bash
# Installs what the browser end-to-end test needs: Debian's chromium (never a downloaded
# browser), Node.js, and playwright-core at the version tests/e2e/package-lock.json pins.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_cmd=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  echo "setup-browser: installing$missing"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
