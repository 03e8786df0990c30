//! The training charts: the curve per epoch (perplexity or per-token cross-entropy, linear or
//! log scale), the pre-clip gradient norm against θ, and for a language model how far back one
//! prediction's gradient reaches.

pub(crate) mod reach_chart;

use super::chart::{Chart, Series};
use crate::page::Page;
use leptos::prelude::*;
use reach_chart::ReachChart;
use rnnplay_run::RunSpec;

#[component]
pub fn ChartsPanel(page: Page) -> impl IntoView {
    let (ui, log_scale) = (page.ui, page.log_scale);
    let seq2seq = move || page.settings.with(RunSpec::is_seq2seq);
    let curve = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.value).collect()));
    let grad_norms = Signal::derive(move || ui.curve.with(|c| c.iter().map(|p| p.grad_norm).collect()));
    let curve_series = Signal::derive(move || Series::Curve {
        log_scale: log_scale.get(),
        label: if seq2seq() { "per-token cross-entropy" } else { "perplexity" },
    });
    let norm_series = Signal::derive(move || Series::GradNorm { clip: ui.clip.get() });
    let curve_caption = Signal::derive(move || {
        if seq2seq() {
            "The cross-entropy per target token, per epoch: how surprised the decoder is by the true next word — lower is better.".to_string()
        } else {
            "Perplexity of the training text per epoch: roughly how many tokens the model hesitates between at each step — lower is better, 1 is certainty.".to_string()
        }
    });
    let norm_caption = Signal::derive(move || {
        format!(
            "The global gradient norm before clipping, averaged over each epoch's minibatches; wherever it is above the red line θ = {}, clipping scaled the gradients down to θ.",
            ui.clip.get()
        )
    });
    view! {
        <section class="panel charts" aria-label="Charts">
            <label><input type="checkbox" prop:checked=move || log_scale.get()
                on:change=move |ev| log_scale.set(event_target_checked(&ev))/>" log scale"</label>
            <Chart values=curve series=curve_series title="training curve per epoch" caption=curve_caption id="perplexity-chart"/>
            <Chart values=grad_norms series=norm_series title="pre-clip gradient norm" caption=norm_caption id="grad-norm-chart"/>
            <Show when=move || !seq2seq()>
                <ReachChart ui=ui/>
            </Show>
        </section>
    }
}
