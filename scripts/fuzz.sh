#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers (cargo fuzz, libFuzzer): `scripts/fuzz.sh [SECONDS]
# [TARGET...]` runs each target (all six by default: checkpoint resumable query corpus fra_eng_zip pairs)
# for SECONDS (600 by default), starting from fuzz/seeds/TARGET and the corpus earlier runs
# grew in fuzz/corpus/TARGET. Installs a nightly toolchain and cargo-fuzz when missing (the
# project itself builds on stable). Exits non-zero on a crash, leaving the input in
# fuzz/artifacts/TARGET/; keep it under fuzz/regressions/TARGET/ once fixed, where the test
# command replays it (tests/fuzz_brief.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint resumable query corpus fra_eng_zip pairs)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked

cd fuzz
cargo +nightly fuzz build
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    cp -n "seeds/$target/"* "corpus/$target/" 2> /dev/null || true
    echo "== $target, ${seconds} s"
    # -rss_limit_mb: a target that allocates past 2 GiB is a finding, as a user's machine
    # would be out of memory; -timeout: one input running past 10 s is a finding (a hang).
    cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
        2>&1 | tee "/tmp/rnnplay-fuzz-$target.log" | grep -E '^(stat::|==|Done|INFO: seed corpus)' || true
    if grep -qE 'ERROR: libFuzzer|panicked at|deadly signal|Test unit written' "/tmp/rnnplay-fuzz-$target.log"; then
        echo "fuzz target $target found a crash: see fuzz/artifacts/$target/ and /tmp/rnnplay-fuzz-$target.log" >&2
        exit 1
    fi
done
