//! The execution model, checked by counters: one submit per training step, no read-back
//! inside a step, buffers reused from the pool; and typed errors instead of panics.

use rnnplay_engine::backend::{Backend, CpuBackend, Kernel, UnaryOp};
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

/// out += tanh(x), through a temporary freed at the end (what a tape's intermediates are).
fn tanh_step(backend: &Rc<dyn Backend>, x: &Tensor, out: &Tensor) {
    let temporary = Tensor::uninit(backend, x.shape(), rnnplay_engine::DType::F32).unwrap();
    backend.run(Kernel::Unary { op: UnaryOp::Tanh, x: x.id(), y: temporary.id(), len: x.len() }).unwrap();
    let scale = Kernel::Scale { x: temporary.id(), out: out.id(), len: x.len(), alpha: 1.0, accumulate: true };
    backend.run(scale).unwrap();
}

fn read(tensor: &Tensor) -> Vec<f32> {
    pollster::block_on(tensor.to_vec()).unwrap()
}

#[test]
fn two_identical_captures_make_a_plan_that_replays_them_and_keeps_its_buffers() {
    let Some(gpu) = gpu_or_skip("two_identical_captures_make_a_plan_that_replays_them_and_keeps_its_buffers") else {
        return;
    };
    let backend: Rc<dyn Backend> = Rc::new(gpu);
    let x = Tensor::from_f32(&backend, &[7], &[0.5; 7]).unwrap();
    let out = Tensor::zeros(&backend, &[7]).unwrap();
    let captured = |inside: &dyn Fn()| {
        backend.begin_capture();
        tanh_step(&backend, &x, &out);
        inside();
        let plan = backend.end_capture().unwrap();
        backend.flush().unwrap();
        plan
    };
    assert_eq!(captured(&|| {}), None, "one capture is no plan yet");
    // The host writing inside a capture spoils it, and the next capture starts the count again.
    assert_eq!(captured(&|| x.write_f32(&[0.5; 7]).unwrap()), None, "an upload inside is no plan");
    assert_eq!(captured(&|| {}), None, "after a spoiled capture one capture is no plan");
    let plan = captured(&|| {}).expect("two identical captures in a row are a plan");

    let before = read(&out);
    backend.reset_counters();
    backend.replay(plan).unwrap();
    backend.flush().unwrap();
    let counters = backend.counters();
    assert_eq!((counters.replays, counters.dispatches, counters.submits), (1, 2, 1), "{counters:?}");
    let expected: Vec<f32> = before.iter().map(|v| v + 0.5f32.tanh()).collect();
    assert_eq!(read(&out), expected, "the replay ran the captured kernels on the current buffers");

    // The plan's temporary is its own: a new buffer of its size is not it.
    backend.reset_counters();
    let other = Tensor::uninit(&backend, &[7], rnnplay_engine::DType::F32).unwrap();
    assert_eq!(
        (backend.counters().buffers_created, backend.counters().pool_hits),
        (1, 0),
        "the temporary was handed out"
    );
    drop(other);

    // An upload after a replay lands after it, even when the plan is released before the submit.
    let before = read(&out);
    backend.replay(plan).unwrap();
    backend.release_plan(plan);
    x.write_f32(&[2.0; 7]).unwrap();
    backend.flush().unwrap();
    let expected: Vec<f32> = before.iter().map(|v| v + 0.5f32.tanh()).collect();
    assert_eq!(read(&out), expected, "the replay read x before the upload");
    backend.reset_counters();
    let _again = Tensor::uninit(&backend, &[7], rnnplay_engine::DType::F32).unwrap();
    let _and_again = Tensor::uninit(&backend, &[7], rnnplay_engine::DType::F32).unwrap();
    assert_eq!(backend.counters().pool_hits, 2, "released, the temporary returns to the pool");
    assert!(backend.replay(plan).is_err(), "a released plan cannot be replayed");
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
    let err =
        pollster::block_on(rnnplay_engine::options::backend_by_name("tpu", &rnnplay_engine::EngineOptions::default()))
            .err()
            .unwrap();
    assert!(err.to_string().contains("must be auto, gpu or cpu"), "{err}");
}
