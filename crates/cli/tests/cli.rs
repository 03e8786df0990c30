//! The `rnnplay` binary as a user runs it.

use std::process::Command;

fn rnnplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnplay")).args(args).output().expect("the rnnplay binary runs")
}

#[test]
fn demo_trains_the_scratch_rnn_on_the_cpu_and_predicts() {
    let out = rnnplay(&["demo", "--backend", "cpu", "--steps", "300"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().find_map(|l| l.strip_prefix("perplexity: ")).expect("a perplexity summary line");
    // "24.00 at the first step, 1.39 at the last"
    let final_ppl: f32 =
        last.split(", ").nth(1).and_then(|v| v.split(' ').next()).and_then(|v| v.parse().ok()).expect("a number");
    assert!(final_ppl < 3.0, "perplexity after 300 steps: {final_ppl}\n{stdout}");
    assert!(stdout.contains("prediction: \"the time "), "{stdout}");
}

#[test]
fn demo_rejects_zero_steps_with_a_message() {
    let out = rnnplay(&["demo", "--steps", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--steps and --hidden must be at least 1"));
}

#[test]
fn devices_json_prints_one_object_per_adapter() {
    let out = rnnplay(&["devices", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(value["name"].is_string() && value["max_storage_buffer_binding_size"].is_u64(), "{line}");
    }
}

#[test]
fn bench_rejects_a_zero_size() {
    let out = rnnplay(&["bench", "kernels", "--sizes", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sizes must be between 1 and 8192"));
}
