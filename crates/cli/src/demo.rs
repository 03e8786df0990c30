//! `rnnplay demo`: a small end-to-end check of the engine — d2l's scratch RNN (the
//! `d2l-rnn-scratch` preset: one-hot input, tanh, N(0, 0.01²) init, SGD, global-norm clipping)
//! trained for a few hundred minibatches on a short generated text, then asked to continue a
//! prefix. It is a `RunSpec` like every other run; only the data and the sizes differ.

use anyhow::{bail, Context, Result};
use rnnplay_data::prompt::{decode, encode};
use rnnplay_engine::generate::{generate, Decoding};
use rnnplay_engine::options::backend_by_name;
use rnnplay_engine::EngineOptions;
use rnnplay_run::{RunData, RunSpec};
use std::time::Instant;

/// Settings of the demo run.
pub struct DemoConfig {
    pub backend: String,
    pub steps: usize,
    pub hidden: usize,
    pub seed: u64,
}

const TEXT: &str = "the time traveller for so it will be convenient to speak of him was expounding \
                    a recondite matter to us his grey eyes shone and twinkled ";
const BATCH: usize = 8;
const NUM_STEPS: usize = 16;

/// The demo's run: d2l's scratch RNN with random windows of the generated text.
fn spec(config: &DemoConfig) -> Result<RunSpec> {
    let mut spec = RunSpec::preset("d2l-rnn-scratch").map_err(|e| anyhow::anyhow!("{e}"))?;
    (spec.data, spec.hidden, spec.batch_size, spec.num_steps) =
        ("generated text".into(), config.hidden, BATCH, NUM_STEPS);
    (spec.sampling, spec.seed, spec.epochs) = ("random".into(), config.seed, config.steps);
    Ok(spec)
}

pub fn run(config: &DemoConfig) -> Result<()> {
    if config.steps == 0 || config.hidden == 0 {
        bail!("--steps and --hidden must be at least 1");
    }
    let options = EngineOptions::from_env()?;
    let backend = pollster::block_on(backend_by_name(&config.backend, &options)).context("opening the backend")?;
    let info = backend.info();
    let corpus = TEXT.repeat(8);
    let mut session = spec(config)?.build(&backend, RunData::Text(&corpus), &options)?;
    let run = session.language().context("the demo trains a language model")?;
    println!(
        "demo: scratch RNN (hidden {}) on a {}-character generated text, vocab {}, on {:?} ({}, {})",
        config.hidden,
        corpus.len(),
        run.vocab.len(),
        info.kind,
        info.adapter,
        info.api
    );
    let started = Instant::now();
    let (mut first, mut last) = (None, None);
    for step in 1..=config.steps {
        if let Some(report) = pollster::block_on(session.step()).with_context(|| format!("step {step}"))? {
            first.get_or_insert(report.value);
            if report.epoch % 5 == 1 || step == config.steps {
                println!(
                    "step {step:>5}  epoch {:>4}  perplexity {:>7.3}  grad norm {:>7.3}",
                    report.epoch, report.value, report.grad_norm
                );
            }
            last = Some(report.value);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{} steps in {seconds:.1}s, {:.0} tokens/s", config.steps, session.tokens_trained() as f64 / seconds);

    // Free-running prediction: warm up on the prefix, then feed back the argmax.
    let run = session.language().context("the demo trains a language model")?;
    let (prefix, _) = encode(&run.vocab, run.token_kind, "the time ");
    let ids = pollster::block_on(generate(&run.model, &prefix, 40, Decoding::Greedy))?;
    println!("prediction: {:?}", decode(&run.vocab, run.token_kind, &ids));
    if let (Some(first), Some(last)) = (first, last) {
        println!("perplexity: {first:.2} in the first epoch, {last:.2} in the last");
    }
    Ok(())
}
