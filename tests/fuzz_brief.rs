//! A short fuzz run of every target on stable Rust, inside the test command: each target's seeds
//! (`fuzz/seeds/TARGET/`) and kept crashers (`fuzz/regressions/TARGET/`) first, then inputs
//! mutated from them by a seeded generator for a few seconds. The long, coverage-guided runs are
//! `scripts/fuzz.sh` (cargo fuzz on nightly); this catches a regression in the parsers on every
//! commit without building the instrumented binaries (docs/RELIABILITY.md).

use rnnplay_tests::fuzz_targets::TARGETS;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds of mutated inputs per target: six targets stay under a minute in all.
const SECONDS_PER_TARGET: u64 = 8;

/// Bytes the parsers treat specially, tried more often than chance would.
const INTERESTING: &[u8] = b"\t\n\r =&?{}[]\":,0123456789.-e\x00\xff";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every file under `fuzz/KIND/TARGET/`, sorted by name.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| {
            let path = entry.path();
            let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// xorshift64*: enough for mutations, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One to four edits of `input`: a byte changed, inserted or removed, a range repeated or cut,
/// a number's digits changed, or the tail of another seed spliced on.
fn mutate(input: &[u8], seeds: &[(String, Vec<u8>)], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let last = out.len() - 1;
                out[at.min(last)] = rng.next() as u8;
            }
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 if at < out.len() => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            4 if at < out.len() && out[at].is_ascii_digit() => {
                let digits = ["0", "9", "99999999999", "18446744073709551616", "-1", "1e39", "NaN"];
                out.splice(at..at + 1, digits[rng.below(digits.len())].bytes());
            }
            5 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())].1;
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => out.push(rng.next() as u8),
        }
    }
    out.truncate(1 << 16);
    out
}

#[test]
fn every_fuzz_target_survives_its_seeds_its_crashers_and_a_short_mutation_run() {
    let mut summary = Vec::new();
    for (index, (name, target)) in TARGETS.iter().enumerate() {
        let seeds = inputs("seeds", name);
        assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ holds no seed");
        for (path, bytes) in seeds.iter().chain(&inputs("regressions", name)) {
            // A panic names the file through the test's output.
            eprintln!("{name}: {path}");
            target(bytes);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ index as u64);
        let start = Instant::now();
        let mut runs = 0u64;
        while start.elapsed() < Duration::from_secs(SECONDS_PER_TARGET) {
            let seed = &seeds[rng.below(seeds.len())].1;
            let input = mutate(seed, &seeds, &mut rng);
            let result = std::panic::catch_unwind(|| target(&input));
            if result.is_err() {
                let kept = std::env::temp_dir().join(format!("rnnplay-fuzz-{name}-{runs}"));
                let _ = std::fs::write(&kept, &input);
                panic!(
                    "fuzz target {name} panicked on mutated input #{runs} (kept as {}); add it under fuzz/regressions/{name}/ once fixed",
                    kept.display()
                );
            }
            runs += 1;
        }
        summary.push(format!("{name}: {} seeds, {runs} mutated inputs", seeds.len()));
    }
    eprintln!("{}", summary.join("; "));
}

/// Writes the `resumable` target's seed from the base run (its spec and training state, split by
/// a NUL byte): `cargo test -p rnnplay-tests --test fuzz_brief -- --ignored` after the base run
/// changes.
#[test]
#[ignore]
fn write_the_resumable_seed() {
    let saved = rnnplay_tests::fuzz_targets::saved_run();
    let seed = format!("{}\0{}", saved.extra["spec"], saved.extra["training"]);
    let dir = fuzz_dir().join("seeds/resumable");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("gru-adam-validation.txt"), seed).unwrap();
}
