//! `rnnplay inspect` on an encoder–decoder checkpoint: the encoder's states over the source
//! sentence, the decoder's states and gates over the target it is teacher-forced on (the
//! reference, or the model's own greedy translation), the decoder's most likely next words at
//! every target position, and with `--position` how much each source word matters to that
//! position's prediction. The numbers come from `rnnplay_engine::inspect::translation`.

use super::args::{chosen_layer, InspectArgs, SHOWN_UNITS};
use super::shading::{layers_at, log_level, shade, signal_level};
use anyhow::{bail, Context, Result};
use rnnplay_data::translation::preprocess_nmt;
use rnnplay_engine::inspect::translation::{inspect_translation, translation_connectivity};
use rnnplay_engine::inspect::{gate_meaning, unit_values, units_by_variance};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::translate::{encode_source, teacher_forcing_ids, translate};
use rnnplay_engine::{EngineOptions, Seq2SeqCheckpoint};
use serde_json::json;
use std::io::IsTerminal;

pub fn run(args: &InspectArgs, checkpoint: &Seq2SeqCheckpoint) -> Result<()> {
    let path = &args.checkpoint;
    if args.cell {
        bail!(
            "--cell steps a language model's cell; {} holds an encoder-decoder (its gates are in --json)",
            path.display()
        );
    }
    let sentence = preprocess_nmt(args.text.trim());
    if sentence.trim().is_empty() {
        bail!("--text is empty; give the source sentence to inspect, e.g. --text \"go .\"");
    }
    let (src_vocab, tgt_vocab) = (&checkpoint.src_vocab, &checkpoint.tgt_vocab);
    let source = encode_source(src_vocab, &sentence, checkpoint.num_steps);
    if !source.unknown.is_empty() {
        crate::terminal::warn(&format!("words outside the source vocabulary, fed as <unk>: {:?}", source.unknown));
    }
    let (hidden, layers) = (checkpoint.config.decoder_width(), checkpoint.config.num_layers);
    let layer = chosen_layer(args, layers, hidden)?;
    let backend = pollster::block_on(backend_by_name(&args.backend.name, &EngineOptions::from_env()?))
        .context("opening the backend")?;
    let model = checkpoint.into_model(&backend).with_context(|| format!("loading {}", path.display()))?;
    let reference: Vec<u32> = match &args.reference {
        Some(text) => {
            preprocess_nmt(text.trim()).split(' ').filter(|t| !t.is_empty()).map(|t| tgt_vocab.index(t)).collect()
        }
        None => pollster::block_on(translate(&model, tgt_vocab, &source.ids, checkpoint.num_steps))?,
    };
    let (target_in, labels) = teacher_forcing_ids(tgt_vocab, &reference);
    if let Some(position) = args.position.filter(|&p| p >= target_in.len()) {
        bail!(
            "--position {position} is past the target's {} positions (<bos> and the reference; the last is {})",
            target_in.len(),
            target_in.len() - 1
        );
    }
    let seen = pollster::block_on(inspect_translation(&model, &source.ids, source.valid, &target_in, args.top_k))?;
    let saliency = match args.position {
        Some(p) => Some(pollster::block_on(translation_connectivity(
            &model,
            &source.ids,
            source.valid,
            &target_in,
            p,
            labels[p],
        ))?),
        None => None,
    };
    let src_word = |id: u32| src_vocab.token(id).to_string();
    let tgt_word = |id: u32| tgt_vocab.token(id).to_string();
    if args.json {
        let encoder: Vec<_> = (0..seen.source.len())
            .map(|t| {
                json!({ "position": t, "token": src_word(seen.source[t]),
                    "layers": layers_at(&seen.encoder, layers, hidden, t) })
            })
            .collect();
        let decoder: Vec<_> = (0..target_in.len())
            .map(|t| {
                let top: Vec<_> =
                    seen.next[t].iter().take(args.top_k).map(|c| json!([tgt_word(c.token), c.p])).collect();
                json!({ "position": t, "token": tgt_word(target_in[t]), "label": tgt_word(labels[t]),
                    "layers": layers_at(&seen.decoder, layers, hidden, t), "top_k": top })
            })
            .collect();
        let mut out = json!({
            "checkpoint": path.display().to_string(), "model": "seq2seq", "layers": layers, "hidden": hidden,
            "source": seen.source.iter().map(|&i| src_word(i)).collect::<Vec<_>>(),
            "target": target_in.iter().map(|&i| tgt_word(i)).collect::<Vec<_>>(),
            "encoder": encoder, "decoder": decoder,
        });
        if let (Some(p), Some(s)) = (args.position, &saliency) {
            out["position"] = json!(p);
            out["label"] = json!(tgt_word(labels[p]));
            out["saliency_source"] = json!(s);
        }
        println!("{out}");
        return Ok(());
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // On the terminal, words from the checkpoint's vocabularies are shown with control characters escaped.
    let src_word = |id: u32| crate::terminal::printable(src_vocab.token(id));
    let tgt_word = |id: u32| crate::terminal::printable(tgt_vocab.token(id));
    let words = |ids: &[u32], word: &dyn Fn(u32) -> String| -> Vec<String> {
        ids.iter().map(|&i| format!("{} ", word(i))).collect()
    };
    println!(
        "encoder–decoder from {}: {layers} layer(s) × {hidden} GRU units",
        crate::terminal::printable(&path.display().to_string())
    );
    let Some(signal) = seen.encoder.iter().find(|s| s.layer == layer && s.name == args.signal) else {
        bail!("--signal {}: an encoder–decoder's GRU layers have h, r, z, n", args.signal);
    };
    println!("\nencoder, layer {} {}: {}", layer + 1, signal.name, gate_meaning(&signal.name));
    let units: Vec<usize> = match args.unit {
        Some(unit) => vec![unit],
        None => units_by_variance(&signal.values, hidden).into_iter().take(SHOWN_UNITS).collect(),
    };
    for unit in units {
        println!("unit {unit} over the source:");
        shade(&words(&seen.source, &src_word), &unit_values(&signal.values, hidden, unit), signal_level(signal), color);
    }
    println!(
        "\ndecoder, teacher-forced on {:?}: at each position the most likely next words",
        reference.iter().map(|&i| tgt_word(i)).collect::<Vec<_>>().join(" ")
    );
    for (t, &input) in target_in.iter().enumerate() {
        let next: Vec<String> =
            seen.next[t].iter().take(args.top_k).map(|c| format!("{} {:.3}", tgt_word(c.token), c.p)).collect();
        println!("  after {:<10} (true next {:<8}) {}", tgt_word(input), tgt_word(labels[t]), next.join(", "));
    }
    if let (Some(p), Some(s)) = (args.position, &saliency) {
        println!(
            "\nhow much each source word matters to predicting {:?} at target position {p} (‖∂ loss / ∂ its embedding‖, log scale over 3 decades):",
            tgt_word(labels[p])
        );
        shade(&words(&seen.source, &src_word), s, log_level(s), color);
    }
    Ok(())
}
