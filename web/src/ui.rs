//! The page's shared state: the signals the controls, the charts, the views and the training
//! loop read and write (the views' own are declared in `views.rs`).

use crate::views::Views;
use leptos::prelude::*;

pub use crate::protocol::{EpochPoint, Phase, Progress};

/// The signals shared by the controls, the charts and the loop.
#[derive(Clone, Copy)]
pub struct Ui {
    pub phase: RwSignal<Phase>,
    pub curve: RwSignal<Vec<EpochPoint>>,
    pub progress: RwSignal<Progress>,
    /// What the run's views show (`views.rs`).
    pub views: Views,
    /// The position picked in the passage (or the translation), asked for with
    /// `connect_requests`; and whether the views inside the network are computed at each refresh.
    pub position: RwSignal<Option<usize>>,
    pub connect_requests: RwSignal<u32>,
    pub inside_on: RwSignal<bool>,
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
    /// The encoder–decoder's sentence to translate.
    pub sentence: RwSignal<String>,
    /// How to translate it: beam size, length penalty, forced start.
    pub search: RwSignal<crate::view_signals::Search>,
}

impl Ui {
    pub fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            curve: RwSignal::new(Vec::new()),
            progress: RwSignal::new(Progress::default()),
            views: Views::new(),
            position: RwSignal::new(None),
            connect_requests: RwSignal::new(0),
            inside_on: RwSignal::new(true),
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
            sentence: RwSignal::new("go .".into()),
            search: RwSignal::new(crate::view_signals::Search::default()),
        }
    }
}
