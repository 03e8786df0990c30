//! The `rnnplay` binary as a user runs it.

mod common;

use common::{data_dir, json_line, rnnplay, rnnplay_offline, temp_dir};
use std::process::Command;

#[test]
fn demo_trains_the_scratch_rnn_on_the_cpu_and_predicts() {
    let out = rnnplay(&["demo", "--backend", "cpu", "--steps", "300"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().find_map(|l| l.strip_prefix("perplexity: ")).expect("a perplexity summary line");
    // "24.00 in the first epoch, 1.39 in the last"
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

#[test]
fn a_bad_thread_count_is_named_with_its_fix_and_a_good_one_is_used() {
    for bad in ["0", "lots", "100000"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rnnplay"))
            .args(["demo", "--backend", "cpu", "--steps", "5"])
            .env("RNNPLAY_THREADS", bad)
            .output()
            .expect("the rnnplay binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "RNNPLAY_THREADS={bad} was accepted");
        assert!(
            stderr.contains(&format!("RNNPLAY_THREADS is '{bad}'; use a whole number of threads from 1 to 256")),
            "{stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rnnplay"))
        .args(["demo", "--backend", "cpu", "--steps", "5"])
        .env("RNNPLAY_THREADS", "3")
        .output()
        .expect("the rnnplay binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn train_with_backend_auto_times_both_backends_and_trains_on_the_faster() {
    let args = ["train", "--backend", "auto", "--hidden", "32", "--epochs", "2", "--max-tokens", "3000", "--json"];
    let summary = json_line(&rnnplay_offline(&args));
    let speeds = summary["backend_speeds"].as_array().expect("a list of measurements");
    if speeds.is_empty() {
        // Only without a GPU adapter: then there is nothing to compare.
        assert!(std::env::var("RNNPLAY_REQUIRE_GPU").is_err(), "a GPU is required here, yet auto measured nothing");
        assert_eq!(summary["backend"], "cpu");
        return;
    }
    let rate = |name: &str| {
        let entry = speeds.iter().find(|s| s["backend"] == name).unwrap_or_else(|| panic!("{name} in {speeds:?}"));
        assert!(entry["steps"].as_u64().unwrap() >= 1);
        entry["tokens_per_s"].as_f64().unwrap()
    };
    let (gpu, cpu) = (rate("gpu"), rate("cpu"));
    assert!(gpu > 0.0 && cpu > 0.0, "{speeds:?}");
    assert_eq!(summary["backend"], if cpu > gpu { "cpu" } else { "gpu" }, "{speeds:?}");
    // The measurement trains throwaway copies: the run itself is the one a named backend trains.
    let named = ["train", "--backend", summary["backend"].as_str().unwrap(), "--hidden", "32", "--epochs", "2"];
    let again = json_line(&rnnplay_offline(&[&named[..], &["--max-tokens", "3000", "--json"]].concat()));
    assert_eq!(summary["perplexity"], again["perplexity"]);
    assert_eq!(again["backend_speeds"].as_array().map(Vec::len), Some(0));
}

#[test]
fn train_runs_a_short_time_machine_job_and_prints_a_json_summary() {
    let args = ["train", "--backend", "cpu", "--hidden", "32", "--epochs", "2", "--max-tokens", "2000", "--json"];
    let summary = json_line(&rnnplay_offline(&args));
    assert_eq!(summary["preset"], "d2l-gru");
    assert_eq!(summary["model"], "gru");
    assert_eq!(summary["epochs"], 2);
    assert_eq!(summary["backend"], "cpu");
    let ppl = summary["perplexity"].as_f64().unwrap();
    assert!(ppl > 1.0 && ppl < 29.0, "{ppl}");
    assert!(summary["time_traveller"].as_str().unwrap().starts_with("time traveller"));
}

#[test]
fn train_prints_a_progress_line_with_a_sample_even_without_a_terminal() {
    let args =
        ["train", "--backend", "cpu", "--hidden", "16", "--epochs", "4", "--max-tokens", "2000", "--report-every", "2"];
    let out = rnnplay_offline(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 2, "one line every 2 epochs:\n{stdout}");
    assert!(epochs[1].starts_with("epoch    4") && epochs[1].contains("\"time traveller"), "{stdout}");
    assert!(stdout.contains("time traveller → \"time traveller"), "{stdout}");
}

#[test]
fn train_draws_a_png_plot_with_text() {
    let dir = temp_dir("png");
    let plot = dir.join("ppl.png");
    let args = ["train", "--backend", "cpu", "--hidden", "16", "--epochs", "2", "--max-tokens", "2000", "--json"];
    let mut full = args.to_vec();
    full.extend(["--plot", plot.to_str().unwrap()]);
    json_line(&rnnplay_offline(&full));
    let bytes = std::fs::read(&plot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG file");
    // A blank 720×440 PNG compresses to a few hundred bytes; axes, curve and text take more.
    assert!(bytes.len() > 5_000, "{} bytes: the plot looks empty", bytes.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_saves_metrics_a_plot_and_a_checkpoint_that_predict_loads() {
    let dir = temp_dir("save");
    let (ckpt, metrics, plot) = (dir.join("m.safetensors"), dir.join("run.jsonl"), dir.join("ppl.svg"));
    let out = rnnplay_offline(&[
        "train",
        "--preset",
        "d2l-lstm",
        "--backend",
        "cpu",
        "--hidden",
        "24",
        "--epochs",
        "3",
        "--max-tokens",
        "3000",
        "--valid-fraction",
        "0.4",
        "--save",
        ckpt.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--json",
    ]);
    let summary = json_line(&out);
    assert!(summary["valid_perplexity"].as_f64().unwrap() > 1.0, "{summary}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&metrics).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "the spec, then one line per epoch");
    assert_eq!((&lines[0]["spec"]["preset"], &lines[0]["first_epoch"]), (&"d2l-lstm".into(), &1.into()));
    let lines = &lines[1..];
    assert_eq!(lines[2]["epoch"], 3);
    assert!(lines[2]["valid_perplexity"].is_number() && lines[2]["grad_norm"].is_number());
    let reach = lines[2]["reach"].as_array().unwrap();
    assert_eq!(reach.len(), 35, "one value per step of d2l's window");
    assert!(reach.iter().all(|v| v.as_f64().unwrap() > 0.0), "{reach:?}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("perplexity"), "{}", &svg[..200.min(svg.len())]);

    // The checkpoint alone is enough to predict, the same way every time.
    let predict = |extra: &[&str]| {
        let mut args = vec!["predict", "--checkpoint", ckpt.to_str().unwrap(), "--backend", "cpu", "--json"];
        args.extend_from_slice(extra);
        json_line(&rnnplay_offline(&args))
    };
    let greedy = predict(&["--prefix", "time traveller", "--len", "20"]);
    assert_eq!(greedy["free_running"].as_str().unwrap().chars().count(), "time traveller".len() + 20);
    assert_eq!(greedy, predict(&["--prefix", "time traveller", "--len", "20"]));
    assert_eq!(greedy["model"], "lstm");
    let forced = predict(&["--teacher-forced", "the time machine"]);
    let positions = forced["teacher_forced"]["positions"].as_array().unwrap();
    assert_eq!(positions.len(), "the time machine".len() - 1);
    assert_eq!(positions[0]["true"], "h");
    let p = positions[0]["p_true"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1.0, "{p}");
    assert!(forced["teacher_forced"]["perplexity"].as_f64().unwrap() > 1.0);
    let hot = |seed: &str| predict(&["--temperature", "2", "--seed", seed, "--len", "30"])["free_running"].clone();
    assert_eq!(hot("1"), hot("1"));
    assert_ne!(hot("1"), hot("2"));

    // And to look inside it: h, c, the gates and the top k at every position, and with
    // --position how far back that prediction reaches.
    let inspect = |extra: &[&str]| {
        let mut args = vec!["inspect", "--checkpoint", ckpt.to_str().unwrap(), "--backend", "cpu"];
        args.extend_from_slice(extra);
        rnnplay_offline(&args)
    };
    let seen = json_line(&inspect(&["--text", "the time", "--position", "6", "--top-k", "3", "--json"]));
    let positions = seen["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 8);
    assert_eq!(positions[1]["token"], "h");
    let layer = &positions[7]["layers"][0];
    assert_eq!(layer["h"].as_array().unwrap().len(), 24);
    assert_eq!(layer["c"].as_array().unwrap().len(), 24);
    let gates: Vec<&String> = layer["gates"].as_object().unwrap().keys().collect();
    assert_eq!(gates, ["f", "g", "i", "o"]);
    let forget = layer["gates"]["f"].as_array().unwrap();
    assert!(forget.iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())), "a sigmoid gate: {forget:?}");
    let top = positions[0]["top_k"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert!(top[0][1].as_f64().unwrap() >= top[1][1].as_f64().unwrap());
    assert_eq!(seen["target"], "e");
    assert_eq!(seen["saliency_x"].as_array().unwrap().len(), 7);
    assert_eq!(seen["saliency_h"][0].as_array().unwrap().len(), 7);
    // One step of the cell at position 6, with its numbers: the state before is position 5's,
    // and the vectors obey PyTorch's LSTM: c = f⊙c₋₁ + i⊙g, h = o⊙tanh(c).
    let step = json_line(&inspect(&["--text", "the time", "--position", "6", "--cell", "--json"]));
    let cell = &step["cell"];
    assert_eq!(
        (cell["layer"].as_u64(), cell["position"].as_u64(), cell["input"].as_str()),
        (Some(1), Some(6), Some("m"))
    );
    let vector = |name: &str| -> Vec<f64> {
        cell["vectors"][name]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {cell}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let names: Vec<&String> = cell["vectors"].as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 8, "h_prev, c_prev, i, f, g, o, c, h: {names:?}");
    let layer5 = &positions[5]["layers"][0];
    let before: Vec<f64> = layer5["h"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(vector("h_prev"), before);
    let (c_prev, i, f, g, o, c, h) =
        (vector("c_prev"), vector("i"), vector("f"), vector("g"), vector("o"), vector("c"), vector("h"));
    for u in 0..24 {
        assert!((c[u] - (f[u] * c_prev[u] + i[u] * g[u])).abs() < 1e-5, "unit {u}: c");
        assert!((h[u] - o[u] * c[u].tanh()).abs() < 1e-5, "unit {u}: h");
    }
    let text = inspect(&["--text", "the time", "--position", "6", "--cell"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("one step of layer 1's lstm cell at position 6") && text.contains("forget gate f"), "{text}");
    let view = inspect(&["--text", "the time", "--position", "6"]);
    let stdout = String::from_utf8_lossy(&view.stdout);
    assert!(view.status.success(), "{}", String::from_utf8_lossy(&view.stderr));
    assert!(stdout.contains("the␣time") && stdout.contains("the signal reaches"), "{stdout}");
    for (args, expected) in [
        (&["--text", "the time", "--position", "8"][..], "past the passage's 8 tokens"),
        (&["--signal", "q"][..], "--signal q: this lstm has h, c, i, f, g, o"),
        (&["--layer", "2"][..], "the model has 1 layer(s)"),
        (&["--cell"][..], "--position"),
    ] {
        let out = inspect(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "expected '{expected}' in\n{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_weights() {
    let dir = temp_dir("diverge");
    let ckpt = dir.join("d.safetensors");
    let out = rnnplay_offline(&[
        "train",
        "--preset",
        "d2l-rnn",
        "--backend",
        "cpu",
        "--hidden",
        "16",
        "--epochs",
        "20",
        "--max-tokens",
        "2000",
        "--lr",
        "1e30",
        "--clip",
        "1e30",
        "--save",
        ckpt.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("training diverged") && stderr.contains("lower the learning rate"), "{stderr}");
    assert!(stderr.contains("epoch "), "{stderr}");
    if stderr.contains("are saved in") {
        let out = rnnplay_offline(&["predict", "--checkpoint", ckpt.to_str().unwrap(), "--backend", "cpu", "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_rejects_bad_checkpoints_clearly() {
    let dir = temp_dir("badckpt");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a checkpoint at all").unwrap();
    let missing = dir.join("missing.safetensors");
    for (path, expected) in [(&text, "not safetensors"), (&missing, "reading --checkpoint")] {
        let out = rnnplay_offline(&["predict", "--checkpoint", path.to_str().unwrap(), "--backend", "cpu"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(expected), "expected '{expected}' in\n{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_reports_bad_input_clearly() {
    let dir = temp_dir("badinput");
    let short = dir.join("short.txt");
    std::fs::write(&short, "hello world").unwrap();
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, [0xffu8, 0xfe, 0x00, 0x41]).unwrap();
    let blank = dir.join("blank.txt");
    std::fs::write(&blank, "  \n\t \n").unwrap();
    let cases: [(&[&str], &str); 13] = [
        (&["--data", short.to_str().unwrap()], "needs at least"),
        (&["--data", binary.to_str().unwrap()], "not UTF-8"),
        (&["--data", blank.to_str().unwrap()], "empty"),
        (&["--preset", "d2l-transformer"], "unknown preset"),
        (&["--lr", "NaN"], "--lr: 'NaN' is not a finite number"),
        (&["--lr=-1"], "--lr: the learning rate must be a positive finite number (got -1)"),
        (&["--epochs", "0"], "--epochs: epochs must be at least 1"),
        (&["--lr-schedule", "step:0:0.5"], "--lr-schedule: a step schedule's step size must be at least 1 epoch"),
        (&["--model", "gru-scratch", "--layers", "2"], "one-layer scratch model"),
        (&["--dropout", "1.5"], "--dropout: dropout must be in [0, 1) (got 1.5)"),
        (&["--save", "/nonexistent-dir/m.safetensors"], "does not exist"),
        (&["--plot", "perplexity.pdf"], "plots are .svg or .png files"),
        (&["--scheduled-sampling", "0.5"], "--scheduled-sampling applies to encoder-decoder presets"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["train", "--backend", "cpu"];
        full.extend_from_slice(args);
        let out = rnnplay_offline(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: expected '{expected}' in\n{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seq2seq_trains_on_fra_eng_saves_and_translate_loads_it() {
    let dir = temp_dir("seq2seq");
    let ckpt = dir.join("s2s.safetensors");
    let args = [
        "train",
        "--preset",
        "d2l-seq2seq",
        "--backend",
        "cpu",
        "--epochs",
        "15",
        "--json",
        "--save",
        ckpt.to_str().unwrap(),
    ];
    let summary = json_line(&rnnplay_offline(&args));
    assert_eq!(summary["model"], "seq2seq");
    let ce = summary["per_token_ce"].as_f64().unwrap();
    let d2l = summary["d2l_loss"].as_f64().unwrap();
    assert!(ce > 0.0 && ce < 6.0 && (d2l * 10.0 - ce).abs() < 1e-6, "per-token CE {ce}, d2l's loss {d2l}");
    let translations = summary["translations"].as_array().unwrap();
    assert_eq!(translations.len(), 4);
    assert_eq!(translations[0]["src"], "go .");
    assert!(translations.iter().all(|t| (0.0..=1.0).contains(&t["bleu"].as_f64().unwrap())));
    // The 128 pairs after the training ones are held out and scored after the last epoch; the
    // source lengths they are counted under fit the 10 steps (a longer sentence is cut).
    let bleu = summary["held_out_bleu"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&bleu), "held-out BLEU {bleu}");
    // Translated greedily (no --beam), with the mean score (1/L^0.75)·log P of a log-probability.
    assert_eq!(summary["held_out_beam"], 1);
    assert!(summary["held_out_score"].as_f64().unwrap() < 0.0, "{summary}");
    let lengths = summary["exact_match_by_length"].as_array().unwrap();
    assert_eq!(lengths.iter().map(|l| l["count"].as_u64().unwrap()).sum::<u64>(), 128);
    assert!(lengths.iter().all(|l| (1..10).contains(&l["length"].as_u64().unwrap())), "{lengths:?}");
    assert!(summary["accuracy_by_position"].as_array().unwrap().len() < 10);

    let translate = |extra: &[&str]| {
        let mut args = vec!["translate", "--checkpoint", ckpt.to_str().unwrap(), "--backend", "cpu"];
        args.extend_from_slice(extra);
        rnnplay_offline(&args)
    };
    let out = json_line(&translate(&["Go.", "--reference", "Va !", "--json"]));
    assert_eq!(out["src"], "go .");
    assert_eq!(out["pred"], translations[0]["pred"], "the checkpoint translates as the trained model did");
    assert_eq!(out["teacher_forced"].as_array().unwrap().len(), 3, "va, !, <eos>");
    assert!(out["bleu"].is_number());
    let unknown = translate(&["zebras swim .", "--json"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("fed as <unk>: [\"zebras\", \"swim\"]"));
    let long = translate(&["i am a very very very very very very long sentence ."]);
    assert!(String::from_utf8_lossy(&long.stderr).contains("token(s) were cut"));
    let empty = translate(&["   "]);
    assert!(!empty.status.success() && String::from_utf8_lossy(&empty.stderr).contains("the sentence is empty"));
    // Beam search and a forced start: the search's steps and the chosen output's path.
    let beam = json_line(&translate(&["go .", "--beam", "3", "--length-penalty", "0.75", "--json"]));
    assert_eq!((beam["beam"]["k"].as_u64(), beam["beam"]["length_penalty"].as_f64()), (Some(3), Some(0.75)));
    let steps = beam["beam"]["steps"].as_array().unwrap();
    assert!(
        !steps.is_empty()
            && steps.iter().all(|s| s.as_array().unwrap().iter().filter(|n| n["kept"] == true).count() <= 3)
    );
    assert!(beam["beam"]["score"].as_f64().unwrap() <= 0.0, "a log-probability over a length");
    let greedy = json_line(&translate(&["go .", "--beam", "1", "--json"]));
    assert_eq!(greedy["pred"], translations[0]["pred"], "k = 1 is greedy");
    let forced = json_line(&translate(&["go .", "--prefix", "je", "--beam", "2", "--json"]));
    assert!(forced["pred"].as_str().unwrap().starts_with("je"), "{forced}");
    let text = String::from_utf8_lossy(&translate(&["go .", "--beam", "2"]).stdout).to_string();
    assert!(text.contains("beam search, k = 2, α = 0.75") && text.contains("step  1:"), "{text}");
    for (flags, says) in [
        (&["--beam", "0"][..], "the beam size must be 1 to 64"),
        (&["--length-penalty=-1"][..], "α must be a number ≥ 0"),
        (&["--prefix", "zebras"][..], "not in the model's target vocabulary"),
        (&["--prefix", "<eos>"][..], "is a reserved token"),
    ] {
        let mut args = vec!["go ."];
        args.extend_from_slice(flags);
        let out = translate(&args);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(says), "{flags:?}");
    }

    // Inside the encoder-decoder: the encoder over the source, the decoder over the reference,
    // and how much each source word matters to one target position.
    let inspect = |extra: &[&str]| {
        let mut args = vec!["inspect", "--checkpoint", ckpt.to_str().unwrap(), "--backend", "cpu", "--text", "Go."];
        args.extend_from_slice(extra);
        rnnplay_offline(&args)
    };
    let seen = json_line(&inspect(&["--reference", "Va !", "--position", "1", "--json"]));
    assert_eq!(seen["model"], "seq2seq");
    assert_eq!(seen["source"][0], "go");
    assert_eq!(seen["source"].as_array().unwrap().len(), 10, "num_steps, <eos> and padding included");
    assert_eq!(seen["target"], serde_json::json!(["<bos>", "va", "!"]));
    assert_eq!(seen["decoder"][1]["label"], "!");
    let gates: Vec<&String> = seen["encoder"][0]["layers"][1]["gates"].as_object().unwrap().keys().collect();
    assert_eq!(gates, ["n", "r", "z"]);
    assert_eq!(seen["decoder"][2]["top_k"].as_array().unwrap().len(), 5);
    let saliency = seen["saliency_source"].as_array().unwrap();
    assert_eq!(saliency.len(), 10);
    assert!(saliency[0].as_f64().unwrap() > 0.0);
    let view = inspect(&["--position", "0"]);
    let stdout = String::from_utf8_lossy(&view.stdout);
    assert!(view.status.success() && stdout.contains("how much each source word matters"), "{stdout}");
    let past = inspect(&["--reference", "va !", "--position", "3"]);
    assert!(String::from_utf8_lossy(&past.stderr).contains("past the target's 3 positions"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoints_of_the_wrong_kind_and_language_model_flags_are_refused() {
    let dir = temp_dir("kinds");
    let lm = dir.join("lm.safetensors");
    let args =
        ["train", "--backend", "cpu", "--hidden", "8", "--epochs", "1", "--max-tokens", "2000", "--json", "--save"];
    let mut full = args.to_vec();
    full.push(lm.to_str().unwrap());
    json_line(&rnnplay_offline(&full));
    let out = rnnplay_offline(&["translate", "--checkpoint", lm.to_str().unwrap(), "--backend", "cpu", "go ."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint = "not an encoder-decoder: rnnplay predict runs language models";
    assert!(!out.status.success() && stderr.contains(hint), "{stderr}");
    let out = rnnplay_offline(&["train", "--preset", "d2l-seq2seq", "--backend", "cpu", "--sampling", "random"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--sampling applies to language models"), "{stderr}");
    let out = rnnplay_offline(&["train", "--preset", "d2l-gru", "--backend", "cpu", "--data", "fra-eng"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the d2l-seq2seq preset"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_step_schedule_sets_each_epochs_learning_rate_in_the_metrics() {
    let dir = temp_dir("schedule");
    let metrics = dir.join("m.jsonl");
    let args = [
        "train",
        "--preset",
        "d2l-gru",
        "--backend",
        "cpu",
        "--hidden",
        "8",
        "--max-tokens",
        "2000",
        "--epochs",
        "6",
        "--lr-schedule",
        "step:2:0.5",
        "--json",
        "--metrics",
        metrics.to_str().unwrap(),
    ];
    json_line(&rnnplay_offline(&args));
    let rates: Vec<f64> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["lr"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
    let summary = json_line(&rnnplay_offline(&args));
    assert_eq!(summary["spec"]["lr_schedule"], "step:2:0.5", "the summary carries the run's spec: {summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_toy_task_reports_held_out_exact_match() {
    let args =
        ["train", "--preset", "toy-reverse", "--backend", "cpu", "--num-examples", "500", "--epochs", "1", "--json"];
    let summary = json_line(&rnnplay_offline(&args));
    assert_eq!(summary["data"], "reverse");
    let rate = summary["exact_match"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate), "{rate}");
    assert_eq!(summary["translations"].as_array().unwrap().len(), 4);
    // One share per output position of the longest target (5 letters); a string translated
    // exactly has every position right, so none is below the exact-match rate.
    let by_position: Vec<f64> =
        summary["accuracy_by_position"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(by_position.len(), 5, "{by_position:?}");
    assert!(by_position.iter().all(|a| (rate..=1.0).contains(a)), "{rate} {by_position:?}");
    // Exact match per source length: 3, 4 and 5 letters, the 200 held-out strings among them.
    let by_length = summary["exact_match_by_length"].as_array().unwrap();
    let lengths: Vec<u64> = by_length.iter().map(|l| l["length"].as_u64().unwrap()).collect();
    assert_eq!(lengths, [3, 4, 5]);
    assert_eq!(by_length.iter().map(|l| l["count"].as_u64().unwrap()).sum::<u64>(), 200);
    // The dates task: its examples are dates in some format, their targets ISO dates.
    let args = ["train", "--preset", "toy-reverse", "--backend", "cpu", "--num-examples", "300", "--epochs", "1"];
    let dates = json_line(&rnnplay_offline(&[&args[..], &["--data", "dates", "--num-steps", "12", "--json"]].concat()));
    let reference = dates["translations"][0]["reference"].as_str().unwrap().replace(' ', "");
    assert!(reference.len() == 10 && reference.as_bytes()[4] == b'-', "{reference}");
}

#[test]
fn bench_presets_json_reports_the_step_counts_and_the_host_time_with_and_without_replay() {
    let out = rnnplay_offline(&[
        "bench",
        "presets",
        "--preset",
        "d2l-gru",
        "--backend",
        "cpu",
        "--warmup",
        "1",
        "--batches",
        "1",
        "--layers",
        "fused",
        "--replay",
        "both",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    assert_eq!(rows.len(), 4, "window kernels, then per-step ones, each with replay on, then off: {stdout}");
    let ways = [("window", true, 27.0), ("window", false, 27.0), ("steps", true, 164.0), ("steps", false, 164.0)];
    for (row, (layers, replay, dispatches)) in rows.iter().zip(ways) {
        assert_eq!(
            (&row["preset"], &row["layers"], &row["replay"]),
            (&"d2l-gru".into(), &layers.into(), &replay.into())
        );
        assert_eq!(row["dispatches_per_step"], dispatches, "{row}");
        // The CPU backend has no plans: every step is recorded (and run) as it comes.
        assert_eq!(row["replayed"], 0.0, "{row}");
        let host = row["host_ms_per_step"].as_f64().expect("host_ms_per_step is a number");
        assert!(host > 0.0, "a step takes host time: {row}");
    }
    assert!(rows[1]["replay_host_saving"].is_f64(), "the row without replay says what replay saved: {}", rows[1]);
    assert!(rows[2]["speedup"].is_f64() && rows[2]["speedup_of"] == "window", "the first way's speed-up: {}", rows[2]);
    let bad = rnnplay_offline(&["bench", "presets", "--replay", "sometimes"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown --replay 'sometimes'; use on, off or both"));
    let bad = rnnplay_offline(&["bench", "presets", "--layers", "fast"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--layers: 'fast' is not a way to run the layers"));
}

#[test]
fn a_lesson_check_trains_its_runs_and_measures_its_claim() {
    let out = rnnplay_offline(&["lessons", "clipping", "--check", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["name"], "clipping");
    assert_eq!(line["holds"], true, "{line}");
    let seed = &line["seeds"][0];
    assert_eq!(seed["seed"], 0);
    let runs = seed["runs"].as_array().unwrap();
    assert_eq!((runs[0]["epochs"].as_u64(), runs[0]["diverged"].as_bool()), (Some(30), Some(false)), "{line}");
    assert_eq!(runs[1]["diverged"], true, "the unclipped run diverges: {line}");
    let conditions = seed["verdict"]["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 2);
    assert!(conditions.iter().all(|c| c["holds"] == true && c["text"].as_str().unwrap().contains("θ = ")), "{line}");
    // The text form says the same per seed.
    let text = rnnplay_offline(&["lessons", "clipping", "--check", "--seeds", "1"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("seed 1: holds") && text.contains("✓ θ = 0.5: final perplexity"), "{text}");
}

#[test]
fn every_lesson_command_runs() {
    let out = rnnplay_offline(&["lessons", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lessons: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lessons.len() >= 9, "{} lessons", lessons.len());
    for lesson in &lessons {
        assert_eq!(lesson["page"], format!("?lesson={}", lesson["name"].as_str().unwrap()));
        for run in lesson["runs"].as_array().unwrap() {
            // The printed command, for one epoch on a little data.
            let command = run["command"].as_str().unwrap();
            let mut args: Vec<String> = command.split_whitespace().skip(1).map(String::from).collect();
            match args.iter().position(|a| a == "--epochs") {
                Some(i) => args[i + 1] = "1".into(),
                None => args.extend(["--epochs".into(), "1".into()]),
            }
            let seq2seq = command.contains("seq2seq") || command.contains("toy-reverse");
            let small = if seq2seq { "--num-examples" } else { "--max-tokens" };
            if !args.iter().any(|a| a == small) {
                args.extend([small.into(), if seq2seq { "200" } else { "3000" }.into()]);
            }
            args.extend(["--backend".into(), "cpu".into(), "--json".into()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = rnnplay_offline(&refs);
            assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let text = String::from_utf8_lossy(&rnnplay_offline(&["lessons", "clipping"]).stdout).to_string();
    assert!(
        text.contains(
            "rnnplay train --preset d2l-rnn-scratch --hidden 128 --max-tokens 10000 --epochs 30 --lr 4 --clip 1000000"
        ),
        "{text}"
    );
    assert!(text.contains("claim: the unclipped run's perplexity rises above 3×"), "{text}");
    let unknown = rnnplay_offline(&["lessons", "transformers"]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no lesson 'transformers'; the lessons are language-model,")
    );
}

#[test]
fn train_resume_continues_a_saved_run_exactly_and_refuses_what_would_change_it() {
    let dir = temp_dir("resume");
    let (first, second) = (dir.join("first.safetensors"), dir.join("second.safetensors"));
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
    let run = ["train", "--backend", "cpu", "--hidden", "24", "--max-tokens", "8000", "--optimizer", "adam"];
    let run = [&run[..], &["--lr", "0.01", "--sampling", "random", "--valid-fraction", "0.2", "--json"]].concat();
    let uninterrupted = json_line(&rnnplay_offline(&[&run[..], &["--epochs", "4"]].concat()));
    json_line(&rnnplay_offline(&[&run[..], &["--epochs", "2", "--save", first]].concat()));
    let resume = ["train", "--backend", "cpu", "--resume", first, "--epochs", "4", "--json", "--save", second];
    let resumed = json_line(&rnnplay_offline(&resume));
    assert_eq!(resumed["perplexity"], uninterrupted["perplexity"], "{resumed}\n{uninterrupted}");
    assert_eq!(resumed["valid_perplexity"], uninterrupted["valid_perplexity"]);
    assert_eq!(resumed["epochs"], 4);
    // The same model (every tensor's name, type and shape) and a training state in both.
    let layout = |path: &str| {
        let bytes = std::fs::read(path).unwrap();
        let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
        let metadata = header.as_object_mut().unwrap().remove("__metadata__").unwrap();
        assert!(metadata["training"].is_string(), "{path} holds a training state");
        let tensors: Vec<(String, serde_json::Value, serde_json::Value)> = header
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, t)| (name.clone(), t["dtype"].clone(), t["shape"].clone()))
            .collect();
        tensors
    };
    assert_eq!(layout(second), layout(first), "the same model and state");

    for (args, says) in [
        (vec!["--lr", "0.1", "--hidden", "8"], "--hidden, --lr would change it"),
        (vec!["--epochs", "2"], "give --epochs N with N more than 2"),
        (vec!["--epochs", "3", "--save", first], "is the same file as --resume"),
    ] {
        let out = rnnplay_offline(&[&["train", "--backend", "cpu", "--resume", first][..], &args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn outputs_are_checked_before_training_and_nothing_is_lost() {
    let dir = temp_dir("outputs");
    let corpus = dir.join("c.txt");
    let text = "the time traveller held up a glittering metallic framework.\n".repeat(60);
    std::fs::write(&corpus, &text).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (corpus_path, svg, shared) = (path("c.txt"), path("m.svg"), path("x.out"));
    let train = |extra: &[&str]| {
        let base =
            ["train", "--backend", "cpu", "--hidden", "16", "--epochs", "2", "--batch-size", "4", "--num-steps", "8"];
        rnnplay_offline(&[&base[..], &["--data", &corpus_path], extra].concat())
    };
    for (extra, says) in [
        (vec!["--save", corpus_path.as_str()], "is the same file as --data"),
        (vec!["--metrics", corpus_path.as_str()], "is the same file as --data"),
        (vec!["--plot", svg.as_str(), "--save", svg.as_str()], "--save and --plot both name"),
        (vec!["--metrics", shared.as_str(), "--save", shared.as_str()], "--save and --metrics both name"),
        (vec!["--save", dir.to_str().unwrap()], "that is a directory"),
    ] {
        let out = train(&extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{extra:?}: {stderr}");
        assert!(!stderr.contains("epoch 1"), "refused before training: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&corpus).unwrap(), text, "the corpus is intact");
    assert!(!dir.join("x.out").exists() && !dir.join("m.svg").exists());

    // --metrics appends: two runs in one file, each with its spec line and its own run id.
    let metrics = path("runs.jsonl");
    train(&["--metrics", &metrics, "--json"]);
    train(&["--metrics", &metrics, "--json", "--plot", &path("P.SVG")]);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&metrics).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "two runs of a spec line and two epochs");
    assert!(lines[0]["spec"].is_object() && lines[3]["spec"].is_object());
    assert_eq!(lines[1]["run"], lines[0]["run"]);
    assert_ne!(lines[3]["run"], lines[0]["run"], "each run has its own id");
    assert!(
        std::fs::read_to_string(dir.join("P.SVG")).unwrap().starts_with("<svg"),
        "an upper-case .SVG is a plot too"
    );

    // An ordinary error prints its message, never a stack trace, even with RUST_BACKTRACE set.
    let out = Command::new(env!("CARGO_BIN_EXE_rnnplay"))
        .args(["train", "--backend", "cpu", "--data", &path("missing.txt")])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.starts_with("Error: reading --data"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn careless_and_hostile_inputs_get_a_message_and_a_failing_exit_never_a_crash() {
    let dir = temp_dir("hostile");
    let pairs = dir.join("pairs.tsv");
    std::fs::write(&pairs, "a b\tb a\n\tc\nc d\td c\n").unwrap();
    let pairs = pairs.to_str().unwrap();
    let model = dir.join("s.safetensors");
    let model = model.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--backend", "cpu", "--hidden", "100000", "--epochs", "1", "--max-tokens", "2000"],
            "more than rnnplay builds",
        ),
        (vec!["train", "--backend", "cpu", "--dropout", "0.5", "--epochs", "1"], "dropout acts between stacked layers"),
        (vec!["train", "--backend", "cpu", "--lr", "1e39"], "--lr: '1e39' is beyond a 32-bit float"),
        (vec!["predict", "--checkpoint", "m.safetensors", "--temperature", "1e39"], "beyond a 32-bit float"),
        (
            vec!["train", "--preset", "toy-reverse", "--predict-len", "5", "--epochs", "1"],
            "--predict-len applies to language models",
        ),
        (vec!["predict", "--checkpoint", "m.safetensors", "--len", "10000000"], "not a length from 1 to 100000"),
        (vec!["train", "--preset", "toy-reverse", "--backend", "cpu", "--data", pairs, "--epochs", "1"], "line 2 of"),
        (
            vec![
                "train",
                "--preset",
                "toy-reverse",
                "--backend",
                "cpu",
                "--hidden",
                "16",
                "--embedding",
                "8",
                "--lr",
                "1e30",
                "--clip",
                "1e30",
                "--epochs",
                "3",
                "--num-examples",
                "200",
                "--save",
                model,
            ],
            "training diverged in epoch 1",
        ),
    ];
    for (args, says) in cases {
        let out = rnnplay_offline(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 1: rnnplay's error; 2: a flag clap refused. Never a signal (an abort) or a panic.
        assert!(matches!(out.status.code(), Some(1 | 2)) && !stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_soak_samples_memory_and_finds_it_flat() {
    let args = ["bench", "soak", "--backend", "cpu", "--preset", "d2l-rnn-scratch", "--hidden", "8"];
    let out = rnnplay_offline(
        &[&args[..], &["--max-tokens", "2000", "--minutes", "0.05", "--every", "0.3", "--json"]].concat(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let samples: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l.get("sample")).collect();
    assert!(samples.len() >= 7, "{stdout}");
    assert!(samples.iter().all(|s| s["device"]["live_buffers"].as_u64() > Some(0)), "{stdout}");
    let verdict = lines.last().expect("a verdict line");
    let names: Vec<&str> = verdict["growth"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
    assert!(names.contains(&"live buffers") && names.contains(&"host memory"), "{verdict}");

    let err = |extra: &[&str]| {
        let out = rnnplay_offline(&[&args[..], extra].concat());
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(err(&["--minutes", "0"]).contains("--minutes must be more than 0"));
    assert!(err(&["--minutes", "1", "--every", "30"]).contains("sample more often"));
}

/// `rnnplay export --pytorch`: the scripts of language models (one on the generated recall task)
/// and of an encoder–decoder compile
/// (python3 -m py_compile, in CI); with RNNPLAY_TORCH_PYTHON naming a Python that has torch, each
/// loads its checkpoint (the loaded language model's perplexity on a text equals `rnnplay
/// predict`'s; the encoder–decoder's greedy and beam-search translations equal `rnnplay
/// translate`'s), trains on
/// one epoch and saves weights that `rnnplay predict` / `translate` read.
#[test]
fn export_writes_a_pytorch_script_that_continues_the_run() {
    let dir = temp_dir("export");
    // Trains `preset` briefly into NAME.safetensors and exports NAME.py from it.
    let train_and_export = |name: &str, preset: &str, epochs: &str, extra: &[&str]| {
        let (checkpoint, script) = (dir.join(format!("{name}.safetensors")), dir.join(format!("{name}.py")));
        let (checkpoint_path, script_path) = (checkpoint.to_str().unwrap(), script.to_str().unwrap());
        let args = ["--preset", preset, "--hidden", "16", "--epochs", epochs, "--max-tokens", "3000"];
        let train = [&["train", "--backend", "cpu"][..], &args, extra, &["--save", checkpoint_path]].concat();
        let out = rnnplay_offline(&train);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = rnnplay_offline(&["export", "--pytorch", script_path, "--checkpoint", checkpoint_path]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("torchrun"));
        (checkpoint, script)
    };
    let (checkpoint, script) = train_and_export("gru", "d2l-deep-gru", "2", &[]);
    // AdamW with weight decay travels into the script's optimizer.
    let (decayed, decayed_script) =
        train_and_export("adamw", "d2l-gru", "2", &["--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0.01"]);
    let text = std::fs::read_to_string(&decayed_script).unwrap();
    assert!(
        // (The spec travels as JSON inside a Python string literal.)
        text.contains(r#"optimizer\":\"adamw\""#) && text.contains(r#"weight_decay\":0.01"#),
        "the spec in the script"
    );
    // A generated corpus (the recall task) travels in the script as text.
    let (_, recall_script) = train_and_export("recall", "d2l-gru", "1", &["--data", "recall-15"]);
    let text = std::fs::read_to_string(&recall_script).unwrap();
    assert!(text.contains("xxxxxxxxxxxxxxxz"), "the recall task's records in the script");
    // The encoder–decoder on a toy task (its pairs travel in the script).
    let (toy, toy_script) = (dir.join("toy.safetensors"), dir.join("toy.py"));
    let toy_args = ["train", "--backend", "cpu", "--preset", "toy-reverse", "--hidden", "16", "--embedding", "8"];
    let out = rnnplay_offline(&[&toy_args[..], &["--epochs", "2", "--save", toy.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        rnnplay_offline(&["export", "--pytorch", toy_script.to_str().unwrap(), "--checkpoint", toy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("greedy translation"));
    // And with attention (d2l 11.4's decoder), additive and dot, and bidirectional encoders.
    let attending = |name: &str, architecture: &[&str]| {
        let (checkpoint, script) = (dir.join(format!("{name}.safetensors")), dir.join(format!("{name}.py")));
        let extra = ["--epochs", "2", "--save", checkpoint.to_str().unwrap()];
        let out = rnnplay_offline(&[&toy_args[..], architecture, &extra[..]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (script_path, checkpoint_path) = (script.to_str().unwrap(), checkpoint.to_str().unwrap());
        let out = rnnplay_offline(&["export", "--pytorch", script_path, "--checkpoint", checkpoint_path]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (checkpoint, script)
    };
    let (additive, additive_script) = attending("additive", &["--attention", "additive"]);
    let (dot, dot_script) = attending("dot", &["--attention", "dot"]);
    let (both_ways, both_ways_script) = attending("both-ways", &["--bidirectional", "yes"]);
    let (both_ways_dot, both_ways_dot_script) =
        attending("both-ways-dot", &["--bidirectional", "yes", "--attention", "dot"]);
    // A bidirectional language model (the lesson's counter-example) exports too.
    let (both_ways_lm, both_ways_lm_script) =
        train_and_export("both-ways-lm", "d2l-gru", "1", &["--bidirectional", "yes"]);
    // translate --attention: a row per output word (and the <eos> that ended it) over the
    // source's words, each summing to 1; a model without attention is refused.
    let shown = |checkpoint: &std::path::Path, json: bool| {
        let path = checkpoint.to_str().unwrap();
        let args = ["translate", "--backend", "cpu", "--checkpoint", path, "--attention", "a b c d"];
        rnnplay_offline(&[&args[..], if json { &["--json"][..] } else { &[][..] }].concat())
    };
    let map = json_line(&shown(&additive, true))["attention"].clone();
    let (source, output) = (map["source"].as_array().unwrap(), map["output"].as_array().unwrap());
    assert_eq!(source.len(), 5, "a b c d <eos>: {map}");
    let weights = map["weights"].as_array().unwrap();
    assert_eq!(weights.len(), output.len());
    for row in weights {
        let row: Vec<f64> = row.as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
        assert!(row.len() == 5 && (row.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{row:?}");
    }
    assert!(String::from_utf8_lossy(&shown(&additive, false).stdout).contains("attention (rows: the output"));
    let refused = shown(&toy, false);
    assert!(
        !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("this model has no attention")
    );
    let scripts = [
        &script,
        &toy_script,
        &decayed_script,
        &recall_script,
        &additive_script,
        &dot_script,
        &both_ways_script,
        &both_ways_dot_script,
        &both_ways_lm_script,
    ];
    for script in scripts {
        let compiled = Command::new("python3").args(["-m", "py_compile", script.to_str().unwrap()]).output();
        match compiled {
            Ok(compiled) => assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr)),
            Err(err) => eprintln!("python3 is not installed ({err}): the script was not compiled"),
        }
    }
    // The checkpoint is the script's input: writing over it is refused.
    let checkpoint_path = checkpoint.to_str().unwrap();
    let out = rnnplay_offline(&["export", "--pytorch", checkpoint_path, "--checkpoint", checkpoint_path]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("same file"));

    let Ok(python) = std::env::var("RNNPLAY_TORCH_PYTHON") else {
        eprintln!("RNNPLAY_TORCH_PYTHON is not set: the script was not run with PyTorch");
        return;
    };
    // Runs `script` with `extra`; its JSON lines.
    let run = |script: &std::path::Path, extra: &[&str]| {
        let out = Command::new(&python)
            .arg(script)
            .args(extra)
            .env("RNNPLAY_DATA_DIR", data_dir())
            .output()
            .expect("the Python of RNNPLAY_TORCH_PYTHON runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let text = "the time traveller was expounding a recondite matter to us";
    let check = |checkpoint: &std::path::Path, script: &std::path::Path| {
        let torch = run(script, &["--check", text])[0]["perplexity"].as_f64().unwrap();
        let path = checkpoint.to_str().unwrap();
        let ours =
            rnnplay_offline(&["predict", "--backend", "cpu", "--checkpoint", path, "--teacher-forced", text, "--json"]);
        let ours = json_line(&ours)["teacher_forced"]["perplexity"].as_f64().unwrap();
        assert!((torch - ours).abs() < 1e-3 * ours, "{path}: PyTorch {torch}, rnnplay {ours}");
    };
    check(&checkpoint, &script);
    check(&both_ways_lm, &both_ways_lm_script);
    // d2l's from-scratch GRU, by its own equations and parameter names.
    let (scratch, scratch_script) = train_and_export("scratch", "d2l-gru-scratch", "1", &[]);
    check(&scratch, &scratch_script);
    // AdamW with weight decay: the same model loads, and trains on in PyTorch's AdamW.
    check(&decayed, &decayed_script);
    let epochs = run(&decayed_script, &["--epochs", "3", "--device", "cpu"]);
    assert!(epochs.len() == 1 && epochs[0]["perplexity"].as_f64().unwrap().is_finite(), "{epochs:?}");
    // The recall task trains on in PyTorch from the text the script carries.
    let epochs = run(&recall_script, &["--epochs", "2", "--device", "cpu"]);
    assert!(epochs.len() == 1 && epochs[0]["perplexity"].as_f64().unwrap().is_finite(), "{epochs:?}");

    let continued = dir.join("continued.safetensors");
    let epochs = run(&script, &["--epochs", "3", "--device", "cpu", "--save", continued.to_str().unwrap()]);
    assert_eq!(epochs.len(), 1, "one more epoch: {epochs:?}");
    assert_eq!(epochs[0]["epoch"], 3);
    assert!(epochs[0]["perplexity"].as_f64().unwrap().is_finite());
    let out = rnnplay_offline(&["predict", "--backend", "cpu", "--checkpoint", continued.to_str().unwrap(), "--json"]);
    assert!(json_line(&out)["free_running"].is_string());

    // The encoder–decoder: PyTorch's greedy translations of the loaded model are rnnplay's, and
    // the weights it trains on are read by `rnnplay translate`.
    let translate_with = |checkpoint: &std::path::Path, sentence: &str, search: &[&str]| {
        let path = checkpoint.to_str().unwrap();
        let args = ["translate", "--backend", "cpu", "--checkpoint", path, "--json", sentence];
        json_line(&rnnplay_offline(&[&args[..], search].concat()))["pred"].as_str().unwrap().to_string()
    };
    let translate = |checkpoint: &std::path::Path, sentence: &str| translate_with(checkpoint, sentence, &[]);
    for (checkpoint, script) in [
        (&toy, &toy_script),
        (&additive, &additive_script),
        (&dot, &dot_script),
        (&both_ways, &both_ways_script),
        (&both_ways_dot, &both_ways_dot_script),
    ] {
        for sentence in ["a b c", "b e d f", "c a b e a"] {
            let torch = run(script, &["--check", sentence])[0]["translation"].as_str().unwrap().to_string();
            let ours = translate(checkpoint, sentence);
            assert_eq!(torch, ours, "{checkpoint:?}: PyTorch and rnnplay translate '{sentence}' differently");
            // Beam search (d2l 10.8) in the script is rnnplay's.
            let search = ["--beam", "3", "--length-penalty", "0.75"];
            let torch = run(script, &[&["--check", sentence][..], &search].concat())[0]["translation"]
                .as_str()
                .unwrap()
                .to_string();
            let ours = translate_with(checkpoint, sentence, &search);
            assert_eq!(torch, ours, "{checkpoint:?}: PyTorch's and rnnplay's beam searches of '{sentence}' differ");
        }
    }
    for script in [&additive_script, &both_ways_dot_script] {
        let epochs = run(script, &["--epochs", "3", "--device", "cpu"]);
        assert!(epochs.len() == 1 && epochs[0]["per_token_ce"].as_f64().unwrap().is_finite(), "{epochs:?}");
    }
    let toy_continued = dir.join("toy-continued.safetensors");
    let epochs = run(&toy_script, &["--epochs", "3", "--device", "cpu", "--save", toy_continued.to_str().unwrap()]);
    assert_eq!(epochs.len(), 1, "one more epoch: {epochs:?}");
    assert!(epochs[0]["per_token_ce"].as_f64().unwrap().is_finite());
    translate(&toy_continued, "a b c");
}
