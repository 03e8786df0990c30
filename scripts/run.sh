#!/usr/bin/env bash
# The main job: installs prerequisites, builds rnnplay in release mode, lists the devices, trains
# d2l's GRU language model on The Time Machine (500 epochs, the book's settings), saves it, and
# shows its predictions: free-running from "time traveller", and teacher-forced next to
# free-running on a passage of the book.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Use the shared test data beside the checkout when it is there; otherwise the hub downloads.
if [ -z "${RNNPLAY_DATA_DIR:-}" ] && [ -f ../shared/data/timemachine.txt ]; then
  export RNNPLAY_DATA_DIR="$(cd ../shared/data && pwd)"
fi
cargo build --release --locked -p rnnplay
rnnplay=./target/release/rnnplay
$rnnplay devices
mkdir -p runs
# The product's own choice (auto): with a GPU adapter it times a few minibatches on the GPU and
# on the CPU and trains on the faster (on a machine without a GPU, lavapipe runs the GPU backend
# on the CPU and the CPU backend wins; see docs/PERFORMANCE.md); RNNPLAY_BACKEND=gpu or cpu forces one.
$rnnplay train --preset d2l-gru --backend "${RNNPLAY_BACKEND:-auto}" \
  --save runs/d2l-gru.safetensors --plot runs/d2l-gru-perplexity.svg --metrics runs/d2l-gru.jsonl
$rnnplay predict --checkpoint runs/d2l-gru.safetensors --backend cpu --prefix "time traveller" \
  --teacher-forced "the time traveller for so it will be convenient to speak of him was expounding a recondite matter to us"
echo "perplexity curve: runs/d2l-gru-perplexity.svg; per-epoch metrics: runs/d2l-gru.jsonl"
