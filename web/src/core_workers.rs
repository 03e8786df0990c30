//! More than one core in the page. A CPU run is split over several Web Workers: the training
//! worker (worker.rs), which owns the run and its views, and helpers it starts from the same
//! module (`worker.js?role=helper`). Every worker builds the same run and trains its share of
//! each minibatch's rows; per minibatch, the training worker gathers the shares, adds them in
//! worker order and hands the sum back, and each worker applies it
//! (`rnnplay_run::data_parallel`). Two vectors of the model's size cross per helper and
//! minibatch, as transferred `Float32Array`s; no shared memory, so no nightly toolchain and no
//! cross-origin isolation are needed.

use crate::browser::{dedicated_scope, post_to_parent};
use crate::host::build_session;
use crate::protocol::{FromHelper, ToHelper, ToWorker};
use js_sys::{Array, Float32Array};
use rnnplay_engine::EngineError;
use rnnplay_run::{sum_shares, EpochReport, Session, Shard};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

/// Messages that arrived and were not taken yet, and the waiter to wake with the next one.
#[derive(Default)]
struct Inbox {
    queue: VecDeque<JsValue>,
    waiting: Option<js_sys::Function>,
}

/// One end's incoming messages, taken in arrival order by one reader at a time.
#[derive(Clone, Default)]
struct Mailbox(Rc<RefCell<Inbox>>);

impl Mailbox {
    fn deliver(&self, data: JsValue) {
        let waiting = self.0.borrow_mut().waiting.take();
        match waiting {
            Some(wake) => {
                let _ = wake.call1(&JsValue::NULL, &data);
            }
            None => self.0.borrow_mut().queue.push_back(data),
        }
    }

    async fn next(&self) -> JsValue {
        if let Some(data) = self.0.borrow_mut().queue.pop_front() {
            return data;
        }
        let inbox = Rc::clone(&self.0);
        let arrived = js_sys::Promise::new(&mut |resolve, _reject| inbox.borrow_mut().waiting = Some(resolve));
        JsFuture::from(arrived).await.unwrap_or(JsValue::UNDEFINED)
    }
}

/// What a helper sent, as text: its message, or why it is not one.
fn from_helper(data: &JsValue) -> Result<FromHelper, String> {
    let text = data.as_string().ok_or("a CPU worker sent neither text nor numbers")?;
    FromHelper::from_json(&text)
}

/// Posts `values` to `worker` (or, without one, to this worker's parent), moving its buffer.
fn post_values(worker: Option<&web_sys::Worker>, values: &[f32]) -> Result<(), JsValue> {
    let array = Float32Array::from(values);
    let transfer = Array::of1(&array.buffer());
    match worker {
        Some(worker) => worker.post_message_with_transfer(&array, &transfer),
        None => dedicated_scope()
            .ok_or_else(|| JsValue::from_str("not a worker"))?
            .post_message_with_transfer(&array, &transfer),
    }
}

/// One helper: its worker and what it sent.
struct Helper {
    worker: web_sys::Worker,
    inbox: Mailbox,
    /// Its message and error listeners, kept alive as long as the worker is.
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Helper {
    fn start() -> Result<Self, String> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options("./worker.js?role=helper", &options)
            .map_err(|err| format!("a CPU worker could not start: {err:?}"))?;
        let inbox = Mailbox::default();
        let messages = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                inbox.deliver(event.data())
            })
        };
        let errors = {
            let inbox = inbox.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_event: web_sys::Event| {
                inbox.deliver(JsValue::from_str(&FromHelper::Failed("its script did not load".into()).to_json()))
            })
        };
        worker.set_onmessage(Some(messages.as_ref().unchecked_ref()));
        worker.set_onerror(Some(errors.as_ref().unchecked_ref()));
        Ok(Self { worker, inbox, _on_message: messages, _on_error: errors })
    }

    fn send(&self, message: &ToHelper) -> Result<(), String> {
        self.worker
            .post_message(&JsValue::from_str(&message.to_json()))
            .map_err(|err| format!("a CPU worker cannot be reached: {err:?}"))
    }

    /// Waits for `expected` (Ready, Built); a failure or anything else is the error.
    async fn expect(&self, expected: FromHelper) -> Result<(), String> {
        match from_helper(&self.inbox.next().await)? {
            FromHelper::Failed(why) => Err(why),
            got if got == expected => Ok(()),
            got => Err(format!("a CPU worker said {got:?} where {expected:?} was due")),
        }
    }
}

/// A helper stops with the run it helps.
impl Drop for Helper {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The training worker's helpers for one run.
pub struct CoreWorkers {
    helpers: Vec<Helper>,
}

impl CoreWorkers {
    /// Starts `cores − 1` helpers and has each build the run as `command` does, as worker 1, 2,
    /// … of `cores` (the training worker is worker 0).
    pub async fn start(command: &ToWorker, cores: usize) -> Result<Self, String> {
        let helpers = Self { helpers: (1..cores).map(|_| Helper::start()).collect::<Result<_, _>>()? };
        for helper in &helpers.helpers {
            helper.expect(FromHelper::Ready).await?;
        }
        for (offset, helper) in helpers.helpers.iter().enumerate() {
            helper.send(&ToHelper::Build { command: Box::new(command.on_cpu()), index: offset + 1, count: cores })?;
        }
        for helper in &helpers.helpers {
            helper.expect(FromHelper::Built).await?;
        }
        Ok(helpers)
    }

    /// The cores the run trains on (the training worker's too).
    pub fn cores(&self) -> usize {
        self.helpers.len() + 1
    }

    /// One minibatch on every core: the helpers start their shares, `session` computes its
    /// own meanwhile, the shares are added in worker order and the sum goes back to every
    /// worker and into `session`.
    pub async fn step(&self, session: &mut Session) -> Result<Option<EpochReport>, EngineError> {
        let failed = |index: usize, why: String| {
            EngineError::InvalidArgument(format!("CPU core {} of {} failed: {why}", index + 1, self.cores()))
        };
        for (offset, helper) in self.helpers.iter().enumerate() {
            helper.send(&ToHelper::Share).map_err(|why| failed(offset + 1, why))?;
        }
        let mut shares = vec![session.share().await?];
        for (offset, helper) in self.helpers.iter().enumerate() {
            let data = helper.inbox.next().await;
            match data.dyn_ref::<Float32Array>() {
                Some(values) => shares.push(values.to_vec()),
                None => {
                    let why = match from_helper(&data) {
                        Ok(FromHelper::Failed(why)) => why,
                        Ok(other) => format!("it said {other:?} where its share was due"),
                        Err(why) => why,
                    };
                    return Err(failed(offset + 1, why));
                }
            }
        }
        let sum = sum_shares(&shares)?;
        for (offset, helper) in self.helpers.iter().enumerate() {
            post_values(Some(&helper.worker), &sum).map_err(|err| failed(offset + 1, format!("{err:?}")))?;
        }
        session.apply_sum(&sum).await
    }
}

/// A helper's loop: its messages taken one at a time, in order.
async fn serve(inbox: Mailbox) {
    let mut session: Option<Session> = None;
    loop {
        let data = inbox.next().await;
        if let Some(values) = data.dyn_ref::<Float32Array>() {
            let applied = match session.as_mut() {
                Some(session) => session.apply_sum(&values.to_vec()).await.map(|_| ()).map_err(|e| e.to_string()),
                None => Err("a sum arrived before the run was built".into()),
            };
            if let Err(why) = applied {
                post_to_parent(&FromHelper::Failed(why).to_json());
            }
            continue;
        }
        let message = data.as_string().ok_or_else(|| "a message that is not text".to_string());
        match message.and_then(|text| ToHelper::from_json(&text)) {
            Ok(ToHelper::Build { command, index, count }) => {
                let built = async {
                    let mut built = build_session(&command, |_| {}).await?;
                    built.set_shard(Shard::new(index, count).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
                    Ok::<Session, String>(built)
                }
                .await;
                match built {
                    Ok(built) => {
                        session = Some(built);
                        post_to_parent(&FromHelper::Built.to_json());
                    }
                    Err(why) => post_to_parent(&FromHelper::Failed(why).to_json()),
                }
            }
            Ok(ToHelper::Share) => {
                let share = match session.as_mut() {
                    Some(session) => session.share().await.map_err(|e| e.to_string()),
                    None => Err("asked for a share before the run was built".into()),
                };
                let sent = share.and_then(|values| post_values(None, &values).map_err(|err| format!("{err:?}")));
                if let Err(why) = sent {
                    post_to_parent(&FromHelper::Failed(why).to_json());
                }
            }
            Err(why) => post_to_parent(&FromHelper::Failed(why).to_json()),
        }
    }
}

/// A helper's entry point (called by worker.js when loaded as `worker.js?role=helper`).
#[wasm_bindgen]
pub fn helper_main() {
    console_error_panic_hook::set_once();
    let Some(scope) = dedicated_scope() else { return };
    let inbox = Mailbox::default();
    let on_message = {
        let inbox = inbox.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            inbox.deliver(event.data())
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post_to_parent(&FromHelper::Ready.to_json());
    spawn_local(serve(inbox));
}
