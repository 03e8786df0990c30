#!/usr/bin/env bash
# The main job: installs prerequisites, builds rnnplay in release mode, lists the devices and
# trains a small model, printing its predictions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo build --release --locked -p rnnplay
./target/release/rnnplay devices
./target/release/rnnplay demo
