//! Optimizer updates and global-norm clipping against values worked out by hand from the
//! equations, on both backends.

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::testing::{assert_close, gpu_or_skip};
use rnnplay_engine::{Adam, GradClipper, Optimizer, Param, Sgd, Tensor};
use std::rc::Rc;

fn backends() -> Vec<Rc<dyn Backend>> {
    let mut list: Vec<Rc<dyn Backend>> = vec![Rc::new(CpuBackend::new())];
    if let Some(gpu) = gpu_or_skip("optim_and_clipping") {
        list.push(Rc::new(gpu));
    }
    list
}

fn param(backend: &Rc<dyn Backend>, values: &[f32], grad: &[f32]) -> Param {
    let p = Param::from_tensor("p", Tensor::from_f32(backend, &[values.len()], values).unwrap()).unwrap();
    p.grad().write_f32(grad).unwrap();
    p
}

fn read(t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.to_vec()).unwrap()
}

#[test]
fn sgd_divides_the_step_by_the_batch_size_like_d2l() {
    for backend in backends() {
        let p = param(&backend, &[1.0, 2.0], &[0.5, -1.0]);
        Sgd::new(0.1, 2.0).unwrap().step(std::slice::from_ref(&p)).unwrap();
        // p - lr·g/batch = [1 - 0.1·0.5/2, 2 + 0.1·1/2]
        assert_close("sgd", &read(p.value()), &[0.975, 2.05], 1e-6, 1e-7);
    }
}

#[test]
fn adam_follows_pytorch_equations_over_two_steps() {
    for backend in backends() {
        let p = param(&backend, &[1.0], &[0.5]);
        let mut adam = Adam::new(0.1).unwrap();
        adam.step(std::slice::from_ref(&p)).unwrap();
        // t=1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25, p = 1 - 0.1·0.5/(0.5 + 1e-8)
        assert_close("adam step 1", &read(p.value()), &[0.9], 1e-6, 1e-7);
        p.grad().write_f32(&[-1.0]).unwrap();
        adam.step(std::slice::from_ref(&p)).unwrap();
        // t=2: m = 0.9·0.05 - 0.1 = -0.055, v = 0.999·0.00025 + 0.001 = 0.00124975,
        // m̂ = -0.055/0.19, v̂ = 0.00124975/0.001999, p = 0.9 - 0.1·m̂/(sqrt(v̂) + 1e-8)
        assert_close("adam step 2", &read(p.value()), &[0.936_610_35], 1e-6, 1e-7);
        assert_eq!(adam.steps(), 2);
    }
}

#[test]
fn adam_refuses_a_different_parameter_list() {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let (a, b) = (param(&backend, &[1.0], &[1.0]), param(&backend, &[1.0], &[1.0]));
    let mut adam = Adam::new(0.1).unwrap();
    adam.step(std::slice::from_ref(&a)).unwrap();
    assert!(adam.step(&[a, b]).is_err());
}

#[test]
fn a_changed_learning_rate_reaches_the_device_with_the_next_step() {
    for backend in backends() {
        let p = param(&backend, &[1.0], &[1.0]);
        let mut sgd = Optimizer::by_name("sgd", 0.5).unwrap();
        sgd.step(std::slice::from_ref(&p)).unwrap();
        sgd.set_lr(0.25).unwrap();
        sgd.step(std::slice::from_ref(&p)).unwrap();
        // 1 - 0.5 - 0.25
        assert_close("sgd", &read(p.value()), &[0.25], 1e-6, 0.0);
        assert!(sgd.set_lr(0.0).unwrap_err().to_string().contains("positive finite"));
    }
}

#[test]
fn a_changed_threshold_clips_the_next_step() {
    for backend in backends() {
        let a = param(&backend, &[0.0], &[4.0]);
        let mut clipper = GradClipper::new(&backend, 8.0).unwrap();
        clipper.clip(std::slice::from_ref(&a)).unwrap();
        assert_close("below θ", &read(a.grad()), &[4.0], 0.0, 0.0);
        clipper.set_max_norm(2.0).unwrap();
        clipper.clip(std::slice::from_ref(&a)).unwrap();
        assert_close("θ = 2", &read(a.grad()), &[2.0], 1e-6, 0.0);
    }
}

#[test]
fn clipping_scales_all_gradients_by_the_global_norm_above_theta() {
    for backend in backends() {
        // Two parameters with gradients [3] and [4, 0]: global norm 5.
        let (a, b) = (param(&backend, &[0.0], &[3.0]), param(&backend, &[0.0, 0.0], &[4.0, 0.0]));
        let clipper = GradClipper::new(&backend, 1.0).unwrap();
        clipper.clip(&[a.clone(), b.clone()]).unwrap();
        assert_close("norm", &read(clipper.norm()), &[5.0], 1e-6, 0.0);
        assert_close("a", &read(a.grad()), &[0.6], 1e-6, 0.0);
        assert_close("b", &read(b.grad()), &[0.8, 0.0], 1e-6, 0.0);
    }
}

#[test]
fn clipping_leaves_gradients_below_theta_unchanged() {
    for backend in backends() {
        let (a, b) = (param(&backend, &[0.0], &[3.0]), param(&backend, &[0.0, 0.0], &[4.0, 0.0]));
        let clipper = GradClipper::new(&backend, 10.0).unwrap();
        clipper.clip(&[a.clone(), b.clone()]).unwrap();
        assert_close("norm", &read(clipper.norm()), &[5.0], 1e-6, 0.0);
        assert_eq!(read(a.grad()), vec![3.0]);
        assert_eq!(read(b.grad()), vec![4.0, 0.0]);
    }
}

#[test]
fn bad_hyperparameters_are_errors_not_panics() {
    let backend: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    assert!(Sgd::new(f32::NAN, 1.0).is_err());
    assert!(Sgd::new(-1.0, 1.0).is_err());
    assert!(Sgd::new(1.0, 0.0).is_err());
    assert!(Adam::new(f32::INFINITY).is_err());
    let message = GradClipper::new(&backend, 0.0).err().unwrap().to_string();
    assert!(message.contains("θ"), "{message}");
}
