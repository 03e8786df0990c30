#!/usr/bin/env bash
# Builds the web page into dist/ (a static folder that works from any static host): the wasm
# module and its JS glue (wasm-bindgen), index.html, and The Time Machine when the dataset cache
# has it (otherwise the page offers to fetch it from d2l). Installs wasm-bindgen-cli at the
# version Cargo.lock pins when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $version\$"; then
  echo "build-web: installing wasm-bindgen-cli $version (a few minutes, once)"
  # Without --locked: one locked dependency of the CLI is missing from the registry.
  cargo install wasm-bindgen-cli --version "$version"
fi
cargo build --release --locked -p rnnplay-web --target wasm32-unknown-unknown
rm -rf dist
mkdir -p dist/pkg dist/data
wasm-bindgen --target web --no-typescript --out-dir dist/pkg target/wasm32-unknown-unknown/release/rnnplay_web.wasm
cp index.html dist/
cache="${RNNPLAY_DATA_DIR:-}"
if [ -z "$cache" ] && [ -f ../shared/data/timemachine.txt ]; then cache=../shared/data; fi
if [ -n "$cache" ] && [ -f "$cache/timemachine.txt" ]; then
  cp "$cache/timemachine.txt" dist/data/
fi
echo "build-web: dist/ is ready ($(du -sh dist | cut -f1)); wasm $(gzip -c dist/pkg/rnnplay_web_bg.wasm | wc -c) bytes gzipped"
