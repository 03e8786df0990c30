//! The terminal view of what a layer computes: a passage shaded by one unit's values (colour on
//! a terminal, block heights everywhere), and the per-layer JSON of one time step.

use crate::terminal::printable;
use rnnplay_data::{TokenKind, Vocab};
use rnnplay_engine::inspect::Signal;
use serde_json::{json, Map, Value};

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
            let text = printable(vocab.token(id));
            match kind {
                TokenKind::Char if text == " " => "␣".to_string(),
                TokenKind::Char => text,
                _ => format!("{text} "),
            }
        })
        .collect()
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
