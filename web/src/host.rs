//! The page's host services, for the page's thread and the workers alike: the backends this
//! thread opened (WebGPU when the browser offers it, the CPU backend), timing them on a run, the
//! data a run names (fra-eng fetched and sha1-checked, a text, a toy task), and the one builder
//! of a run — new, from a loaded checkpoint, or a kept run rebuilt from its autosave — used by
//! the training worker, its helpers and the page without a worker. The statics are per thread:
//! the page and each worker keep their own.

pub(crate) use crate::backend_choice::BackendState;
use crate::backend_choice::{cpu_is_faster, CPU_NAME, GPU_NAME};
use crate::browser;
use crate::protocol::ToWorker;
use rnnplay_engine::backend::{Backend, CpuBackend, GpuBackend};
use rnnplay_engine::{Checkpoint, EngineError, EngineOptions};
use rnnplay_run::{time_backends, BackendSpeed};
use rnnplay_run::{DataSource, RunData, RunSpec, SavedRun, Session};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The WebGPU backend when the browser offers one, found once when the page loads.
    static GPU: RefCell<Option<Rc<dyn Backend>>> = const { RefCell::new(None) };
    /// The page's own CPU backend, made when first chosen.
    static CPU: RefCell<Option<Rc<dyn Backend>>> = const { RefCell::new(None) };
}

/// WebGPU when the browser offers an adapter, else the CPU backend with the reason (in the
/// browser's terms, not the command line's).
pub(crate) async fn open_backend() -> (Rc<dyn Backend>, BackendState) {
    let options = EngineOptions::default();
    match GpuBackend::new(options.matmul, options.subgroups).await {
        Ok(gpu) => {
            // Browsers may hide the adapter's name; say what kind it is then.
            let adapter = gpu.adapter();
            let name =
                if adapter.name.is_empty() { format!("{} adapter", adapter.device_type) } else { adapter.name.clone() };
            let software = adapter.device_type == "Cpu";
            (Rc::new(gpu), BackendState::Gpu { name, software })
        }
        Err(EngineError::NoAdapter { reason }) => (Rc::new(CpuBackend::new()), BackendState::Cpu(reason)),
        Err(err) => (Rc::new(CpuBackend::new()), BackendState::Cpu(err.to_string())),
    }
}

/// Keeps the backend `open_backend` found, as the WebGPU or the CPU one (the page and the
/// training worker each keep their own: the statics are per thread).
pub(crate) fn keep_backend(backend: Rc<dyn Backend>, state: &BackendState) {
    match state {
        BackendState::Gpu { .. } => GPU.with(|g| *g.borrow_mut() = Some(backend)),
        _ => CPU.with(|c| *c.borrow_mut() = Some(backend)),
    }
}

/// The backend a run uses: WebGPU unless the CPU backend is chosen (or WebGPU is missing).
pub(crate) fn chosen_backend(use_cpu: bool) -> Rc<dyn Backend> {
    let gpu = GPU.with(|g| g.borrow().clone());
    match gpu {
        Some(gpu) if !use_cpu => gpu,
        _ => CPU.with(|c| Rc::clone(c.borrow_mut().get_or_insert_with(|| Rc::new(CpuBackend::new())))),
    }
}

/// Times a few minibatches of throwaway copies of `spec`'s run on WebGPU and on this thread's
/// CPU backend (see `backend_choice`).
pub(crate) async fn measure_backends(spec: &RunSpec, data: RunData<'_>) -> Result<Vec<BackendSpeed>, String> {
    let gpu = GPU.with(|g| g.borrow().clone()).ok_or("WebGPU is not open here, so there is nothing to measure")?;
    let backends = [(GPU_NAME, gpu), (CPU_NAME, chosen_backend(true))];
    time_backends(spec, data, &backends, &EngineOptions::default(), &browser::clock())
        .await
        .map_err(|err| format!("timing the backends on this model failed: {err}"))
}

/// d2l's fra-eng.zip from beside the page, accepted only with its published sha1.
pub(crate) async fn load_fra_eng() -> Result<Vec<u8>, String> {
    const SERVED: &str = "data/fra-eng.zip";
    let bytes = browser::fetch_bytes(SERVED).await.map_err(|err| {
        format!("fra-eng.zip is not served with this page ({err}); pick a toy task, or build the page with the dataset cache that holds it")
    })?;
    let (sha1, expected) = (rnnplay_data::hub::sha1_hex(&bytes), rnnplay_data::Dataset::FraEng.sha1());
    if sha1 != expected {
        return Err(format!("{SERVED} has sha1 {sha1}, not fra-eng's {expected}; it is not used"));
    }
    Ok(bytes)
}

/// The data a spec names, from what the host has: fra-eng's archive, a text, or nothing for a
/// toy task.
pub(crate) fn run_data<'a>(
    spec: &RunSpec,
    zip: Option<&'a [u8]>,
    text: Option<&'a str>,
) -> Result<RunData<'a>, String> {
    match (zip, text, spec.source()) {
        (Some(zip), _, _) => Ok(RunData::FraEngZip(zip)),
        _ if spec.generated() => Ok(RunData::Generated),
        (_, Some(text), _) => Ok(RunData::Text(text)),
        (_, None, _) => Err("no corpus yet: load The Time Machine, paste text or upload a file".into()),
    }
}

/// fra-eng's archive when `spec` trains on it (fetched from beside the page, sha1-checked),
/// else nothing.
pub(crate) async fn fra_eng_for(spec: &RunSpec) -> Result<Option<Vec<u8>>, String> {
    match spec.source() {
        DataSource::FraEng => Ok(Some(load_fra_eng().await?)),
        _ => Ok(None),
    }
}

/// Rebuilds a kept run from its autosaved checkpoint on the data it names (fra-eng fetched,
/// a toy task generated, `text` otherwise), to train on exactly where it stopped. Data other
/// than the run's is refused with what differs; a run kept by an earlier page, which did not
/// record its data, goes on with the corpus loaded (its vocabulary must still match).
async fn saved_session(bytes: &[u8], text: Option<&str>, use_cpu: bool) -> Result<Session, String> {
    let saved = SavedRun::from_bytes(bytes).map_err(|e| e.to_string())?;
    let saved = if saved.data().is_none() { saved.allow_changed_data() } else { saved };
    let zip = fra_eng_for(saved.spec()).await?;
    let data = run_data(saved.spec(), zip.as_deref(), text)?;
    let epochs = saved.spec().epochs;
    saved.build(&chosen_backend(use_cpu), data, &EngineOptions::default(), epochs).map_err(|e| e.to_string())
}

/// Builds the run `command` describes (Start, Resume or Continue) on the backend it asks for;
/// a Start with `measure` first times WebGPU and the CPU backend on its run, hands the speeds to
/// `measured` and builds on the faster. The one builder of a run in the page: the training
/// worker, each of its helpers (`ToWorker::on_cpu`) and the page without a worker call it.
pub(crate) async fn build_session(
    command: &ToWorker,
    measured: impl FnOnce(Vec<BackendSpeed>),
) -> Result<Session, String> {
    let options = EngineOptions::default();
    match command {
        ToWorker::Start { spec, text, use_cpu, measure, .. } => {
            let zip = fra_eng_for(spec).await?;
            let data = run_data(spec, zip.as_deref(), text.as_deref())?;
            let use_cpu = if *measure {
                let speeds = measure_backends(spec, data).await?;
                let faster_cpu = cpu_is_faster(&speeds);
                measured(speeds);
                faster_cpu
            } else {
                *use_cpu
            };
            spec.build(&chosen_backend(use_cpu), data, &options).map_err(|e| e.to_string())
        }
        ToWorker::Resume { spec, checkpoint, text, use_cpu } => Checkpoint::from_bytes(checkpoint)
            .and_then(|c| spec.resume(&chosen_backend(*use_cpu), &c, RunData::Text(text), &options))
            .map_err(|e| e.to_string()),
        ToWorker::Continue { checkpoint, text, use_cpu, .. } => {
            saved_session(checkpoint, text.as_deref(), *use_cpu).await
        }
        _ => Err("only Start, Resume and Continue build a run".into()),
    }
}
