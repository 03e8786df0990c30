//! The execution model, checked by counters: one submit per training step, no read-back
//! inside a step, buffers reused from the pool; and typed errors instead of panics.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::{zero_grads, EngineError, GradClipper, Init, InitRng, Param, Sgd, Tape, Tensor};
use std::rc::Rc;

/// One step of a one-hidden-layer classifier: forward, backward, clip, SGD.
fn train_step(backend: &Rc<dyn Backend>, params: &[Param], clipper: &GradClipper) -> Tensor {
    let tokens = Tensor::from_u32(backend, &[8], &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let labels = Tensor::from_u32(backend, &[8], &[1, 2, 3, 4, 5, 6, 7, 0]).unwrap();
    zero_grads(params).unwrap();
    let mut tape = Tape::new(backend, 1);
    let vars: Vec<_> = params.iter().map(|p| tape.param(p)).collect();
    let x = tape.gather(vars[0], &tokens).unwrap();
    let h = tape.tanh(x).unwrap();
    let logits = tape.matmul(h, vars[1]).unwrap();
    let logits = tape.add_bias(logits, vars[2]).unwrap();
    let loss = tape.softmax_cross_entropy(logits, &labels).unwrap();
    tape.backward(loss).unwrap();
    clipper.clip(params).unwrap();
    Sgd::new(0.5, 1.0).unwrap().step(params).unwrap();
    tape.detach(loss)
}

fn model(backend: &Rc<dyn Backend>) -> Vec<Param> {
    let mut rng = InitRng::new(0);
    vec![
        Param::new(backend, "embedding", &[8, 16], Init::Normal { std: 0.5 }, &mut rng).unwrap(),
        Param::new(backend, "dense.weight", &[16, 8], Init::XavierUniform, &mut rng).unwrap(),
        Param::new(backend, "dense.bias", &[8], Init::Zeros, &mut rng).unwrap(),
    ]
}

#[test]
fn a_training_step_is_one_submit_with_no_read_back() {
    let Some(gpu) = gpu_or_skip("a_training_step_is_one_submit_with_no_read_back") else { return };
    let backend: Rc<dyn Backend> = Rc::new(gpu);
    let params = model(&backend);
    let clipper = GradClipper::new(&backend, 1.0).unwrap();
    let first_loss = train_step(&backend, &params, &clipper);
    backend.flush().unwrap();
    let first = pollster::block_on(first_loss.to_vec()).unwrap()[0];

    backend.reset_counters();
    train_step(&backend, &params, &clipper);
    backend.flush().unwrap();
    let counters = backend.counters();
    assert_eq!(counters.submits, 1, "{counters:?}");
    assert_eq!(counters.read_backs, 0, "{counters:?}");
    assert!(counters.dispatches > 10, "{counters:?}");
    assert!(counters.pool_hits > 0, "the second step should reuse the first step's buffers: {counters:?}");

    for _ in 0..30 {
        train_step(&backend, &params, &clipper);
    }
    backend.flush().unwrap();
    // Fixed shapes: the same pooled buffers in the same roles, so every bind group is cached.
    backend.reset_counters();
    let last_loss = train_step(&backend, &params, &clipper);
    backend.flush().unwrap();
    let counters = backend.counters();
    assert_eq!(
        counters.bind_groups_created, 0,
        "a repeated fixed-shape step should reuse its bind groups: {counters:?}"
    );
    let last = pollster::block_on(last_loss.to_vec()).unwrap()[0];
    assert!(last < first * 0.5, "training should reduce the loss: {first} → {last}");
}

#[test]
fn the_same_steps_give_the_same_losses_on_gpu_and_cpu() {
    let Some(gpu) = gpu_or_skip("the_same_steps_give_the_same_losses_on_gpu_and_cpu") else { return };
    let gpu: Rc<dyn Backend> = Rc::new(gpu);
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let losses = |backend: &Rc<dyn Backend>| -> Vec<f32> {
        let params = model(backend);
        let clipper = GradClipper::new(backend, 1.0).unwrap();
        (0..10).map(|_| pollster::block_on(train_step(backend, &params, &clipper).to_vec()).unwrap()[0]).collect()
    };
    let (on_gpu, on_cpu) = (losses(&gpu), losses(&cpu));
    for (step, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        assert!((g - c).abs() <= 1e-4 * c.abs().max(1.0), "step {step}: gpu {g}, cpu {c}");
    }
}

#[test]
fn shape_mismatches_are_typed_errors_naming_the_shapes() {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let mut tape = Tape::new(&backend, 0);
    let a = tape.constant(Tensor::zeros(&backend, &[2, 3]).unwrap());
    let b = tape.constant(Tensor::zeros(&backend, &[4, 5]).unwrap());
    let err = tape.matmul(a, b).err().unwrap();
    assert!(matches!(err, EngineError::ShapeMismatch { op: "matmul", .. }), "{err}");
    assert!(err.to_string().contains("[2, 3]") && err.to_string().contains("[4, 5]"), "{err}");
    assert!(matches!(tape.add(a, b), Err(EngineError::ShapeMismatch { .. })));
    let bias = tape.constant(Tensor::zeros(&backend, &[4]).unwrap());
    assert!(matches!(tape.add_bias(a, bias), Err(EngineError::ShapeMismatch { .. })));
    assert!(matches!(tape.slice(a, 1, 2, 2), Err(EngineError::ShapeMismatch { .. })));
    assert!(matches!(tape.concat(&[a, b], 0), Err(EngineError::ShapeMismatch { .. })));
    let labels = Tensor::from_u32(&backend, &[3], &[0, 1, 2]).unwrap();
    assert!(matches!(tape.softmax_cross_entropy(a, &labels), Err(EngineError::ShapeMismatch { .. })));
    // backward needs a scalar that depends on a parameter
    assert!(tape.backward(a).is_err());
}

#[test]
fn empty_tensors_are_typed_errors() {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let err = Tensor::zeros(&backend, &[3, 0]).err().unwrap();
    assert!(matches!(err, EngineError::EmptyTensor { .. }), "{err}");
    assert!(Tensor::from_f32(&backend, &[2], &[1.0, 2.0, 3.0]).is_err());
}

#[test]
fn a_buffer_above_the_adapter_limit_is_a_typed_error() {
    let Some(gpu) = gpu_or_skip("a_buffer_above_the_adapter_limit_is_a_typed_error") else { return };
    let backend: Rc<dyn Backend> = Rc::new(gpu);
    let limit = backend.info().max_buffer_bytes;
    let too_many = (limit / 4 + 1) as usize;
    let err = Tensor::uninit(&backend, &[too_many], rnnplay_engine::DType::F32).err().unwrap();
    assert!(matches!(err, EngineError::BufferTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("max_storage_buffer_binding_size"), "{err}");
}

#[test]
fn unknown_backend_names_are_errors() {
    let err = pollster::block_on(rnnplay_engine::backend::backend_by_name("tpu")).err().unwrap();
    assert!(err.to_string().contains("RNNPLAY_BACKEND=gpu"), "{err}");
}
