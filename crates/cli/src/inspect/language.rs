//! `rnnplay inspect` on a language model: every layer's hidden state and gates over a passage,
//! the next-token probabilities, and with `--position` how far back that prediction reaches (the
//! gradient of its loss with respect to each earlier input). The numbers come from
//! `rnnplay_engine::inspect`; this file prints them.

use super::args::{chosen_layer, InspectArgs, SHOWN_UNITS};
use super::cell;
use super::shading::{layers_at, log_level, scale_low, shade, shown_tokens, signal_level};
use crate::tokens::encode_with_warning;
use anyhow::{bail, Context, Result};
use rnnplay_data::{TokenKind, Vocab};
use rnnplay_engine::inspect::{connectivity, gate_meaning, inspect, Connectivity, Inspection};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::{Checkpoint, EngineOptions};
use serde_json::{json, Value};
use std::io::IsTerminal;

pub fn run(args: &InspectArgs, checkpoint: &Checkpoint) -> Result<()> {
    let path = &args.checkpoint;
    if args.reference.is_some() {
        bail!("--reference is for encoder-decoder checkpoints; {} holds a language model", path.display());
    }
    let (vocab, kind) = (&checkpoint.vocab, checkpoint.token_kind);
    let tokens = encode_with_warning(vocab, kind, &args.text, "text");
    if tokens.is_empty() {
        bail!("--text is empty; give a passage to inspect");
    }
    if let Some(position) = args.position {
        if position >= tokens.len() {
            bail!(
                "--position {position} is past the passage's {} tokens; positions count from 0 (the last is {})",
                tokens.len(),
                tokens.len() - 1
            );
        }
    }
    let layers = checkpoint.config.num_layers;
    let layer = chosen_layer(args, layers, checkpoint.config.output_width())?;
    let backend = pollster::block_on(backend_by_name(&args.backend.name, &EngineOptions::from_env()?))
        .context("opening the backend")?;
    let model = checkpoint.into_model(&backend).with_context(|| format!("loading {}", path.display()))?;
    let started = std::time::Instant::now();
    let seen = pollster::block_on(inspect(&model, &tokens, args.top_k))?;
    let inspect_ms = started.elapsed().as_secs_f64() * 1e3;
    let Some(signal) = seen.signal(layer, &args.signal) else {
        let names: Vec<&str> = seen.signals.iter().filter(|s| s.layer == layer).map(|s| s.name.as_str()).collect();
        bail!("--signal {}: this {} has {}", args.signal, checkpoint.config.model_name(), names.join(", "));
    };
    let started = std::time::Instant::now();
    let link = match args.position {
        Some(position) => Some(pollster::block_on(connectivity(&model, &tokens, position))?),
        None => None,
    };
    let connectivity_ms = link.as_ref().map(|_| started.elapsed().as_secs_f64() * 1e3);
    let token = |id: u32| vocab.token(id).to_string();
    let cell = match (args.cell, args.position) {
        (true, Some(position)) => Some((position, seen.cell_step(layer, position))),
        _ => None,
    };
    if args.json {
        let mut out = to_json(checkpoint, path, &seen, link.as_ref(), args.top_k, &token);
        if let Some((position, step)) = &cell {
            out["cell"] = cell::to_json(step, layer, *position, &token(tokens[*position]));
        }
        out["inspect_ms"] = json!(inspect_ms);
        out["connectivity_ms"] = json!(connectivity_ms);
        out["backend"] = json!(backend.info().adapter);
        println!("{out}");
        return Ok(());
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    println!(
        "{} from {}: {layers} layer(s) × {} units; {} tokens",
        checkpoint.config.model_name(),
        crate::terminal::printable(&path.display().to_string()),
        seen.hidden,
        tokens.len()
    );
    println!("\nlayer {} {}: {}", layer + 1, signal.name, gate_meaning(&signal.name));
    let units = match args.unit {
        Some(unit) => vec![unit],
        None => seen.units_by_variance(signal).into_iter().take(SHOWN_UNITS).collect(),
    };
    for unit in units {
        let label = if args.unit.is_some() { String::new() } else { " (among those that vary most)".into() };
        println!("unit {unit}{label}, shaded from {} to {}:", scale_low(signal), 1.0);
        shade(&shown_tokens(vocab, kind, &tokens), &seen.unit(signal, unit), signal_level(signal), color);
    }
    let shown = args.position.unwrap_or(tokens.len() - 1);
    let next: Vec<String> =
        seen.next[shown].iter().take(args.top_k).map(|c| format!("{:?} {:.3}", token(c.token), c.p)).collect();
    println!("\nafter {:?} the model expects: {}", passage(vocab, kind, &tokens[..=shown]), next.join(", "));
    if let Some(link) = link {
        print_connectivity(vocab, kind, &tokens, &link, &token, color);
    }
    if let Some((position, step)) = &cell {
        let input = crate::terminal::printable(&token(tokens[*position]));
        cell::print(step, layer, *position, &input, &checkpoint.config);
    }
    let timing = connectivity_ms.map(|ms| format!(", connectivity {ms:.1} ms")).unwrap_or_default();
    println!("\n(on {}: inspection {inspect_ms:.1} ms{timing})", backend.info().adapter);
    Ok(())
}

fn passage(vocab: &Vocab, kind: TokenKind, tokens: &[u32]) -> String {
    crate::tokens::decode(vocab, kind, tokens)
}

fn print_connectivity(
    vocab: &Vocab,
    kind: TokenKind,
    tokens: &[u32],
    link: &Connectivity,
    token: &dyn Fn(u32) -> String,
    color: bool,
) {
    let what =
        if link.target_is_truth { "the true next token" } else { "its own most likely token (the passage ends)" };
    println!(
        "\nconnectivity of position {} (predicting {:?}, {what}): ‖∂ loss / ∂ input‖ of each earlier token, log scale over 3 decades",
        link.position,
        token(link.target)
    );
    shade(&shown_tokens(vocab, kind, &tokens[..=link.position]), &link.saliency_x, log_level(&link.saliency_x), color);
    println!("the signal reaches {} steps back (where it falls below 1% of its peak)", link.reach());
}

fn to_json(
    checkpoint: &Checkpoint,
    path: &std::path::Path,
    seen: &Inspection,
    link: Option<&Connectivity>,
    top_k: usize,
    token: &dyn Fn(u32) -> String,
) -> Value {
    let positions: Vec<Value> = (0..seen.tokens.len())
        .map(|t| {
            let layers = layers_at(&seen.signals, seen.layers, seen.hidden, t);
            let top: Vec<Value> = seen.next[t].iter().take(top_k).map(|c| json!([token(c.token), c.p])).collect();
            json!({ "position": t, "token": token(seen.tokens[t]), "layers": layers, "top_k": top })
        })
        .collect();
    let mut out = json!({
        "checkpoint": path.display().to_string(),
        "model": checkpoint.config.model_name(),
        "layers": seen.layers,
        "hidden": seen.hidden,
        "positions": positions,
    });
    if let Some(link) = link {
        out["position"] = json!(link.position);
        out["target"] = json!(token(link.target));
        out["target_is_truth"] = json!(link.target_is_truth);
        out["saliency_x"] = json!(link.saliency_x);
        out["saliency_h"] = json!(link.saliency_h);
        out["reach"] = json!(link.reach());
    }
    out
}
