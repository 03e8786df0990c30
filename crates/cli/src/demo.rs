//! `rnnplay demo`: a small end-to-end check of the engine — d2l's scratch RNN (one-hot input,
//! tanh, N(0, 0.01²) init, SGD, global-norm clipping) trained on a generated text, then asked to
//! continue a prefix. The d2l presets and The Time Machine come with the training issue.

use anyhow::{bail, Context, Result};
use rnnplay_engine::backend::{backend_by_name, Backend};
use rnnplay_engine::{zero_grads, GradClipper, Init, InitRng, Param, Sgd, Tape, Tensor, Var};
use std::rc::Rc;
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

struct ScratchRnn {
    params: Vec<Param>,
    hidden: usize,
}

impl ScratchRnn {
    fn new(backend: &Rc<dyn Backend>, vocab: usize, hidden: usize, rng: &mut InitRng) -> Result<Self> {
        let normal = Init::Normal { std: 0.01 };
        let params = vec![
            Param::new(backend, "W_xh", &[vocab, hidden], normal, rng)?,
            Param::new(backend, "W_hh", &[hidden, hidden], normal, rng)?,
            Param::new(backend, "b_h", &[hidden], Init::Zeros, rng)?,
            Param::new(backend, "W_hq", &[hidden, vocab], normal, rng)?,
            Param::new(backend, "b_q", &[vocab], Init::Zeros, rng)?,
        ];
        Ok(Self { params, hidden })
    }

    /// Runs the RNN over `inputs` (one u32 tensor of shape (batch) per time step) from state
    /// `h`, returning the logits of all steps stacked to (steps·batch, vocab) and the last state.
    fn forward(&self, tape: &mut Tape, inputs: &[Tensor], mut h: Var) -> Result<(Var, Var)> {
        let p: Vec<Var> = self.params.iter().map(|param| tape.param(param)).collect();
        let mut outputs = Vec::with_capacity(inputs.len());
        for tokens in inputs {
            // one_hot(x)·W_xh is the row gather of W_xh
            let x = tape.gather(p[0], tokens)?;
            let hh = tape.matmul(h, p[1])?;
            let pre = tape.add(x, hh)?;
            let pre = tape.add_bias(pre, p[2])?;
            h = tape.tanh(pre)?;
            let y = tape.matmul(h, p[3])?;
            outputs.push(tape.add_bias(y, p[4])?);
        }
        Ok((tape.concat(&outputs, 0)?, h))
    }
}

/// Step-major minibatch of `BATCH` random windows: inputs per step and labels (steps·batch).
fn minibatch(tokens: &[u32], rng: &mut u64) -> (Vec<Vec<u32>>, Vec<u32>) {
    let mut starts = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        *rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        starts.push((*rng >> 33) as usize % (tokens.len() - NUM_STEPS - 1));
    }
    let inputs = (0..NUM_STEPS).map(|t| starts.iter().map(|s| tokens[s + t]).collect()).collect();
    let labels = (0..NUM_STEPS).flat_map(|t| starts.iter().map(move |s| tokens[s + t + 1])).collect();
    (inputs, labels)
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

pub fn run(config: &DemoConfig) -> Result<()> {
    if config.steps == 0 || config.hidden == 0 {
        bail!("--steps and --hidden must be at least 1");
    }
    let backend = pollster::block_on(backend_by_name(&config.backend)).context("opening the backend")?;
    let info = backend.info();
    let mut vocab: Vec<char> = TEXT.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let index_of = |c: char| vocab.iter().position(|&v| v == c).map_or(0, |i| i as u32);
    let corpus: String = TEXT.repeat(8);
    let tokens: Vec<u32> = corpus.chars().map(index_of).collect();
    println!(
        "demo: scratch RNN (hidden {}) on a {}-character generated text, vocab {}, on {:?} ({}, {})",
        config.hidden,
        tokens.len(),
        vocab.len(),
        info.kind,
        info.adapter,
        info.api
    );

    let mut init = InitRng::new(config.seed);
    let model = ScratchRnn::new(&backend, vocab.len(), config.hidden, &mut init)?;
    let clipper = GradClipper::new(&backend, 1.0)?;
    let sgd = Sgd::new(1.0, 1.0)?;
    let mut rng = config.seed ^ 0x5eed;
    let started = Instant::now();
    let mut first_ppl = None;
    let mut last_ppl = f32::NAN;
    for step in 1..=config.steps {
        let (inputs, labels) = minibatch(&tokens, &mut rng);
        let inputs: Vec<Tensor> =
            inputs.iter().map(|x| Tensor::from_u32(&backend, &[BATCH], x)).collect::<Result<_, _>>()?;
        let labels = Tensor::from_u32(&backend, &[NUM_STEPS * BATCH], &labels)?;
        zero_grads(&model.params)?;
        let mut tape = Tape::new(&backend, step as u32);
        let h0 = tape.constant(Tensor::zeros(&backend, &[BATCH, model.hidden])?);
        let (logits, _) = model.forward(&mut tape, &inputs, h0)?;
        let loss = tape.softmax_cross_entropy(logits, &labels)?;
        tape.backward(loss)?;
        clipper.clip(&model.params)?;
        sgd.step(&model.params)?;
        backend.flush()?;
        if step % 50 == 0 || step == 1 || step == config.steps {
            let loss_value = pollster::block_on(tape.value(loss).to_vec())?[0];
            let norm = pollster::block_on(clipper.norm().to_vec())?[0];
            if !loss_value.is_finite() {
                bail!(
                    "training diverged at step {step} (loss {loss_value}); lower the learning rate or the clipping θ"
                );
            }
            first_ppl.get_or_insert(loss_value.exp());
            last_ppl = loss_value.exp();
            println!("step {step:>5}  perplexity {:>7.3}  grad norm {norm:>7.3}", loss_value.exp());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} steps in {seconds:.1}s, {:.0} tokens/s",
        config.steps,
        (config.steps * BATCH * NUM_STEPS) as f64 / seconds
    );

    // Free-running prediction: warm up on the prefix, then feed back the argmax.
    let prefix = "the time ";
    let mut text = String::from(prefix);
    let mut state = Tensor::zeros(&backend, &[1, model.hidden])?;
    let mut feed: Vec<u32> = prefix.chars().map(index_of).collect();
    let mut position = 0;
    while position < feed.len() && text.len() < prefix.len() + 40 {
        let mut tape = Tape::new(&backend, 0);
        tape.set_training(false);
        let h = tape.constant(state);
        let input = Tensor::from_u32(&backend, &[1], &[feed[position]])?;
        let (logits, next_state) = model.forward(&mut tape, &[input], h)?;
        state = tape.detach(next_state);
        position += 1;
        if position == feed.len() {
            let next = argmax(&pollster::block_on(tape.value(logits).to_vec())?) as u32;
            feed.push(next);
            text.push(vocab[next as usize]);
        }
    }
    println!("prediction: {text:?}");
    if let Some(first) = first_ppl {
        println!("perplexity: {first:.2} at the first step, {last_ppl:.2} at the last");
    }
    Ok(())
}
