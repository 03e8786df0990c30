//! `rnnplay lessons`: the lessons of the page (`?lesson=NAME`), each with what to watch, the
//! commands that run it here and the outcome it claims (`rnnplay_run::lessons`); `--check`
//! trains them and checks the claim (`lessons_check.rs`).

use anyhow::{bail, Result};
use rnnplay_run::lessons::{lesson, Lesson, LESSONS};

pub fn run(name: Option<&str>, check: bool, seeds: &[u64], backend: &str, json: bool) -> Result<()> {
    let chosen: Vec<&Lesson> = match name {
        None => LESSONS.iter().collect(),
        Some(name) => match lesson(name) {
            Some(l) => vec![l],
            None => {
                let names: Vec<&str> = LESSONS.iter().map(|l| l.name).collect();
                bail!("no lesson '{name}'; the lessons are {}", names.join(", "));
            }
        },
    };
    if check {
        if seeds.is_empty() {
            bail!("--seeds needs at least one seed, e.g. --seeds 0,1,2,3,4");
        }
        return crate::lessons_check::check(&chosen, seeds, backend, json);
    }
    for l in chosen {
        if json {
            let runs: Vec<_> = l
                .runs
                .iter()
                .enumerate()
                .map(|(i, r)| serde_json::json!({ "label": r.label, "command": l.command(i) }))
                .collect();
            let line = serde_json::json!({
                "name": l.name, "title": l.title, "section": l.section, "text": l.text,
                "page": page_query(l.name), "runs": runs, "claim": l.claim.says,
            });
            println!("{line}");
            continue;
        }
        println!("{} — {} (d2l {})", l.name, l.title, l.section);
        println!("{}", wrap(l.text, 96));
        println!("  claim: {} (rnnplay lessons {} --check)", l.claim.says, l.name);
        for (i, r) in l.runs.iter().enumerate() {
            println!("  {:<24} {}", r.label, l.command(i));
        }
        println!();
    }
    Ok(())
}

/// The page's address of a lesson.
fn page_query(name: &str) -> String {
    format!("?lesson={name}")
}

/// `text` broken into lines of at most `width` characters, indented by two spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("invariant: one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
