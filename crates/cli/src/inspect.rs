//! `rnnplay inspect`: what a saved language model computes over a passage — every layer's
//! hidden state and gates, the next-token probabilities — and with `--position`, how far back
//! that prediction reaches (the gradient of its loss with respect to each earlier input).
//! The numbers come from `rnnplay_engine::inspect`; this file prints them.

use crate::tokens::encode_with_warning;
use anyhow::{bail, Context, Result};
use clap::Args;
use rnnplay_data::{TokenKind, Vocab};
use rnnplay_engine::inspect::{connectivity, gate_meaning, inspect, Connectivity, Inspection, Signal};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::{Checkpoint, EngineOptions, Seq2SeqCheckpoint};
use serde_json::{json, Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A checkpoint written by `rnnplay train --save`: a language model, or an encoder–decoder
    /// (then --text is the source sentence and --reference the target).
    #[arg(long)]
    pub(crate) checkpoint: PathBuf,
    /// The passage to run through the model.
    #[arg(long, default_value = "time traveller for so it will be convenient to speak of him")]
    pub(crate) text: String,
    /// Also differentiate the prediction made at this position (0-based) with respect to
    /// every earlier input and hidden state: how far back it reaches.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) position: Option<usize>,
    /// How many of the most likely next tokens to list per position.
    #[arg(long, allow_negative_numbers = true, default_value_t = 5)]
    pub(crate) top_k: usize,
    /// Shade the passage by this unit instead of the three that vary most.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) unit: Option<usize>,
    /// The layer to shade (1-based; default the top layer).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) layer: Option<usize>,
    /// The signal to shade: h (default), c (LSTM) or a gate's name (r, z, n for the GRU; i, f,
    /// g, o for the LSTM; the scratch models' own names).
    #[arg(long, default_value = "h")]
    pub(crate) signal: String,
    /// Encoder–decoders: the target the decoder is teacher-forced on (default: the model's own
    /// greedy translation).
    #[arg(long)]
    pub(crate) reference: Option<String>,
    #[command(flatten)]
    pub(crate) backend: crate::run_args::BackendArg,
    /// Print one JSON object instead of the terminal view.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Units shaded when no --unit is given.
pub(crate) const SHOWN_UNITS: usize = 3;

/// The 0-based layer `--layer` names (default the top one), after checking it and `--unit`
/// against the model's `layers` and `hidden` units.
pub(crate) fn chosen_layer(args: &InspectArgs, layers: usize, hidden: usize) -> Result<usize> {
    if let Some(unit) = args.unit.filter(|&u| u >= hidden) {
        bail!("--unit {unit}: the model has {hidden} units per layer, numbered from 0");
    }
    match args.layer {
        None => Ok(layers - 1),
        Some(l) if (1..=layers).contains(&l) => Ok(l - 1),
        Some(l) => bail!("--layer {l}: the model has {layers} layer(s), numbered from 1"),
    }
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let path = &args.checkpoint;
    let bytes = std::fs::read(path).with_context(|| format!("reading --checkpoint {}", path.display()))?;
    if args.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    let warn = |warnings: Vec<String>| {
        for warning in warnings {
            crate::terminal::warn(&format!("{}: {warning}", path.display()));
        }
    };
    let checkpoint = match Checkpoint::from_bytes(&bytes) {
        Ok(checkpoint) => checkpoint,
        Err(err) => match Seq2SeqCheckpoint::from_bytes(&bytes) {
            Ok(seq2seq) => {
                warn(seq2seq.warnings());
                return crate::inspect_translation::run(args, &seq2seq);
            }
            Err(_) => return Err(err).with_context(|| format!("loading {}", path.display())),
        },
    };
    warn(checkpoint.warnings());
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
    let layer = chosen_layer(args, layers, checkpoint.config.hidden_size)?;
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
    if args.json {
        let mut out = to_json(&checkpoint, path, &seen, link.as_ref(), args.top_k, &token);
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
    let timing = connectivity_ms.map(|ms| format!(", connectivity {ms:.1} ms")).unwrap_or_default();
    println!("\n(on {}: inspection {inspect_ms:.1} ms{timing})", backend.info().adapter);
    Ok(())
}

/// Gates and cells live in [0, 1] (sigmoids) or [-1, 1] (tanh); the shading uses the range.
pub(crate) fn scale_low(signal: &Signal) -> f32 {
    if signal.values.iter().all(|&v| v >= 0.0) {
        0.0
    } else {
        -1.0
    }
}

/// Maps a value to [0, 1] for shading.
pub(crate) fn signal_level(signal: &Signal) -> impl Fn(f32) -> f32 {
    let low = scale_low(signal);
    move |v| ((v - low) / (1.0 - low)).clamp(0.0, 1.0)
}

const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The passage on one line and under it one block per character whose height is the level;
/// on a terminal the characters are also coloured (blue high, red low).
pub(crate) fn shade(shown_tokens: &[String], values: &[f32], level: impl Fn(f32) -> f32, color: bool) {
    let (mut text, mut bars) = (String::from("  "), String::from("  "));
    for (shown, &v) in shown_tokens.iter().zip(values) {
        let x = level(v);
        let block = BLOCKS[(x * 8.0).round() as usize];
        if color {
            let (r, g, b) = heat(x);
            text.push_str(&format!("\x1b[48;2;{r};{g};{b}m\x1b[38;2;0;0;0m{shown}\x1b[0m"));
        } else {
            text.push_str(shown);
        }
        bars.extend(std::iter::repeat_n(block, shown.chars().count()));
    }
    println!("{text}\n{bars}");
}

/// Red (0) through white (0.5) to blue (1).
fn heat(x: f32) -> (u8, u8, u8) {
    let fade = |t: f32| (255.0 * (1.0 - t)) as u8;
    if x < 0.5 {
        let t = 1.0 - 2.0 * x;
        (255, fade(t * 0.7), fade(t * 0.7))
    } else {
        let t = 2.0 * x - 1.0;
        (fade(t * 0.7), fade(t * 0.5), 255)
    }
}

/// Tokens as the terminal view prints them: characters as they are (a space as '␣'), words
/// followed by a space.
pub(crate) fn shown_tokens(vocab: &Vocab, kind: TokenKind, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            let text = crate::terminal::printable(vocab.token(id));
            match kind {
                TokenKind::Char if text == " " => "␣".to_string(),
                TokenKind::Char => text,
                _ => format!("{text} "),
            }
        })
        .collect()
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

/// Gradient magnitudes to [0, 1] on a log scale below their peak (`inspect::log_level`).
pub(crate) fn log_level(values: &[f32]) -> impl Fn(f32) -> f32 {
    let peak = values.iter().copied().fold(0.0f32, f32::max);
    move |v: f32| rnnplay_engine::inspect::log_level(v, peak)
}

/// Per layer at step `t`: `h` (and `c`) and the `gates` by name, as JSON objects.
pub(crate) fn layers_at(signals: &[Signal], layers: usize, hidden: usize, t: usize) -> Vec<Value> {
    (0..layers)
        .map(|layer| {
            let row = |s: &Signal| s.values[t * hidden..(t + 1) * hidden].to_vec();
            let mut out = Map::new();
            let mut gates = Map::new();
            for signal in signals.iter().filter(|s| s.layer == layer) {
                match signal.name.as_str() {
                    "h" | "c" => {
                        out.insert(signal.name.clone(), json!(row(signal)));
                    }
                    name => {
                        gates.insert(name.to_string(), json!(row(signal)));
                    }
                }
            }
            out.insert("gates".into(), Value::Object(gates));
            Value::Object(out)
        })
        .collect()
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
