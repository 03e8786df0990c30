#!/usr/bin/env bash
# The GPU check: on a machine with a GPU, what the engine does there, in one JSON report.
#
#   scripts/gpu-check.sh [--quick] [--out DIR]     build (release), then run everything below
#   scripts/gpu-check.sh --package DIR             build, and put the binaries, the test data
#                                                  and a manifest in DIR for a machine without
#                                                  Rust; there: RNNPLAY_GPU_CHECK_BIN=DIR
#                                                  scripts/gpu-check.sh --out OUT
#
# It runs `rnnplay devices`, `rnnplay bench kernels` (every matmul variant: is the one picked
# the fastest?), `rnnplay bench presets --layers all --replay both` on the GPU backend, every
# test that uses the GPU with RNNPLAY_REQUIRE_GPU=1 (so none skips), and, where python3 has
# PyTorch with CUDA, d2l's PyTorch code on the same presets (bench/pytorch_cpu.py --device cuda).
# The report, OUT/gpu-check.json (docs/TESTING.md, "The GPU check"), holds each step's JSON lines and the
# tests' counts; each step's raw output lands beside it. --quick (the test command runs it on
# lavapipe) uses the dev build, small sizes, one preset, and skips the tests cargo test just ran.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0; out=target/gpu-check; package=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --out) out="$2"; shift ;;
        --package) package="$2"; shift ;;
        *) echo "gpu-check: unknown argument '$1' (use --quick, --out DIR or --package DIR)" >&2; exit 2 ;;
    esac
    shift
done

export RNNPLAY_REQUIRE_GPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# The tests that open the GPU backend (crates/engine/tests and tests/).
GPU_TESTS="kernels_gpu_vs_cpu execution_model optim_and_clipping autograd_finite_differences device_lost dispatch_counts fused_layers inspect language_models plan_replay pytorch_parity resume run_api seq2seq"

# Builds the CLI with cargo's `profile` and the GPU tests as `cargo test` does (the dev
# profile: opt-level 1, dependencies 2); prints "name path" per test executable.
build() {
    local profile="$1" flag=""
    [ "$profile" = release ] && flag="--release"
    cargo build $flag --locked --bin rnnplay >&2
    cargo test --locked --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
wanted = set(sys.argv[1].split())
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in wanted \
            and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])
' "$GPU_TESTS"
}

if [ -n "$package" ]; then
    mkdir -p "$package/tests" "$package/data"
    build release | while read -r name path; do cp "$path" "$package/tests/$name"; done
    cp target/release/rnnplay "$package/"
    strip "$package/rnnplay" "$package"/tests/* 2>/dev/null || true
    # Compressed: each test links all of wgpu (about 7 MB stripped).
    tar -C "$package" -cJf "$package/tests.tar.xz" tests && rm -r "$package/tests"
    data="${RNNPLAY_DATA_DIR:-../shared/data}"
    cp "$data/timemachine.txt" "$data/fra-eng.zip" "$package/data/"
    # The tests find their fixtures under the directory they were built in.
    echo "$PWD" > "$package/build-root"
    echo "gpu-check: packaged into $package ($(du -sh "$package" | cut -f1))"
    exit 0
fi

mkdir -p "$out"
started=$(date +%s)
if [ -n "${RNNPLAY_GPU_CHECK_BIN:-}" ]; then
    bin="$RNNPLAY_GPU_CHECK_BIN"
    rnnplay="$bin/rnnplay"
    export RNNPLAY_DATA_DIR="$bin/data"
    root=$(cat "$bin/build-root")
    if [ -f "$bin/tests.tar.xz" ] && [ ! -d "$bin/tests" ]; then tar -C "$bin" -xJf "$bin/tests.tar.xz"; fi
    # A test reads its fixtures from the checkout it was built in: point that path here.
    if [ ! -e "$root" ]; then mkdir -p "$(dirname "$root")" && ln -s "$PWD" "$root"; fi
    tests=$(for t in $GPU_TESTS; do [ -x "$bin/tests/$t" ] && echo "$t $bin/tests/$t"; done)
else
    profile=release; [ $quick = 1 ] && profile=dev
    export RNNPLAY_DATA_DIR="${RNNPLAY_DATA_DIR:-$(cd .. && pwd)/shared/data}"
    tests=$(build $profile)
    rnnplay="target/$([ $profile = dev ] && echo debug || echo release)/rnnplay"
fi

echo "== devices"
"$rnnplay" devices --json | tee "$out/devices.jsonl"
echo "== bench kernels"
if [ $quick = 1 ]; then sizes=64,128; else sizes=64,128,256,512,1024,2048; fi
"$rnnplay" bench kernels --sizes "$sizes" --json | tee "$out/kernels.jsonl"
echo "== bench presets (window kernels, per-step kernels and unfused; replay on and off)"
if [ $quick = 1 ]; then
    presets=(--preset d2l-gru --warmup 2 --batches 1)
else
    presets=(--preset d2l-rnn-scratch --preset d2l-gru-scratch --preset d2l-gru --preset d2l-lstm --preset d2l-seq2seq --preset d2l-seq2seq-attention --warmup 3 --batches 20)
fi
"$rnnplay" bench presets --backend gpu "${presets[@]}" --layers all --replay both --json | tee "$out/presets.jsonl"

: > "$out/tests.jsonl"
if [ $quick = 0 ]; then
    echo "== GPU tests (RNNPLAY_REQUIRE_GPU=1)"
    while read -r name path; do
        [ -n "$name" ] || continue
        t0=$(date +%s.%N)
        # One test at a time: on an NVIDIA H200 a binary whose tests each open a device in
        # parallel threads hung (docs/PERFORMANCE.md); a hang is reported, not waited out.
        rc=0
        timeout 600 "$path" --test-threads=1 > "$out/test-$name.log" 2>&1 || rc=$?
        case $rc in 0) status=ok ;; 124) status=timeout ;; *) status=failed ;; esac
        t1=$(date +%s.%N)
        python3 - "$name" "$status" "$t0" "$t1" "$out/test-$name.log" >> "$out/tests.jsonl" <<'PY'
import json, re, sys
name, status, t0, t1, log = sys.argv[1:]
text = open(log, errors="replace").read()
counts = [tuple(map(int, m)) for m in re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text)]
print(json.dumps({"test": name, "status": status, "passed": sum(c[0] for c in counts),
                  "failed": sum(c[1] for c in counts), "seconds": round(float(t1) - float(t0), 2)}))
PY
        tail -n 1 "$out/tests.jsonl"
    done <<< "$tests"
fi

: > "$out/pytorch.jsonl"
if [ $quick = 0 ] && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "== PyTorch on the GPU (bench/pytorch_cpu.py --device cuda)"
    python3 bench/pytorch_cpu.py --device cuda --warmup 3 --batches 20 | tee "$out/pytorch.jsonl"
fi

python3 - "$out" "$started" "$quick" <<'PY'
import json, pathlib, subprocess, sys, time
out, started, quick = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
def lines(name):
    path = out / name
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []
try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
except OSError:
    commit = None
tests = lines("tests.jsonl")
report = {
    "gpu_check": 1,
    "quick": quick,
    "commit": commit,
    "seconds": int(time.time()) - started,
    "devices": lines("devices.jsonl"),
    "kernels": lines("kernels.jsonl"),
    "presets": lines("presets.jsonl"),
    "tests": tests,
    "tests_failed": sum(t["failed"] for t in tests) + sum(t["status"] != "ok" for t in tests),
    "pytorch": lines("pytorch.jsonl"),
}
(out / "gpu-check.json").write_text(json.dumps(report, indent=1) + "\n")
print(f"gpu-check: {out / 'gpu-check.json'}: {len(report['devices'])} device(s), {len(report['kernels'])} kernel "
      f"measurements, {len(report['presets'])} preset runs, {len(tests)} test binaries "
      f"({report['tests_failed']} failures), {len(report['pytorch'])} PyTorch runs")
missing = [k for k in ("devices", "kernels", "presets") if not report[k]]
if missing:
    print(f"gpu-check: nothing measured for {', '.join(missing)}", file=sys.stderr)
sys.exit(1 if report["tests_failed"] or missing else 0)
PY
