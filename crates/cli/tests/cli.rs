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

/// The shared test data directory (CI: ../shared/data beside the checkout).
fn data_dir() -> String {
    std::env::var("RNNPLAY_DATA_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into())
}

#[test]
fn train_runs_a_short_time_machine_job_and_prints_a_json_summary() {
    let out = Command::new(env!("CARGO_BIN_EXE_rnnplay"))
        .args(["train", "--backend", "cpu", "--hidden", "32", "--epochs", "2", "--max-tokens", "2000", "--json"])
        .env("RNNPLAY_DATA_DIR", data_dir())
        .env("RNNPLAY_OFFLINE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["preset"], "d2l-rnn-scratch");
    assert_eq!(summary["epochs"], 2);
    assert_eq!(summary["backend"], "cpu");
    let ppl = summary["perplexity"].as_f64().unwrap();
    assert!(ppl > 1.0 && ppl < 28.0, "{ppl}");
    assert!(summary["time_traveller"].as_str().unwrap().starts_with("time traveller"));
}

#[test]
fn train_reports_bad_input_clearly() {
    let dir = std::env::temp_dir().join(format!("rnnplay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let short = dir.join("short.txt");
    std::fs::write(&short, "hello world").unwrap();
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, [0xffu8, 0xfe, 0x00, 0x41]).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--data", short.to_str().unwrap()], "needs at least"),
        (&["--data", binary.to_str().unwrap()], "not UTF-8"),
        (&["--preset", "d2l-transformer"], "unknown preset"),
        (&["--lr", "NaN", "--data", short.to_str().unwrap(), "--batch-size", "1", "--num-steps", "2"], "learning rate"),
        (&["--epochs", "0"], "--epochs must be at least 1"),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_rnnplay"))
            .arg("train")
            .args(["--backend", "cpu"])
            .args(args)
            .env("RNNPLAY_DATA_DIR", data_dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: expected '{expected}' in\n{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
