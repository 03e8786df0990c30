#!/usr/bin/env bash
# Builds the web page and serves it on http://127.0.0.1:${PORT:-8080}/ (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-web.sh
port="${PORT:-8080}"
echo "open http://127.0.0.1:$port/ in a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows); others train on the CPU"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory dist
