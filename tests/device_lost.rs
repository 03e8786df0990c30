//! A GPU lost mid-run (crates/engine/src/backend/gpu: wgpu's device-lost callback): the run
//! stops with `DeviceLost`, refuses to step again, and its host copy of the last finished epoch
//! (`Session::host_checkpoint`) resumes on the CPU backend. The browser provokes the same with
//! WebGPU's `device.destroy()` (tests/e2e, scenario device-lost).

use rnnplay_engine::backend::{Backend, CpuBackend};
use rnnplay_engine::testing::gpu_or_skip;
use rnnplay_engine::{EngineError, EngineOptions};
use rnnplay_run::{RunData, RunSpec, SavedRun};
use std::rc::Rc;

#[test]
fn a_lost_gpu_stops_the_run_and_its_host_copy_goes_on_on_the_cpu() {
    let Some(gpu) = gpu_or_skip("device lost") else { return };
    let gpu = Rc::new(gpu);
    let backend: Rc<dyn Backend> = gpu.clone();
    let text = "the quick brown fox jumps over the lazy dog, then naps in the sun.\n".repeat(16);
    let mut spec = RunSpec::preset("d2l-gru").unwrap();
    (spec.hidden, spec.batch_size, spec.num_steps, spec.epochs) = (16, 4, 8, 5);
    (spec.optimizer, spec.lr) = ("adam".into(), 0.01);
    let options = EngineOptions { plan_replay: true, ..EngineOptions::default() };
    let mut session = spec.build(&backend, RunData::Text(&text), &options).unwrap();

    let mut reports = Vec::new();
    while reports.len() < 2 {
        reports.extend(pollster::block_on(session.step()).unwrap());
    }
    let (epochs, bytes) = session.host_checkpoint().expect("a GPU run keeps a host copy after each epoch");
    assert_eq!(epochs, 2);
    let bytes = bytes.to_vec();

    gpu.destroy_device();
    let err = pollster::block_on(async {
        loop {
            if let Err(err) = session.step().await {
                break err;
            }
        }
    });
    assert!(matches!(err, EngineError::DeviceLost(_)), "{err}");
    assert!(err.to_string().contains("device was lost"), "{err}");
    assert_eq!(session.device_lost_in(), Some(3));
    let again = pollster::block_on(session.step()).unwrap_err();
    assert!(matches!(again, EngineError::DeviceLost(_)), "a lost session refuses to step: {again}");
    assert_eq!(session.host_checkpoint().map(|(epochs, _)| epochs), Some(2), "the host copy survives");
    let saved = pollster::block_on(session.checkpoint_bytes(None)).unwrap();
    assert_eq!(saved, bytes, "after the loss a checkpoint is the host copy");

    // The host copy is a resumable checkpoint: the run goes on on the CPU from epoch 3.
    let saved = SavedRun::from_bytes(&bytes).unwrap();
    let cpu: Rc<dyn Backend> = Rc::new(CpuBackend::new());
    let mut resumed = saved.build(&cpu, RunData::Text(&text), &EngineOptions::default(), 4).unwrap();
    let mut more = Vec::new();
    while !resumed.finished() {
        more.extend(pollster::block_on(resumed.step()).unwrap());
    }
    assert_eq!(more.iter().map(|r| r.epoch).collect::<Vec<_>>(), [3, 4]);
    assert!(more.iter().all(|r| r.value.is_finite() && r.value < reports[0].value), "{more:?} after {reports:?}");
    assert!(resumed.host_checkpoint().is_none(), "the CPU backend keeps no host copy: its memory is the host's");
}
