//! Where an attention decoder looked: d2l's `show_heatmaps` as an HTML table — a row per output
//! word (and the `<eos>` that ends it), a column per source word, each cell shaded by its
//! weight. Hovering a row highlights it and the source words it attends to most; each cell's
//! title has its weight. The weights are also in the table's `data-weights` (JSON), which the
//! browser test reads.

use leptos::prelude::*;
use rnnplay_engine::translate::AttentionMap;

/// A weight as a shade of blue: clear at 0, dark at 1.
fn shade(weight: f32) -> String {
    format!("background: rgba(9, 105, 218, {:.2})", weight.clamp(0.0, 1.0) * 0.9)
}

/// The heatmap of `map`, with the element id `id` and a caption when `caption` is set.
pub fn attention_map_view(map: AttentionMap, id: String, caption: bool) -> impl IntoView {
    let data = serde_json::to_string(&map.weights).unwrap_or_default();
    let header = map.source.iter().map(|w| view! { <th scope="col">{w.clone()}</th> }).collect_view();
    let rows = map
        .output
        .iter()
        .zip(&map.weights)
        .map(|(word, row)| {
            // The source word this output word looked at most, for its row's title.
            let most = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
            let title = match most {
                Some(i) => format!("'{word}' looked most at '{}' ({:.2})", map.source[i], row[i]),
                None => String::new(),
            };
            let cells = row
                .iter()
                .zip(&map.source)
                .map(|(&w, src)| {
                    let title = format!("'{word}' ← '{src}': {w:.3}");
                    view! { <td style=shade(w) title=title data-weight=format!("{w:.4}")></td> }
                })
                .collect_view();
            view! { <tr title=title><th scope="row">{word.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    let caption = caption.then(|| {
        view! {
            <figcaption>"Attention: each row is an output word, each column a source word; the darker the cell, the more the decoder looked at that source word while writing that output word (each row sums to 1). Hover a row for the word it looked at most."</figcaption>
        }
    });
    view! {
        <figure class="attention-map" id=id data-weights=data>
            <table>
                <thead><tr><th></th>{header}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
            {caption}
        </figure>
    }
}
