//! A run split over workers (crates/run/src/data_parallel.rs): one worker trains exactly as an
//! unsplit run, several train the same run up to the order of floating-point sums, and every
//! worker ends with the same weights. The workers here are sessions in one process, driven as
//! the page drives its Web Workers: each computes its share, the shares are summed in worker
//! order, each applies the sum.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::{Checkpoint, EngineOptions, Seq2SeqCheckpoint};
use rnnplay_run::{sum_shares, EpochReport, RunData, RunSpec, Session, Shard};
use std::rc::Rc;

const TEXT: &str = "the time machine by h g wells: the time traveller, for so it will be convenient to speak of him\n";

/// Each epoch's (value, gradient norm, gradient's reach), and the final weights by name.
type Trained = (Vec<(f32, f32, Vec<f32>)>, Vec<(String, Vec<f32>)>);

fn build(spec: &RunSpec) -> Session {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::with_threads(1));
    let text = TEXT.repeat(20);
    let data = if spec.is_seq2seq() { RunData::Generated } else { RunData::Text(&text) };
    spec.build(&backend, data, &EngineOptions::default()).unwrap()
}

fn weights(session: &Session) -> Vec<(String, Vec<f32>)> {
    let bytes = pollster::block_on(session.checkpoint_bytes(None)).unwrap();
    let tensors = match session.seq2seq() {
        Some(_) => Seq2SeqCheckpoint::from_bytes(&bytes).unwrap().tensors,
        None => Checkpoint::from_bytes(&bytes).unwrap().tensors,
    };
    tensors.into_iter().map(|(name, _, data)| (name, data)).collect()
}

fn summary(report: &EpochReport) -> (f32, f32, Vec<f32>) {
    (report.value, report.grad_norm, report.reach.clone())
}

/// The run stepped as one session.
fn unsplit(spec: &RunSpec) -> Trained {
    let mut session = build(spec);
    let mut epochs = Vec::new();
    while !session.finished() {
        if let Some(report) = pollster::block_on(session.step()).unwrap() {
            epochs.push(summary(&report));
        }
    }
    (epochs, weights(&session))
}

/// The run split over `count` workers; checks that every worker reports and ends alike.
fn split(spec: &RunSpec, count: usize) -> Trained {
    let mut workers: Vec<Session> = (0..count).map(|_| build(spec)).collect();
    for (index, worker) in workers.iter_mut().enumerate() {
        worker.set_shard(Shard::new(index, count).unwrap()).unwrap();
    }
    let mut epochs = Vec::new();
    while !workers[0].finished() {
        let shares: Vec<Vec<f32>> = workers.iter_mut().map(|w| pollster::block_on(w.share()).unwrap()).collect();
        assert_eq!(shares[0].len(), workers[0].share_len().unwrap());
        let sum = sum_shares(&shares).unwrap();
        let reports: Vec<_> = workers.iter_mut().map(|w| pollster::block_on(w.apply_sum(&sum)).unwrap()).collect();
        assert!(reports.iter().all(|r| r == &reports[0]), "the workers report differently: {reports:?}");
        if let Some(report) = &reports[0] {
            epochs.push(summary(report));
        }
    }
    let first = weights(&workers[0]);
    for (index, worker) in workers.iter().enumerate().skip(1) {
        assert!(weights(worker) == first, "worker {index} of {count} ends with other weights than worker 0");
    }
    (epochs, first)
}

fn close(a: f32, b: f32, what: &str) {
    assert!((a - b).abs() <= 2e-3 * a.abs().max(b.abs()).max(1e-2), "{what}: {a} against {b}");
}

fn same_up_to_rounding(one: &Trained, many: &Trained, what: &str) {
    assert_eq!(one.0.len(), many.0.len(), "{what}: epochs");
    for (epoch, (a, b)) in one.0.iter().zip(&many.0).enumerate() {
        close(a.0, b.0, &format!("{what}, epoch {} value", epoch + 1));
        close(a.1, b.1, &format!("{what}, epoch {} gradient norm", epoch + 1));
        assert_eq!(a.2.len(), b.2.len());
        for (s, (x, y)) in a.2.iter().zip(&b.2).enumerate() {
            close(*x, *y, &format!("{what}, epoch {} ‖∂L/∂h_{s}‖", epoch + 1));
        }
    }
    for ((name, a), (_, b)) in one.1.iter().zip(&many.1) {
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst < 2e-3, "{what}: {name} differs by up to {worst}");
    }
}

fn language_spec(preset: &str, sampling: &str) -> RunSpec {
    let mut spec = RunSpec::preset(preset).unwrap();
    (spec.hidden, spec.batch_size, spec.num_steps, spec.epochs) = (32, 8, 6, 3);
    spec.data = "text".into();
    spec.sampling = sampling.into();
    spec.valid_fraction = 0.1;
    spec
}

fn seq2seq_spec(dropout: f32, scheduled_sampling: f32) -> RunSpec {
    let mut spec = RunSpec::preset("toy-reverse").unwrap();
    (spec.hidden, spec.embedding, spec.layers, spec.epochs, spec.num_examples, spec.batch_size) =
        (32, 16, 2, 2, 96, 16);
    (spec.dropout, spec.scheduled_sampling) = (dropout, scheduled_sampling);
    spec
}

#[test]
fn one_worker_trains_exactly_as_an_unsplit_run() {
    for spec in
        [language_spec("d2l-gru", "sequential"), language_spec("d2l-rnn-scratch", "random"), seq2seq_spec(0.1, 0.5)]
    {
        let (one, split) = (unsplit(&spec), split(&spec, 1));
        assert!(one.0.iter().all(|e| e.0.is_finite()), "{one:?}");
        assert!(one == split, "{}: one worker differs from the unsplit run", spec.model);
    }
}

#[test]
fn several_workers_train_the_same_language_model() {
    for (preset, sampling) in [("d2l-gru", "sequential"), ("d2l-lstm", "random"), ("d2l-rnn-scratch", "sequential")] {
        let spec = language_spec(preset, sampling);
        let one = unsplit(&spec);
        for count in [2, 3] {
            same_up_to_rounding(&one, &split(&spec, count), &format!("{preset} on {count} workers"));
        }
    }
}

#[test]
fn several_workers_train_the_same_encoder_decoder() {
    let spec = seq2seq_spec(0.0, 0.0);
    let one = unsplit(&spec);
    same_up_to_rounding(&one, &split(&spec, 3), "toy-reverse on 3 workers");
}

#[test]
fn a_split_run_is_driven_in_order_and_says_how() {
    let spec = language_spec("d2l-gru", "sequential");
    let mut session = build(&spec);
    let err = pollster::block_on(session.share()).unwrap_err().to_string();
    assert!(err.contains("set_shard"), "{err}");
    let err = session.set_shard(Shard::new(0, 9).unwrap()).unwrap_err().to_string();
    assert!(err.contains("9 workers cannot share minibatches of 8 rows"), "{err}");
    session.set_shard(Shard::new(1, 2).unwrap()).unwrap();
    let err = pollster::block_on(session.step()).unwrap_err().to_string();
    assert!(err.contains("share() and apply_sum()"), "{err}");
    let err = pollster::block_on(session.apply_sum(&[])).unwrap_err().to_string();
    assert!(err.contains("follows this worker's share()"), "{err}");
    let share = pollster::block_on(session.share()).unwrap();
    let err = pollster::block_on(session.share()).unwrap_err().to_string();
    assert!(err.contains("apply the workers' sum first"), "{err}");
    let err = pollster::block_on(session.apply_sum(&share[1..])).unwrap_err().to_string();
    assert!(err.contains("every worker must train the same run"), "{err}");
    let err = session.set_shard(Shard::new(0, 2).unwrap()).unwrap_err().to_string();
    assert!(err.contains("between epochs, not within one"), "{err}");
}
