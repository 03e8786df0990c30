//! Nothing of the user's is lost: outputs that are not plain files, temporary files, paths
//! checked before work, outputs that would be inputs. Each test runs the binary as a user would,
//! in a scratch directory; device nodes are made with `mknod` there when the test runs as root
//! (skipped with a printed reason otherwise).

mod common;

use common::{data_dir, rnnplay_offline, temp_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `rnnplay` with `env` added; fails the test (instead of hanging) if it runs past `limit`.
fn rnnplay_within(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rnnplay"));
    command.args(args).env("RNNPLAY_DATA_DIR", data_dir()).env("RNNPLAY_OFFLINE", "1");
    command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the rnnplay binary runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().ok();
            panic!("rnnplay {args:?} was still running after {limit:?} (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small corpus in `dir` and the arguments of a quick run on it.
fn quick_run(dir: &Path) -> Vec<String> {
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, "the time traveller held up a glittering metallic framework.\n".repeat(40)).unwrap();
    ["train", "--backend", "cpu", "--hidden", "8", "--epochs", "2", "--batch-size", "4", "--num-steps", "8"]
        .iter()
        .map(|s| s.to_string())
        .chain(["--data".to_string(), corpus.display().to_string()])
        .collect()
}

fn with<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().map(String::as_str).chain(extra.iter().copied()).collect()
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The non-regular files this test can make in `dir`: a FIFO, a socket, and (as root) a character
/// device like /dev/null. Each name ends in `ext`.
fn special_files(dir: &Path, ext: &str) -> Vec<(PathBuf, &'static str, std::os::unix::net::UnixListener)> {
    let mut made = Vec::new();
    let fifo = dir.join(format!("fifo{ext}"));
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    let socket = dir.join(format!("socket{ext}"));
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let null = dir.join(format!("null{ext}"));
    match Command::new("mknod").arg(&null).args(["c", "1", "3"]).output() {
        Ok(out) if out.status.success() => made.push((null, "a character device", listener.try_clone().unwrap())),
        Ok(out) => eprintln!("skipped the device-node case: mknod needs root ({})", stderr(&out).trim()),
        Err(err) => eprintln!("skipped the device-node case: no mknod ({err})"),
    }
    made.push((fifo, "a FIFO (named pipe)", listener.try_clone().unwrap()));
    made.push((socket, "a socket", listener));
    made
}

fn file_kind(path: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(path).unwrap().file_type()
}

#[test]
fn outputs_that_are_not_plain_files_are_refused_before_any_work_and_left_as_they_are() {
    let dir = temp_dir("special");
    let run = quick_run(&dir);
    let checkpoint = dir.join("m.safetensors");
    let out = rnnplay_within(&with(&run, &["--save", text(&checkpoint)]), &[], Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    for ext in ["", ".svg"] {
        for (path, what, _keep) in special_files(&dir, ext) {
            let before = file_kind(&path);
            let flags: &[&str] = if ext.is_empty() { &["--save", "--metrics", "--pytorch"] } else { &["--plot"] };
            for &flag in flags {
                let out = if flag == "--pytorch" {
                    let args = ["export", "--pytorch", text(&path), "--checkpoint", text(&checkpoint)];
                    rnnplay_within(&args, &[], Duration::from_secs(30))
                } else {
                    rnnplay_within(&with(&run, &[flag, text(&path)]), &[], Duration::from_secs(30))
                };
                let says = format!("{flag} {} is {what}, not a regular file", path.display());
                assert!(!out.status.success() && stderr(&out).contains(&says), "{flag} {what}: {}", stderr(&out));
                assert!(!stderr(&out).contains("epoch 1"), "refused before training: {}", stderr(&out));
                assert_eq!(file_kind(&path), before, "{flag} left {} as it was", path.display());
            }
        }
        std::fs::remove_file(dir.join(format!("fifo{ext}"))).ok();
        std::fs::remove_file(dir.join(format!("socket{ext}"))).ok();
        std::fs::remove_file(dir.join(format!("null{ext}"))).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn saves_use_their_own_temporary_files_and_two_runs_saving_to_one_path_both_finish() {
    let dir = temp_dir("temporary");
    let run = quick_run(&dir);
    let model = dir.join("m.safetensors");
    // The user's own files that look like rnnplay's temporary names stay untouched.
    std::fs::write(dir.join("m.safetensors.partial"), "mine").unwrap();
    std::fs::create_dir(dir.join("m.svg.partial")).unwrap();
    let plot = dir.join("m.svg");
    let saves = with(&run, &["--save", text(&model), "--plot", text(&plot)]);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_rnnplay"))
            .args(&saves)
            .env("RNNPLAY_DATA_DIR", data_dir())
            .env("RNNPLAY_OFFLINE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(dir.join("m.safetensors.partial")).unwrap(), "mine");
    assert!(dir.join("m.svg.partial").is_dir());
    let out = rnnplay_offline(&["predict", "--backend", "cpu", "--checkpoint", text(&model), "--json"]);
    assert!(out.status.success(), "one complete checkpoint: {}", stderr(&out));
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["corpus.txt", "m.safetensors", "m.safetensors.partial", "m.svg", "m.svg.partial"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn paths_are_checked_completely_before_training_and_a_replaced_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("paths");
    let run = quick_run(&dir);
    let protected = dir.join("protected.safetensors");
    std::fs::write(&protected, "keep").unwrap();
    std::fs::set_permissions(&protected, std::fs::Permissions::from_mode(0o444)).unwrap();
    let slash = format!("{}/", dir.join("out").display());
    let missing = dir.join("no-such-dir").join("m.safetensors");
    for (flag, path, says) in [
        ("--save", slash.as_str(), "ends in '/', so it names a directory"),
        ("--metrics", text(&missing), "does not exist; create it first"),
        ("--save", text(&protected), "is write-protected"),
        ("--plot", text(&dir.join("no-such-dir/p.svg")), "does not exist"),
    ] {
        let out = rnnplay_within(&with(&run, &[flag, path]), &[], Duration::from_secs(30));
        let err = stderr(&out);
        assert!(!out.status.success() && err.contains(says), "{flag} {path}: {err}");
        assert!(err.contains(path.trim_end_matches('/')), "the message names the path: {err}");
        assert!(!err.contains("epoch 1"), "refused before training: {err}");
    }
    assert_eq!(std::fs::read_to_string(&protected).unwrap(), "keep");
    assert!(!dir.join("out").exists() && !dir.join("no-such-dir").exists());

    let shared = dir.join("group.safetensors");
    std::fs::write(&shared, "old").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("link.safetensors");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    let out = rnnplay_within(&with(&run, &["--save", text(&link)]), &[], Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(std::fs::metadata(&shared).unwrap().len() > 100, "its target holds the checkpoint");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn outputs_never_overwrite_inputs_the_checkpoint_the_corpus_or_the_dataset_cache() {
    let dir = temp_dir("inputs");
    // A dataset cache of our own, so that a failure here cannot touch the shared test data.
    let cache = dir.join("cache");
    std::fs::create_dir(&cache).unwrap();
    let cached = cache.join("timemachine.txt");
    std::fs::copy(Path::new(&data_dir()).join("timemachine.txt"), &cached).unwrap();
    // Writable, so that only the rule about inputs stands between a run and the file.
    let mut writable = std::fs::metadata(&cached).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut writable, 0o644);
    std::fs::set_permissions(&cached, writable).unwrap();
    let cache_env = [("RNNPLAY_DATA_DIR", cache.to_str().unwrap())];
    let run = quick_run(&dir);
    let corpus = dir.join("corpus.txt");
    let corpus_text = std::fs::read(&corpus).unwrap();
    let model = dir.join("m.safetensors");
    let out = rnnplay_within(&with(&run, &["--save", text(&model)]), &cache_env, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    let model_bytes = std::fs::read(&model).unwrap();
    let cached_bytes = std::fs::read(&cached).unwrap();
    let long = Duration::from_secs(60);
    for (args, says) in [
        (vec!["export", "--pytorch", text(&model), "--checkpoint", text(&model)], "is the same file as --checkpoint"),
        (vec!["export", "--pytorch", text(&corpus), "--checkpoint", text(&model)], "same file as the run's corpus"),
        (vec!["export", "--pytorch", text(&cached), "--checkpoint", text(&model)], "the dataset cache's"),
        (
            vec!["train", "--backend", "cpu", "--hidden", "8", "--epochs", "1", "--save", text(&cached)],
            "the dataset cache's",
        ),
    ] {
        let out = rnnplay_within(&args, &cache_env, long);
        assert!(!out.status.success() && stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes);
    assert_eq!(std::fs::read(&corpus).unwrap(), corpus_text);
    assert_eq!(std::fs::read(&cached).unwrap(), cached_bytes);
    std::fs::remove_dir_all(&dir).ok();
}

/// The header of a safetensors file as text, and the bytes after it.
fn split_file(path: &Path) -> (String, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (String::from_utf8(bytes[8..8 + n].to_vec()).unwrap(), bytes[8 + n..].to_vec())
}

/// Writes `header` and `data` as a safetensors file at `path`.
fn join_file(path: &Path, header: &str, data: &[u8]) {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// A copy of checkpoint `from` at `to` with metadata entry `key` rewritten by `edit` (None
/// removes it).
fn with_metadata(from: &Path, to: &Path, key: &str, edit: impl FnOnce(Option<String>) -> Option<String>) {
    let (header, data) = split_file(from);
    let mut header: serde_json::Value = serde_json::from_str(&header).unwrap();
    let metadata = header["__metadata__"].as_object_mut().unwrap();
    let old = metadata.remove(key).map(|v| v.as_str().unwrap().to_string());
    if let Some(new) = edit(old) {
        metadata.insert(key.into(), new.into());
    }
    join_file(to, &header.to_string(), &data);
}

/// Edits one field of the JSON held in metadata entry `key`.
fn with_json_field(from: &Path, to: &Path, key: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    with_metadata(from, to, key, |text| {
        let mut value: serde_json::Value = serde_json::from_str(&text.unwrap()).unwrap();
        edit(&mut value);
        Some(value.to_string())
    });
}

/// `(exit status, stdout, stderr)` of rnnplay with the shared test data.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = rnnplay_within(args, &[], Duration::from_secs(120));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out))
}

#[test]
fn impossible_requests_are_refused_at_once() {
    let started = Instant::now();
    let (ok, _, err) = run(&["train", "--preset", "toy-reverse", "--num-examples", "200000", "--epochs", "1"]);
    assert!(!ok && err.contains("--num-examples: the reverse task has 111000 distinct examples"), "{err}");
    assert!(err.contains("ask for at most 110800 pairs"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "refused after {:?}", started.elapsed());
    // The most there are is accepted (and generated without a long search).
    let (ok, _, err) = run(&[
        "train",
        "--preset",
        "toy-reverse",
        "--data",
        "add",
        "--backend",
        "cpu",
        "--num-examples",
        "9800",
        "--hidden",
        "8",
        "--embedding",
        "4",
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn nothing_printed_from_a_file_reaches_the_terminal_raw() {
    let dir = temp_dir("terminal");
    let run_args = quick_run(&dir);
    let model = dir.join("m.safetensors");
    assert!(run(&with(&run_args, &["--save", text(&model)])).0);
    // A vocabulary whose most common letter is an escape sequence.
    let hostile = dir.join("hostile.safetensors");
    with_metadata(&model, &hostile, "vocab", |vocab| Some(vocab.unwrap().replace("\"e\"", "\"\\u001b[2J\\u0007\"")));
    let pairs = dir.join("pairs.tsv");
    std::fs::write(&pairs, "a\u{1b}[31mb c\tc b\u{1b}[31ma\nd e\te d\n".repeat(20)).unwrap();
    let seq = dir.join("s.safetensors");
    let toy = ["train", "--preset", "toy-reverse", "--backend", "cpu", "--hidden", "8", "--embedding", "4"];
    let outputs = [
        run(&[&toy[..], &["--epochs", "2", "--data", text(&pairs), "--save", text(&seq)]].concat()),
        run(&["predict", "--backend", "cpu", "--checkpoint", text(&hostile), "--teacher-forced", "the time traveller"]),
        run(&[
            "inspect",
            "--backend",
            "cpu",
            "--checkpoint",
            text(&hostile),
            "--text",
            "there he went",
            "--position",
            "4",
        ]),
        run(&[
            "translate",
            "--backend",
            "cpu",
            "--checkpoint",
            text(&seq),
            "a\u{1b}[31mb c",
            "--reference",
            "c b\u{1b}[31ma",
        ]),
        run(&["inspect", "--backend", "cpu", "--checkpoint", text(&seq), "--text", "a\u{1b}[31mb c"]),
        run(&["train", "--backend", "cpu", "--data", text(&dir.join("evil\u{1b}[2J.txt"))]),
        run(&["lessons", "no\u{1b}]0;title\u{7}"]),
    ];
    for (index, (_, stdout, stderr)) in outputs.iter().enumerate() {
        for (stream, text) in [("stdout", stdout), ("stderr", stderr)] {
            assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "output {index}, {stream}: {text:?}");
        }
    }
    assert!(outputs[1].0 && outputs[1].1.contains("\\e[2J\\u{7}"), "the token is shown escaped: {}", outputs[1].1);
    assert!(outputs[3].0 && outputs[3].1.contains("\\e[31m"), "{}", outputs[3].1);
    assert!(outputs[5].2.contains("evil\\e[2J.txt"), "{}", outputs[5].2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn resume_refuses_other_data_and_broken_checkpoints_and_accepts_repeated_flags() {
    let dir = temp_dir("resume-data");
    let run_args = quick_run(&dir);
    let corpus = dir.join("corpus.txt");
    let original = std::fs::read_to_string(&corpus).unwrap();
    let saved = dir.join("saved.safetensors");
    assert!(run(&with(&run_args, &["--optimizer", "adam", "--lr", "0.01", "--save", text(&saved)])).0);
    let resume = |extra: &[&str]| {
        let base = ["train", "--backend", "cpu", "--resume", text(&saved), "--epochs", "3"];
        run(&[&base[..], extra].concat())
    };
    // Flags that repeat the saved values are accepted (the data by a relative path too).
    let relative = std::env::current_dir().ok().and_then(|cwd| corpus.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    let data_flag = relative.unwrap_or(corpus.clone());
    let (ok, _, err) =
        resume(&["--hidden", "8", "--optimizer", "adam", "--lr", "0.01", "--data", text(&data_flag), "--json"]);
    assert!(ok, "{err}");
    let (ok, _, err) = resume(&["--hidden", "16"]);
    assert!(!ok && err.contains("--hidden would change it"), "{err}");

    // Other data: an edited character, reordered lines, another file of the same name.
    let lines: Vec<&str> = original.lines().collect();
    let reordered = format!("{}\n{}", lines[1..].join("\n"), lines[0]);
    for (what, text_now) in [
        ("an edited character", original.replacen("glittering", "glitterinG", 1)),
        ("reordered lines", reordered.clone()),
        ("another file", "a different story altogether.\n".repeat(80)),
    ] {
        std::fs::write(&corpus, &text_now).unwrap();
        let (ok, _, err) = resume(&[]);
        assert!(!ok && err.contains("the data is not what the saved run trained on"), "{what}: {err}");
        assert!(err.contains(text(&corpus)) && err.contains("--allow-changed-data"), "{what}: {err}");
        assert!(!err.contains("epoch 3"), "{what}: refused before training: {err}");
    }
    // Asked for explicitly, other data with the same vocabulary trains on; a new vocabulary cannot.
    std::fs::write(&corpus, &reordered).unwrap();
    let (ok, _, err) = resume(&["--allow-changed-data", "--json"]);
    assert!(ok, "{err}");
    std::fs::write(&corpus, "xyz qqq.\n".repeat(200)).unwrap();
    let (ok, _, err) = resume(&["--allow-changed-data"]);
    assert!(!ok && err.contains("gives a vocabulary other than the saved run's"), "{err}");
    std::fs::write(&corpus, &original).unwrap();
    let (ok, _, err) = run(&with(&run_args, &["--allow-changed-data"]));
    assert!(!ok && err.contains("--allow-changed-data applies with --resume"), "{err}");

    // A spec that lacks a field, a training state that does not fit: a broken checkpoint.
    let broken = dir.join("broken.safetensors");
    let resume_broken = || run(&["train", "--backend", "cpu", "--resume", text(&broken), "--epochs", "3"]);
    with_json_field(&saved, &broken, "spec", |spec| {
        spec.as_object_mut().unwrap().remove("hidden");
    });
    let (ok, _, err) = resume_broken();
    assert!(!ok && err.contains("this checkpoint is broken: its saved spec lacks hidden"), "{err}");
    with_json_field(&saved, &broken, "training", |training| {
        let m = training["optimizer"]["m"].as_array_mut().unwrap();
        m[0] = serde_json::json!("AAAAAA==");
    });
    let (ok, _, err) = resume_broken();
    assert!(!ok && err.contains("this checkpoint is broken") && !err.contains("data"), "{err}");
    with_json_field(&saved, &broken, "training", |training| training["data_rng"] = "twelve".into());
    let (ok, _, err) = resume_broken();
    assert!(!ok && err.contains("this checkpoint is broken"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn nonsense_gets_a_word_and_hostile_checkpoints_are_refused() {
    let dir = temp_dir("nonsense");
    let run_args = quick_run(&dir);
    let (ok, _, err) = run(&with(&run_args, &["--lr-schedule", "cosine:2"]));
    assert!(!ok && err.contains("--lr-schedule: the warm-up of 2 epochs is as long as the run (2 epochs)"), "{err}");
    let russian = dir.join("ru.txt");
    std::fs::write(&russian, "Машина времени, сказал путешественник, said he.\n".repeat(40)).unwrap();
    let (_, _, err) = run(&[
        "train",
        "--backend",
        "cpu",
        "--data",
        text(&russian),
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--num-steps",
        "4",
    ]);
    assert!(err.contains("warning: only 240 of the 1560 letters") && err.contains("are a-z"), "{err}");
    std::fs::write(&russian, "Машина времени.\n".repeat(40)).unwrap();
    let (ok, _, err) = run(&["train", "--backend", "cpu", "--data", text(&russian), "--epochs", "1"]);
    assert!(!ok && err.contains("the corpus is empty") && err.contains("only 0 of the 520 letters"), "{err}");
    let rare = dir.join("rare.tsv");
    let lines: String = (0..60).map(|i| format!("w{i} x{i}\ty{i} z{i}\n")).collect();
    std::fs::write(&rare, lines).unwrap();
    let toy =
        ["train", "--preset", "toy-reverse", "--backend", "cpu", "--hidden", "8", "--embedding", "4", "--epochs", "1"];
    let (_, _, err) = run(&[&toy[..], &["--data", text(&rare), "--min-freq", "2"]].concat());
    assert!(err.contains("words occur fewer than min_freq = 2 times and became <unk>"), "{err}");

    let model = dir.join("m.safetensors");
    assert!(run(&with(&run_args, &["--save", text(&model)])).0);
    let seq = dir.join("s.safetensors");
    assert!(run(&[&toy[..], &["--num-examples", "100", "--save", text(&seq)]].concat()).0);
    let edited = dir.join("edited.safetensors");
    let predict = || run(&["predict", "--backend", "cpu", "--checkpoint", text(&edited)]);
    let translate = || run(&["translate", "--backend", "cpu", "--checkpoint", text(&edited), "a b c"]);

    with_metadata(&seq, &edited, "tgt_vocab", |v| Some(v.unwrap().replace("\"<bos>\"", "\"<b0s>\"")));
    let (ok, _, err) = translate();
    assert!(!ok && err.contains("its tgt_vocab lacks <bos>"), "{err}");
    with_metadata(&model, &edited, "vocab", |v| Some(v.unwrap().replace("\"e\"", "\"t\"")));
    let (ok, _, err) = predict();
    assert!(!ok && err.contains("holds the token \"t\" twice"), "{err}");
    with_metadata(&model, &edited, "epochs", |_| Some("-3".into()));
    let (ok, _, err) = predict();
    assert!(!ok && err.contains("it trained \"-3\" epochs"), "{err}");
    let (header, data) = split_file(&model);
    let first = header.find("\"rnn.").expect("a tensor entry");
    let end = header[first..].find('}').unwrap() + first + 1;
    let twice = format!("{},{}", &header[..end], &header[first..]);
    join_file(&edited, &twice, &data);
    let (ok, _, err) = predict();
    assert!(!ok && err.contains("it names tensor 'rnn."), "{err}");
    let huge: Vec<u8> =
        data.chunks_exact(4).flat_map(|b| (f32::from_le_bytes(b.try_into().unwrap()) * 1e6).to_le_bytes()).collect();
    join_file(&edited, &header, &huge);
    let (ok, _, err) = predict();
    assert!(ok && err.contains("its predictions saturate"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn messages_name_the_flag_for_every_bad_value() {
    for (args, env, says) in [
        (vec!["train", "--backend", "tpu"], None, "--backend (or RNNPLAY_BACKEND) must be auto, gpu or cpu"),
        (vec!["train", "--epochs", "1"], Some("banana"), "invalid value 'banana'"),
        (vec!["devices"], Some("banana"), "RNNPLAY_BACKEND is 'banana'; it must be auto, gpu or cpu"),
        (vec!["train", "--dropout", "-0.1", "--epochs", "1"], None, "--dropout: dropout must be in [0, 1) (got -0.1)"),
        (vec!["train", "--hidden", "-3"], None, "--hidden: '-3' is not a whole number"),
        (vec!["predict", "--checkpoint", "m", "--len", "-5"], None, "'-5' is not a length from 1 to 100000"),
        (vec!["train", "--preset", "toy-reverse", "--num-steps", "10001"], None, "--num-steps: 10001 steps"),
        (vec!["train", "--epochs", "2000000"], None, "--epochs: 2000000 epochs is more than rnnplay builds"),
        (vec!["train", "--weight-decay", "-0.1"], None, "--weight-decay: weight decay must be in [0, 1) (got -0.1)"),
        (
            vec!["train", "--optimizer", "rmsprop"],
            None,
            "--optimizer: unknown optimizer 'rmsprop'; use sgd, adam or adamw",
        ),
    ] {
        let env: Vec<(&str, &str)> = env.map(|v| ("RNNPLAY_BACKEND", v)).into_iter().collect();
        let out = rnnplay_within(&args, &env, Duration::from_secs(60));
        assert!(!out.status.success() && stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("unexpected argument"), "{args:?}: {}", stderr(&out));
    }
}
