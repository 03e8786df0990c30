//! The machinery behind `views.rs`'s list: `declare_views!` turns it into the enum the worker
//! reports a view in (`ViewValue`, plain Rust), a marker type per view and, on wasm32, the
//! signals the components read (`Views`: one [`View`] per view), with what every view needs
//! besides its component and its [`ComputeView`] — cleared for a new run, computed when its
//! [`When`] comes, reported by the worker when it changed, shown by the page on a later
//! animation frame.

#[cfg(target_arch = "wasm32")]
use leptos::prelude::*;

/// One view's signal: its value (`None`: nothing to show) and a version, bumped on each
/// `set`, by which the worker tells which views changed since its last report (an inspection
/// is far too large to compare as text every few milliseconds).
#[cfg(target_arch = "wasm32")]
pub struct View<T: Send + Sync + 'static> {
    value: RwSignal<Option<T>>,
    version: StoredValue<u64>,
}

#[cfg(target_arch = "wasm32")]
impl<T: Send + Sync + 'static> Clone for View<T> {
    fn clone(&self) -> Self {
        *self
    }
}

#[cfg(target_arch = "wasm32")]
impl<T: Send + Sync + 'static> Copy for View<T> {}

#[cfg(target_arch = "wasm32")]
impl<T: Clone + Send + Sync + 'static> View<T> {
    pub fn new() -> Self {
        Self { value: RwSignal::new(None), version: StoredValue::new(0) }
    }

    /// The value, tracked: a component reading it redraws when it changes.
    pub fn get(&self) -> Option<T> {
        self.value.get()
    }

    /// Reads the value in place, tracked.
    pub fn with<R>(&self, f: impl FnOnce(&Option<T>) -> R) -> R {
        self.value.with(f)
    }

    pub fn get_untracked(&self) -> Option<T> {
        self.value.get_untracked()
    }

    pub fn with_untracked<R>(&self, f: impl FnOnce(&Option<T>) -> R) -> R {
        self.value.with_untracked(f)
    }

    pub fn set(&self, value: Option<T>) {
        self.value.set(value);
        self.version.update_value(|v| *v += 1);
    }

    pub fn version(&self) -> u64 {
        self.version.get_value()
    }

    /// The value as a read-only signal, for a component that takes one.
    pub fn signal(&self) -> Signal<Option<T>> {
        self.value.into()
    }
}

/// When a view is computed: at a refresh of the predictions (after an epoch, or asked for);
/// with the views inside the network (at a refresh while they are on, and when a position is
/// picked); or from each epoch's report.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Refresh,
    Inside,
    Epoch,
}

/// How the translate box's sentence is translated: beam search keeping `beam` hypotheses (1:
/// greedy) with length penalty α, its output forced to begin with `start` (empty: free).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Search {
    pub beam: usize,
    pub length_penalty: f32,
    pub start: String,
}

impl Default for Search {
    fn default() -> Self {
        Self { beam: 1, length_penalty: 0.75, start: String::new() }
    }
}

/// What a view is computed from: the run and the page's options at the time.
#[cfg(target_arch = "wasm32")]
pub struct ViewContext<'a> {
    pub session: &'a rnnplay_run::Session,
    /// The free-running prefix, its length and temperature.
    pub prefix: String,
    pub length: usize,
    pub temperature: f32,
    /// The translate box's sentence, and how to translate it.
    pub sentence: String,
    pub search: Search,
    /// The position picked in the passage (or in the translation).
    pub position: Option<usize>,
    /// The translate box's search, made by the first view of a refresh that reads it
    /// (`ViewContext::translate_box`) for the others.
    pub searched: std::cell::RefCell<Option<rnnplay_engine::beam::BeamResult>>,
}

/// How one view is computed, implemented by its component's file for the view's marker
/// (`views::view::<name>`): when, and from what. A `When::Epoch` view implements
/// `after_epoch`, the others `compute`.
#[cfg(target_arch = "wasm32")]
#[allow(async_fn_in_trait)]
pub trait ComputeView {
    type Value: Clone + Send + Sync + 'static;
    const WHEN: When;

    /// The view now (`None`: nothing to show, e.g. a view of the other task).
    async fn compute(_cx: &ViewContext<'_>) -> Result<Option<Self::Value>, String> {
        Ok(None)
    }

    /// The view after an epoch, from its report and the view's value before it.
    fn after_epoch(_report: &rnnplay_run::EpochReport, previous: Option<&Self::Value>) -> Option<Self::Value> {
        previous.cloned()
    }
}

/// Declares the views of a run: `name: Value,` each (see `views.rs`).
macro_rules! declare_views {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty, )*) => {
        /// One view's value as the worker reports it (`None`: nothing to show).
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub enum ViewValue {
            $( $(#[$doc])* $name(Option<$ty>), )*
        }

        /// The views' names, in the order of the list.
        pub const VIEW_NAMES: &[&str] = &[$( stringify!($name), )*];

        /// One marker type per view, for its component to implement
        /// `view_signals::ComputeView` on.
        pub mod view {
            $(
                #[allow(non_camel_case_types)]
                #[doc = concat!("The `", stringify!($name), "` view.")]
                pub struct $name;
            )*
        }

        #[cfg(target_arch = "wasm32")]
        pub use views_of_a_run::Views;

        #[cfg(target_arch = "wasm32")]
        mod views_of_a_run {
            use super::*;
            use $crate::view_signals::{ComputeView, View, ViewContext, When};

            /// The signals of every view, one each.
            #[derive(Clone, Copy)]
            pub struct Views {
                $( $(#[$doc])* pub $name: View<$ty>, )*
            }

            impl Default for Views {
                fn default() -> Self {
                    Self::new()
                }
            }

            impl Views {
                pub fn new() -> Self {
                    Self { $( $name: View::new(), )* }
                }

                /// Nothing to show: a new run.
                pub fn clear(&self) {
                    $( self.$name.set(None); )*
                }

                /// Computes the views `when` names from `cx` (and an epoch's `report`); the
                /// first that fails stops the rest, with its name in the message.
                pub async fn compute(
                    &self,
                    when: When,
                    cx: &ViewContext<'_>,
                    report: Option<&rnnplay_run::EpochReport>,
                ) -> Result<(), String> {
                    $(
                        if <view::$name as ComputeView>::WHEN == when {
                            let value = match report {
                                Some(report) if when == When::Epoch => self.$name.with_untracked(|previous| {
                                    <view::$name as ComputeView>::after_epoch(report, previous.as_ref())
                                }),
                                _ => <view::$name as ComputeView>::compute(cx).await.map_err(|err| {
                                    format!("the {} view failed: {err}", stringify!($name).replace('_', " "))
                                })?,
                            };
                            self.$name.set(value);
                        }
                    )*
                    Ok(())
                }

                /// The views whose version differs from `sent` (updated): what the worker
                /// reports.
                pub fn changed(&self, sent: &mut Vec<u64>) -> Vec<ViewValue> {
                    sent.resize(VIEW_NAMES.len(), u64::MAX);
                    let mut versions = sent.iter_mut();
                    let mut changed = Vec::new();
                    $(
                        if let Some(seen) = versions.next() {
                            let version = self.$name.version();
                            if *seen != version {
                                *seen = version;
                                changed.push(ViewValue::$name(self.$name.get_untracked()));
                            }
                        }
                    )*
                    changed
                }

                /// Shows a value the worker reported, on a later animation frame
                /// (`paint::later`): an epoch's end refreshes several views at once, and each
                /// rebuilds a panel of the page.
                pub fn show(&self, value: ViewValue) {
                    match value {
                        $(
                            ViewValue::$name(value) => {
                                let view = self.$name;
                                $crate::paint::later(concat!("view:", stringify!($name)), move || view.set(value));
                            }
                        )*
                    }
                }
            }
        }
    };
}
pub(crate) use declare_views;
