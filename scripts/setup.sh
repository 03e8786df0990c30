#!/usr/bin/env bash
# Installs what rnnplay needs on a fresh Debian/Ubuntu machine: the lavapipe software Vulkan
# driver (so the GPU backend runs without a GPU) and the wasm32 Rust target. Idempotent; skips
# what is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
fi

if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 || ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing mesa-vulkan-drivers libvulkan1 (lavapipe)"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    echo "setup: no apt-get here; install a Vulkan driver yourself (or run with RNNPLAY_BACKEND=cpu)" >&2
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1 && ! rustup component list --installed | grep -q '^clippy'; then
  rustup component add clippy
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi
