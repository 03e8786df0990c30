//! `rnnplay lessons`: the lessons of the page (`?lesson=NAME`), each with what to watch and the
//! commands that run it here (`rnnplay_run::lessons`).

use anyhow::{bail, Result};
use rnnplay_run::lessons::{lesson, Lesson, LESSONS};

pub fn run(name: Option<&str>, json: bool) -> Result<()> {
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
    for l in chosen {
        if json {
            let runs: Vec<_> =
                l.runs.iter().map(|r| serde_json::json!({ "label": r.label, "command": r.command() })).collect();
            let line = serde_json::json!({
                "name": l.name, "title": l.title, "section": l.section, "text": l.text,
                "page": page_query(l.name), "runs": runs,
            });
            println!("{line}");
            continue;
        }
        println!("{} — {} (d2l {})", l.name, l.title, l.section);
        println!("{}", wrap(l.text, 96));
        for r in l.runs {
            println!("  {:<24} {}", r.label, r.command());
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
