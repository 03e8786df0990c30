//! Every op's backward rule against central finite differences on the CPU backend, then the
//! same graph on the GPU against the CPU's analytic gradients.
//!
//! Each case builds a scalar from its op's output (a weighted sum with fixed random weights,
//! so every output element's gradient matters) and compares d(scalar)/d(parameter) element by
//! element. Tolerances: finite differences in f32 with h = 1e-2 are accurate to about 1e-3
//! here, so 1e-2 relative plus 2e-3 absolute; GPU vs CPU analytic gradients agree to 1e-4.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::ops::Scores;
use rnnplay_engine::testing::{assert_close, gpu_or_skip, random_values};
use rnnplay_engine::{Param, Result, Tape, Tensor, Var};
use std::rc::Rc;

type Build = dyn Fn(&mut Tape, &[Var]) -> Result<Var>;

struct Case {
    name: &'static str,
    /// Shapes and initial values of the parameters.
    params: Vec<(Vec<usize>, Vec<f32>)>,
    build: Box<Build>,
}

fn make_params(backend: &Rc<dyn Backend>, case: &Case) -> Vec<Param> {
    case.params
        .iter()
        .enumerate()
        .map(|(i, (shape, values))| {
            Param::from_tensor(format!("p{i}"), Tensor::from_f32(backend, shape, values).unwrap()).unwrap()
        })
        .collect()
}

fn loss_value(backend: &Rc<dyn Backend>, params: &[Param], build: &Build) -> f32 {
    let mut tape = Tape::new(backend, 7);
    let vars: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
    let loss = build(&mut tape, &vars).unwrap();
    pollster::block_on(tape.value(loss).to_vec()).unwrap()[0]
}

/// Analytic gradients of every parameter.
fn analytic(backend: &Rc<dyn Backend>, case: &Case) -> Vec<Vec<f32>> {
    let params = make_params(backend, case);
    let mut tape = Tape::new(backend, 7);
    let vars: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
    let loss = (case.build)(&mut tape, &vars).unwrap();
    tape.backward(loss).unwrap();
    params.iter().map(|p| pollster::block_on(p.grad().to_vec()).unwrap()).collect()
}

fn numeric(backend: &Rc<dyn Backend>, case: &Case) -> Vec<Vec<f32>> {
    let h = 1e-2;
    let params = make_params(backend, case);
    let mut grads = Vec::new();
    for (param, (_, values)) in params.iter().zip(&case.params) {
        let mut grad = Vec::new();
        for i in 0..values.len() {
            let mut shifted = values.clone();
            shifted[i] = values[i] + h;
            param.value().write_f32(&shifted).unwrap();
            let plus = loss_value(backend, &params, &case.build);
            shifted[i] = values[i] - h;
            param.value().write_f32(&shifted).unwrap();
            let minus = loss_value(backend, &params, &case.build);
            grad.push((plus - minus) / (2.0 * h));
        }
        param.value().write_f32(values).unwrap();
        grads.push(grad);
    }
    grads
}

/// A scalar that depends on every element of `y`: Σ y ⊙ w with fixed random w.
fn project(tape: &mut Tape, y: Var) -> Result<Var> {
    let shape = tape.shape(y).to_vec();
    let len = shape.iter().product();
    let weights = Tensor::from_f32(tape.backend(), &shape, &random_values(len, 1.0, 99))?;
    let w = tape.constant(weights);
    let weighted = tape.mul(y, w)?;
    tape.sum(weighted)
}

fn values(len: usize, seed: u64) -> Vec<f32> {
    random_values(len, 1.0, seed)
}

/// Values kept at least 0.1 away from 0 (relu's kink), with random signs.
fn away_from_zero(len: usize, seed: u64) -> Vec<f32> {
    values(len, seed).into_iter().map(|v| v.signum() * (0.1 + v.abs())).collect()
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
        let a_shape = if trans_a { vec![4, 3] } else { vec![3, 4] };
        let b_shape = if trans_b { vec![5, 4] } else { vec![4, 5] };
        cases.push(Case {
            name: "matmul",
            params: vec![(a_shape, values(12, 1)), (b_shape, values(20, 2))],
            build: Box::new(move |t, v| {
                let y = t.matmul_t(v[0], v[1], trans_a, trans_b)?;
                project(t, y)
            }),
        });
    }
    cases.push(Case {
        name: "add_bias",
        params: vec![(vec![5, 3], values(15, 3)), (vec![3], values(3, 4))],
        build: Box::new(|t, v| {
            let y = t.add_bias(v[0], v[1])?;
            project(t, y)
        }),
    });
    for name in ["add", "sub", "mul", "mul_self"] {
        cases.push(Case {
            name,
            params: vec![(vec![2, 3], values(6, 5)), (vec![2, 3], values(6, 6))],
            build: Box::new(move |t, v| {
                let y = match name {
                    "add" => t.add(v[0], v[1])?,
                    "sub" => t.sub(v[0], v[1])?,
                    "mul" => t.mul(v[0], v[1])?,
                    _ => t.mul(v[0], v[0])?,
                };
                project(t, y)
            }),
        });
    }
    for name in ["tanh", "sigmoid", "relu"] {
        cases.push(Case {
            name,
            params: vec![(vec![3, 5], away_from_zero(15, 7))],
            build: Box::new(move |t, v| {
                let y = match name {
                    "tanh" => t.tanh(v[0])?,
                    "sigmoid" => t.sigmoid(v[0])?,
                    _ => t.relu(v[0])?,
                };
                project(t, y)
            }),
        });
    }
    cases.push(Case {
        name: "dropout",
        params: vec![(vec![4, 5], values(20, 8))],
        build: Box::new(|t, v| {
            let y = t.dropout(v[0], 0.4)?;
            project(t, y)
        }),
    });
    for dim in [0, 1, 2] {
        cases.push(Case {
            name: "concat",
            params: vec![(vec![2, 3, 2], values(12, 9)), (vec![2, 3, 2], values(12, 10))],
            build: Box::new(move |t, v| {
                let y = t.concat(&[v[0], v[1], v[0]], dim)?;
                project(t, y)
            }),
        });
        cases.push(Case {
            name: "slice",
            params: vec![(vec![3, 4, 3], values(36, 11))],
            build: Box::new(move |t, v| {
                let y = t.slice(v[0], dim, 1, 2)?;
                project(t, y)
            }),
        });
    }
    cases.push(Case {
        name: "reshape",
        params: vec![(vec![2, 6], values(12, 12))],
        build: Box::new(|t, v| {
            let y = t.reshape(v[0], &[3, 4])?;
            project(t, y)
        }),
    });
    cases.push(Case {
        name: "transpose (then gather its rows, as one-hot input does)",
        params: vec![(vec![3, 5], values(15, 21))],
        build: Box::new(|t, v| {
            let y = t.transpose(v[0])?;
            let y = t.add(y, y)?;
            let indices = Tensor::from_u32(t.backend(), &[4], &[4, 0, 4, 2])?;
            let y = t.gather(y, &indices)?;
            project(t, y)
        }),
    });
    cases.push(Case {
        name: "gather",
        params: vec![(vec![5, 3], values(15, 13))],
        build: Box::new(|t, v| {
            let indices = Tensor::from_u32(t.backend(), &[2, 3], &[0, 2, 2, 4, 1, 0])?;
            let y = t.gather(v[0], &indices)?;
            project(t, y)
        }),
    });
    cases.push(Case {
        name: "softmax_cross_entropy",
        params: vec![(vec![4, 6], values(24, 14))],
        build: Box::new(|t, v| {
            let labels = Tensor::from_u32(t.backend(), &[4], &[0, 5, 2, 2])?;
            t.softmax_cross_entropy(v[0], &labels)
        }),
    });
    cases.push(Case {
        name: "masked_softmax_cross_entropy",
        params: vec![(vec![4, 6], values(24, 15))],
        build: Box::new(|t, v| {
            let labels = Tensor::from_u32(t.backend(), &[4], &[1, 3, 0, 4])?;
            let weights = Tensor::from_f32(t.backend(), &[4], &[1.0, 1.0, 0.0, 1.0])?;
            t.masked_softmax_cross_entropy(v[0], &labels, Some(&weights), 3.0)
        }),
    });
    for name in ["sum", "mean", "sum_squares"] {
        cases.push(Case {
            name,
            params: vec![(vec![7], values(7, 16))],
            build: Box::new(move |t, v| match name {
                "sum" => t.sum(v[0]),
                "mean" => t.mean(v[0]),
                _ => t.sum_squares(v[0]),
            }),
        });
    }
    // Attention: 3 queries over 5 time-major keys, the second and third masked after 2 and 1
    // keys (their masked keys and values must get no gradient); additive scores through
    // projected keys and w_v, dot scores against the values.
    // With dropout 0.5 the tape's seed drops some weights (the same ones at every evaluation).
    for (additive, dropout) in [(true, 0.0), (false, 0.0), (true, 0.5), (false, 0.5)] {
        let mut params = vec![(vec![3, 4], values(12, 22)), (vec![15, 4], values(60, 23))];
        if additive {
            params.extend([(vec![15, 4], values(60, 24)), (vec![1, 4], values(4, 25))]);
        }
        cases.push(Case {
            name: match (additive, dropout > 0.0) {
                (true, false) => "additive attention",
                (false, false) => "dot attention",
                (true, true) => "additive attention, weights dropped out",
                (false, true) => "dot attention, weights dropped out",
            },
            params,
            build: Box::new(move |t, v| {
                let valid = Tensor::from_u32(t.backend(), &[3], &[5, 2, 1])?;
                let scores = if additive { Scores::Additive { keys: v[2], w_v: v[3] } } else { Scores::Dot };
                let (context, _) = t.attention(v[0], v[1], scores, &valid, dropout)?;
                project(t, context)
            }),
        });
    }
    // Three steps of a scratch RNN with one-hot input and a cross-entropy loss: the ops composed.
    cases.push(Case {
        name: "rnn_three_steps",
        params: vec![
            (vec![4, 3], values(12, 17)),
            (vec![3, 3], values(9, 18)),
            (vec![3], values(3, 19)),
            (vec![3, 4], values(12, 20)),
            (vec![4], values(4, 21)),
        ],
        build: Box::new(|t, v| {
            let backend = t.backend().clone();
            let mut h = t.constant(Tensor::zeros(&backend, &[2, 3])?);
            let mut outputs = Vec::new();
            for step in 0..3u32 {
                let tokens = Tensor::from_u32(&backend, &[2], &[step % 4, (step + 2) % 4])?;
                let x = t.gather(v[0], &tokens)?;
                let hh = t.matmul(h, v[1])?;
                let pre = t.add(x, hh)?;
                let pre = t.add_bias(pre, v[2])?;
                h = t.tanh(pre)?;
                let logits = t.matmul(h, v[3])?;
                outputs.push(t.add_bias(logits, v[4])?);
            }
            let logits = t.concat(&outputs, 0)?;
            let labels = Tensor::from_u32(&backend, &[6], &[1, 2, 3, 0, 1, 2])?;
            t.softmax_cross_entropy(logits, &labels)
        }),
    });
    cases
}

#[test]
fn every_backward_rule_matches_finite_differences_on_the_cpu() {
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for case in cases() {
        let exact = analytic(&cpu, &case);
        let approx = numeric(&cpu, &case);
        for (i, (e, a)) in exact.iter().zip(&approx).enumerate() {
            assert_close(&format!("{} d/dp{i}", case.name), e, a, 1e-2, 2e-3);
        }
    }
}

#[test]
fn gpu_gradients_match_cpu_gradients() {
    let Some(gpu) = gpu_or_skip("gpu_gradients_match_cpu_gradients") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    for case in cases() {
        let on_cpu = analytic(&cpu, &case);
        let on_gpu = analytic(&gpu, &case);
        for (i, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
            assert_close(&format!("{} d/dp{i} gpu vs cpu", case.name), g, c, 1e-4, 1e-5);
        }
    }
}

/// Attention in training drops out its weights by the mask [`Tape::dropout`] draws for the same
/// seed: the context is the sum under the dropped weights, the weights it returns stay whole,
/// and in evaluation mode nothing is dropped. On the CPU, and on the GPU where there is one.
fn attention_dropout_is_the_dropout_ops_mask(backend: &Rc<dyn Backend>) {
    let (batch, steps, width, p) = (3, 5, 4, 0.5);
    let query = values(batch * width, 31);
    let keys = values(steps * batch * width, 32);
    let read = |t: &Tensor| pollster::block_on(t.to_vec()).unwrap();
    let run = |training: bool| {
        let mut tape = Tape::new(backend, 7);
        tape.set_training(training);
        let q = tape.constant(Tensor::from_f32(backend, &[batch, width], &query).unwrap());
        let v = tape.constant(Tensor::from_f32(backend, &[steps * batch, width], &keys).unwrap());
        let valid = Tensor::from_u32(backend, &[batch], &[5, 2, 1]).unwrap();
        let (context, weights) = tape.attention(q, v, Scores::Dot, &valid, p).unwrap();
        (read(tape.value(context)), weights)
    };
    let (dropped_context, weights) = run(true);
    let (whole_context, eval_weights) = run(false);
    let whole = read(&weights);
    assert_close("weights returned whole in training", &whole, &read(&eval_weights), 1e-6, 1e-7);
    for row in whole.chunks(steps) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "a row of weights sums to {}", row.iter().sum::<f32>());
    }
    let mut tape = Tape::new(backend, 7);
    let w = tape.constant(weights);
    let applied = tape.dropout(w, p).unwrap();
    let applied = read(tape.value(applied));
    let dropped = applied.iter().zip(&whole).filter(|(a, w)| **a == 0.0 && **w > 1e-3).count();
    assert!(dropped > 0 && dropped < batch * steps, "the mask dropped {dropped} of the weights that matter");
    let sum = |a: &[f32]| -> Vec<f32> {
        (0..batch * width)
            .map(|i| {
                let (b, j) = (i / width, i % width);
                (0..steps).map(|s| a[b * steps + s] * keys[(s * batch + b) * width + j]).sum()
            })
            .collect()
    };
    assert_close("context under the dropout op's mask", &dropped_context, &sum(&applied), 1e-5, 1e-6);
    assert_close("context in evaluation mode", &whole_context, &sum(&whole), 1e-5, 1e-6);
}

#[test]
fn attention_dropout_is_the_dropout_ops_mask_on_the_cpu() {
    attention_dropout_is_the_dropout_ops_mask(&(Rc::new(CpuBackend::new()) as Rc<dyn Backend>));
}

#[test]
fn attention_dropout_is_the_dropout_ops_mask_on_the_gpu() {
    let Some(gpu) = gpu_or_skip("attention_dropout_is_the_dropout_ops_mask_on_the_gpu") else { return };
    attention_dropout_is_the_dropout_ops_mask(&(Rc::new(gpu) as Rc<dyn Backend>));
}
