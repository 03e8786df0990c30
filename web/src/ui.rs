//! The page's shared state: the signals the controls, the charts, the prediction views and the
//! training loop read and write, and the plain values they carry.

use leptos::prelude::*;
use rnnplay_engine::translate::TranslationExample;

pub use crate::protocol::{
    ConnectView, EpochPoint, ForcedToken, InspectView, Phase, Predictions, Progress, ThroughTime, TranslationView,
};

/// The signals shared by the controls, the charts and the loop.
#[derive(Clone, Copy)]
pub struct Ui {
    pub phase: RwSignal<Phase>,
    pub curve: RwSignal<Vec<EpochPoint>>,
    pub progress: RwSignal<Progress>,
    pub predictions: RwSignal<Option<Predictions>>,
    /// The gradient-through-time chart's curves.
    pub through_time: RwSignal<ThroughTime>,
    /// Inside the network: the inspection of the passage, bumped `inspection_version` on each
    /// refresh (the worker sends it only then: it is large); the position picked in the
    /// passage, how far back its prediction reaches, and whether the views are computed.
    pub inspection: RwSignal<Option<InspectView>>,
    /// The same for an encoder–decoder's translate-box sentence (sent with the same version).
    pub translation_inspection: RwSignal<Option<TranslationView>>,
    pub inspection_version: RwSignal<u32>,
    pub position: RwSignal<Option<usize>>,
    pub connect_requests: RwSignal<u32>,
    pub connectivity: RwSignal<Option<ConnectView>>,
    pub views: RwSignal<bool>,
    /// Why the run stopped or could not start.
    pub run_error: RwSignal<Option<String>>,
    /// The GPU device was lost mid-run: the page offers to continue on the CPU backend.
    pub device_lost: RwSignal<bool>,
    /// Settings fields whose text does not parse, with their message (they block Start).
    pub unparsed: RwSignal<Vec<(&'static str, String)>>,
    /// Commands: keep training; batches to step while paused; predictions and a save asked
    /// for; the run generation (Reset bumps it and the old loop ends).
    pub running: RwSignal<bool>,
    pub pending_steps: RwSignal<u32>,
    pub predict_requests: RwSignal<u32>,
    pub save_requests: RwSignal<u32>,
    pub generation: RwSignal<u64>,
    /// Free-running options.
    pub prefix: RwSignal<String>,
    pub length: RwSignal<usize>,
    pub temperature: RwSignal<f32>,
    /// The clipping threshold of the current run (drawn on the gradient-norm chart).
    pub clip: RwSignal<f32>,
    /// Encoder–decoder views: the example table, and the sentence to translate with its result.
    pub translations: RwSignal<Option<Vec<TranslationExample>>>,
    pub sentence: RwSignal<String>,
    pub sentence_translation: RwSignal<String>,
}

impl Ui {
    pub fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            curve: RwSignal::new(Vec::new()),
            progress: RwSignal::new(Progress::default()),
            predictions: RwSignal::new(None),
            through_time: RwSignal::new(ThroughTime::default()),
            inspection: RwSignal::new(None),
            translation_inspection: RwSignal::new(None),
            inspection_version: RwSignal::new(0),
            position: RwSignal::new(None),
            connect_requests: RwSignal::new(0),
            connectivity: RwSignal::new(None),
            views: RwSignal::new(true),
            run_error: RwSignal::new(None),
            device_lost: RwSignal::new(false),
            unparsed: RwSignal::new(Vec::new()),
            running: RwSignal::new(false),
            pending_steps: RwSignal::new(0),
            predict_requests: RwSignal::new(0),
            save_requests: RwSignal::new(0),
            generation: RwSignal::new(0),
            prefix: RwSignal::new("time traveller".into()),
            length: RwSignal::new(50),
            temperature: RwSignal::new(0.0),
            clip: RwSignal::new(1.0),
            translations: RwSignal::new(None),
            sentence: RwSignal::new("go .".into()),
            sentence_translation: RwSignal::new(String::new()),
        }
    }
}
