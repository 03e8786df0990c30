#!/usr/bin/env bash
# The main job: installs prerequisites, builds rnnplay in release mode, lists the devices, runs
# the quick GPU demo, then trains d2l's scratch RNN on The Time Machine and prints predictions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Use the shared test data beside the checkout when it is there; otherwise the hub downloads.
if [ -z "${RNNPLAY_DATA_DIR:-}" ] && [ -f ../shared/data/timemachine.txt ]; then
  export RNNPLAY_DATA_DIR="$(cd ../shared/data && pwd)"
fi
cargo build --release --locked -p rnnplay
./target/release/rnnplay devices
./target/release/rnnplay demo
# The CPU backend is the fast one for this model until the fused GPU layers land (issue #6).
./target/release/rnnplay train --preset d2l-rnn-scratch --epochs 100 --backend "${RNNPLAY_BACKEND:-cpu}"
