//! What `rnnplay train` prints about a session: the data line, the progress lines and the final
//! summary — predictions for a language model (d2l's `time traveller`), translations with BLEU
//! (and held-out exact match for toy tasks) for an encoder–decoder.

use crate::tokens::{decode, encode_with_warning};
use anyhow::Result;
use rnnplay_engine::backend::Backend;
use rnnplay_engine::generate::{generate, Decoding};
use rnnplay_engine::translate::translation_example;
use rnnplay_run::{BackendSpeed, EpochReport, LanguageRun, RunSpec, Session};
use std::path::Path;
use std::rc::Rc;

/// What a run measured, for the summary.
pub struct Outcome<'a> {
    pub session: &'a Session,
    pub last: EpochReport,
    pub valid_curve: &'a [f32],
    pub tokens_per_s: f64,
    pub seconds: f64,
    pub backend: &'a Rc<dyn Backend>,
    /// What `--backend auto` measured (empty when it measured nothing).
    pub speeds: &'a [BackendSpeed],
    /// Where the model was saved (`--save`).
    pub save: Option<&'a Path>,
    /// Tokens generated for each prediction.
    pub predict_len: usize,
}

/// The training value's name and its formatted value.
pub fn value_name(spec: &RunSpec, value: f32) -> (&'static str, String) {
    if spec.is_seq2seq() {
        ("per-token cross-entropy", format!("{value:.3}"))
    } else {
        ("perplexity", format!("{value:.2}"))
    }
}

/// One line on what the session trains on.
pub fn describe_data(session: &Session) -> String {
    let spec = session.spec();
    if let Some(run) = session.language() {
        return format!(
            "{} — {} {} tokens (vocab {}), {} for validation",
            spec.data,
            run.train_tokens + run.valid_tokens,
            run.token_kind.name(),
            run.vocab.len(),
            run.valid_tokens
        );
    }
    match session.seq2seq() {
        Some(run) => format!(
            "{} — {} pairs, vocabularies {} (source) and {} (target)",
            spec.data,
            run.data.len(),
            run.data.src_vocab.len(),
            run.data.tgt_vocab.len()
        ),
        None => spec.data.clone(),
    }
}

/// Free-running continuation of `prefix`, as text.
fn continuation(run: &LanguageRun, prefix: &str, len: usize) -> Result<String> {
    let ids = encode_with_warning(&run.vocab, run.token_kind, prefix, "prefix");
    let out = pollster::block_on(generate(&run.model, &ids, len, Decoding::Greedy))?;
    Ok(decode(&run.vocab, run.token_kind, &out))
}

/// The line printed every `--report-every` epochs.
pub fn report_line(session: &Session, report: &EpochReport, tokens_per_s: f64, predict_len: usize) -> Result<String> {
    let epoch = report.epoch;
    Ok(match session.language() {
        Some(run) => {
            let sample = continuation(run, "time traveller", predict_len)?;
            let valid = report.valid_perplexity.map(|v| format!(", valid {v:.2}")).unwrap_or_default();
            format!(
                "epoch {epoch:>4}  perplexity {:>7.3}{valid}  grad norm {:>6.3}  lr {:.4}  {tokens_per_s:>7.0} tokens/s  {sample:?}",
                report.value, report.grad_norm, report.lr
            )
        }
        None => format!(
            "epoch {epoch:>4}  per-token CE {:>7.4}  (d2l's loss {:.4})  grad norm {:>6.3}  lr {:.4}  {tokens_per_s:>7.0} tokens/s",
            report.value,
            report.d2l_loss.unwrap_or(f32::NAN),
            report.grad_norm,
            report.lr
        ),
    })
}

/// The end of a run: a JSON line with `--json`, else readable lines.
pub fn print(outcome: &Outcome, json: bool) -> Result<()> {
    let session = outcome.session;
    let spec = session.spec();
    let info = outcome.backend.info();
    let mut summary = serde_json::json!({
        "preset": spec.preset, "epochs": spec.epochs, "grad_norm": outcome.last.grad_norm,
        "tokens_per_s": outcome.tokens_per_s, "seconds": outcome.seconds,
        "backend": format!("{:?}", info.kind).to_lowercase(), "adapter": info.adapter,
        "spec": spec, "backend_speeds": outcome.speeds,
    });
    let mut lines = Vec::new();
    let ran =
        format!("{:.0} tokens/s on {:?} ({}), {:.1}s", outcome.tokens_per_s, info.kind, info.adapter, outcome.seconds);
    match (session.language(), session.seq2seq()) {
        (Some(run), _) => {
            let time_traveller = continuation(run, "time traveller", outcome.predict_len)?;
            let traveller = continuation(run, "traveller", outcome.predict_len)?;
            let valid = outcome.valid_curve.last();
            extend(
                &mut summary,
                serde_json::json!({
                    "model": spec.model, "perplexity": outcome.last.value, "valid_perplexity": valid,
                    "time_traveller": time_traveller, "traveller": traveller,
                }),
            );
            let valid_text = valid.map(|v| format!(", validation {v:.2}")).unwrap_or_default();
            lines.push(format!("perplexity {:.2}{valid_text}, {ran}", outcome.last.value));
            lines.push(format!("time traveller → {time_traveller:?}"));
            lines.push(format!("traveller      → {traveller:?}"));
            if let Some(path) = outcome.save {
                let path = path.display();
                lines.push(format!(
                    "saved {path} (try: rnnplay predict --checkpoint {path} --prefix \"time traveller\")"
                ));
            }
        }
        (None, Some(run)) => {
            let mut translations = Vec::new();
            for (src, reference) in &run.examples {
                let example = pollster::block_on(translation_example(&run.model, &run.data, src, reference))?;
                lines.push(format!("{} => {}, bleu {:.3}", example.src, example.translation, example.bleu));
                translations.push(serde_json::json!({
                    "src": example.src, "pred": example.translation, "reference": example.reference, "bleu": example.bleu,
                }));
            }
            let d2l_loss = outcome.last.d2l_loss.unwrap_or(f32::NAN);
            lines.insert(
                0,
                format!(
                    "per-token cross-entropy {:.4} (d2l prints loss {d2l_loss:.4} = per-token CE / num_steps), {ran}",
                    outcome.last.value
                ),
            );
            extend(
                &mut summary,
                serde_json::json!({
                    "model": "seq2seq", "data": spec.data, "scheduled_sampling": spec.scheduled_sampling,
                    "per_token_ce": outcome.last.value, "d2l_loss": d2l_loss, "translations": translations,
                }),
            );
            if !run.held_out.is_empty() {
                let score = match &run.last_score {
                    Some(score) => score.clone(),
                    None => pollster::block_on(run.held_out_score())?,
                };
                summary["exact_match"] = serde_json::json!(score.exact);
                summary["held_out_bleu"] = serde_json::json!(score.bleu);
                summary["held_out_score"] = serde_json::json!(score.score);
                summary["held_out_beam"] = serde_json::json!(run.beam);
                summary["accuracy_by_position"] = serde_json::json!(score.by_position);
                summary["exact_match_by_length"] = score
                    .by_length
                    .iter()
                    .map(|&(length, share, count)| serde_json::json!({"length": length, "exact_match": share, "count": count}))
                    .collect();
                let how = match run.beam {
                    1 => "greedily".to_string(),
                    k => format!("by beam search, k = {k}"),
                };
                lines.push(format!(
                    "exact match on {} held-out examples (translated {how}): {:.1}%; their mean BLEU (k = 2) {:.3}, \
                     mean score (1/L^0.75)·log P {:.3}",
                    run.held_out.len(),
                    100.0 * score.exact,
                    score.bleu,
                    score.score
                ));
                let positions: Vec<String> = score.by_position.iter().map(|a| format!("{:.0}", 100.0 * a)).collect();
                lines.push(format!("free-running accuracy by output position (%): {}", positions.join(" ")));
                if score.by_length.len() > 1 {
                    let lengths: Vec<String> =
                        score.by_length.iter().map(|(len, share, _)| format!("{len}: {:.0}", 100.0 * share)).collect();
                    lines.push(format!("exact match by source length (%): {}", lengths.join(", ")));
                }
            }
            if let (Some(path), Some((src, _))) = (outcome.save, run.examples.first()) {
                let path = path.display();
                lines.push(format!("saved {path} (try: rnnplay translate --checkpoint {path} \"{src}\")"));
            }
        }
        (None, None) => {}
    }
    if json {
        println!("{summary}");
    } else {
        println!("{}", crate::terminal::escaped(&lines.join("\n"), true));
    }
    Ok(())
}

/// Adds `more`'s keys to `summary`.
fn extend(summary: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(summary), serde_json::Value::Object(more)) = (summary.as_object_mut(), more) {
        summary.extend(more);
    }
}
