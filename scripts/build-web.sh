#!/usr/bin/env bash
# Builds the web page into dist/ (a static folder that works from any static host): the wasm
# module and its JS glue (wasm-bindgen), index.html, and The Time Machine and fra-eng.zip when
# the dataset cache has them (otherwise the page offers to fetch The Time Machine from d2l, and
# the encoder-decoder trains on toy tasks). Installs wasm-bindgen-cli at the
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
# Without the function-name and producers sections: 14% fewer bytes to download, the same code
# (a panic's message still reaches the console; its stack shows wasm function numbers).
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir dist/pkg target/wasm32-unknown-unknown/release/rnnplay_web.wasm
cp index.html worker.js dist/
cache="${RNNPLAY_DATA_DIR:-}"
if [ -z "$cache" ] && [ -f ../shared/data/timemachine.txt ]; then cache=../shared/data; fi
for file in timemachine.txt fra-eng.zip; do
  if [ -n "$cache" ] && [ -f "$cache/$file" ]; then cp "$cache/$file" dist/data/; fi
done
echo "build-web: dist/ is ready ($(du -sh dist | cut -f1)); wasm $(gzip -c dist/pkg/rnnplay_web_bg.wasm | wc -c) bytes gzipped"
