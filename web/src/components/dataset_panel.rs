//! The corpus: The Time Machine (served with the page when the build found it in the dataset
//! cache, or fetched from d2l's public address on request, sha1-checked either way), pasted text
//! or an uploaded `.txt` file; the tokenizer and `max_tokens`; and what the corpus looks like
//! (length, vocabulary size, the vocabulary).

use crate::browser;
use crate::components::settings_panel::panel_fields;
use crate::ui::{Phase, Ui};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use rnnplay_data::toy::ToyTask;
use rnnplay_data::{Corpus, Dataset};
use rnnplay_run::fields::Panel;
use rnnplay_run::spec::{toy_data, DataSource};
use rnnplay_run::RunSpec;

/// Where the page looks for The Time Machine first: the copy the build put beside it.
const SERVED_TIME_MACHINE: &str = "data/timemachine.txt";

/// Fetches The Time Machine from `url` and accepts it only with d2l's sha1.
pub async fn load_time_machine(url: &str) -> Result<String, String> {
    let bytes = browser::fetch_bytes(url).await?;
    let sha1 = rnnplay_data::hub::sha1_hex(&bytes);
    let expected = Dataset::TimeMachine.sha1();
    if sha1 != expected {
        return Err(format!("{url} has sha1 {sha1}, not The Time Machine's {expected}; it is not used"));
    }
    rnnplay_data::text::utf8(bytes, url).map_err(|e| e.to_string())
}

/// The data name of the user's own sentence pairs (the text travels with the run).
const YOUR_PAIRS: &str = "your-pairs";

/// Checks a user's sentence pairs: UTF-8, and every line `source<TAB>target` (the CLI's check
/// of a pair file, with its messages).
fn accept_pairs(bytes: Vec<u8>, what: &str, num_examples: usize) -> Result<(String, usize), String> {
    let text = rnnplay_data::text::utf8(bytes, what).map_err(|e| e.to_string())?;
    let pairs = rnnplay_data::translation::pairs_from_file(&text, what, num_examples).map_err(|e| e.to_string())?;
    Ok((text, pairs.len()))
}

/// Checks a user's text: UTF-8, and at least one token after d2l's cleaning.
fn accept_text(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    let text = rnnplay_data::text::utf8(bytes, what).map_err(|e| e.to_string())?;
    if text.trim().is_empty() {
        return Err(format!("{what} is empty; paste or upload some text"));
    }
    Corpus::from_text(&text, rnnplay_data::TokenKind::Char, None).map_err(|e| e.to_string())?;
    Ok(text)
}

#[component]
pub fn DatasetPanel(
    settings: RwSignal<RunSpec>,
    ui: Ui,
    /// The corpus text in use.
    text: RwSignal<Option<String>>,
    /// The user's sentence pairs in use (an encoder–decoder's own data).
    pairs: RwSignal<Option<String>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let pasted = RwSignal::new(String::new());
    let file_input = NodeRef::<html::Input>::new();
    let locked = move || ui.phase.get() != Phase::Idle;

    let load_served = move || {
        spawn_local(async move {
            note.set(Some("loading The Time Machine…".into()));
            match load_time_machine(SERVED_TIME_MACHINE).await {
                Ok(t) => {
                    text.set(Some(t));
                    error.set(None);
                    note.set(Some("The Time Machine (served with the page, sha1 checked)".into()));
                }
                Err(err) => {
                    note.set(None);
                    error.set(Some(format!(
                        "The Time Machine is not served with this page ({err}). Fetch it from d2l below, or paste text."
                    )));
                }
            }
        });
    };
    if settings.get_untracked().data == "timemachine" {
        load_served();
    }
    let fetch_d2l = move |_| {
        spawn_local(async move {
            let url = Dataset::TimeMachine.url();
            note.set(Some(format!("fetching {url}…")));
            match load_time_machine(url).await {
                Ok(t) => {
                    text.set(Some(t));
                    error.set(None);
                    note.set(Some(format!("The Time Machine from {url} (sha1 checked)")));
                }
                Err(err) => {
                    note.set(None);
                    error.set(Some(format!("could not fetch {url}: {err}")));
                }
            }
        });
    };
    // A user's text replaces the corpus only when it is usable; otherwise the message says why
    // and the corpus in use stays.
    let use_custom = move |result: Result<String, String>, what: &str| match result {
        Ok(t) => {
            settings.update(|s| s.data = "custom".into());
            note.set(Some(format!("{what} ({} characters)", t.chars().count())));
            text.set(Some(t));
            error.set(None);
        }
        Err(err) => error.set(Some(err)),
    };
    let use_pasted =
        move |_| use_custom(accept_text(pasted.get_untracked().into_bytes(), "the pasted text"), "your text");
    let on_file = move |_| {
        let Some(file) = file_input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            use_custom(browser::file_bytes(&file).await.and_then(|b| accept_text(b, &name)), &name);
        });
    };
    // The user's own sentence pairs for an encoder–decoder: kept only when every line is a pair.
    let pasted_pairs = RwSignal::new(String::new());
    let pairs_input = NodeRef::<html::Input>::new();
    let use_pairs = move |result: Result<(String, usize), String>, what: &str| match result {
        Ok((t, count)) => {
            settings.update(|s| s.data = YOUR_PAIRS.into());
            note.set(Some(format!("{what}: {count} sentence pairs")));
            pairs.set(Some(t));
            error.set(None);
        }
        Err(err) => error.set(Some(err)),
    };
    let examples = move || settings.with_untracked(|s| s.num_examples);
    let use_pasted_pairs = move |_| {
        use_pairs(accept_pairs(pasted_pairs.get_untracked().into_bytes(), "the pasted pairs", examples()), "your pairs")
    };
    let on_pairs_file = move |_| {
        let Some(file) = pairs_input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            use_pairs(browser::file_bytes(&file).await.and_then(|b| accept_pairs(b, &name, examples())), &name);
        });
    };
    let use_time_machine = move |_| {
        settings.update(|s| s.data = "timemachine".into());
        load_served();
    };
    let stats = move || {
        let (tokens, max_tokens, generated) = settings.with(|s| (s.token_kind(), s.max_tokens, s.generated_text()));
        let kind = tokens.ok()?;
        // A generated corpus (the recall task) is what the run trains on, whatever text is loaded.
        let max_tokens = if generated.is_some() { 0 } else { max_tokens };
        text.with(|t| {
            let t = generated.as_ref().or(t.as_ref())?;
            Some(match Corpus::from_text(t, kind, (max_tokens > 0).then_some(max_tokens)) {
                Ok(corpus) => {
                    let shown: Vec<String> =
                        corpus.vocab.tokens().iter().take(60).map(|t| if t == " " { "␣".into() } else { t.clone() }).collect();
                    let more = corpus.vocab.len().saturating_sub(60);
                    let more = if more > 0 { format!(" … and {more} more") } else { String::new() };
                    view! {
                        <p id="corpus-stats">{format!("{} tokens, vocabulary of {}", corpus.len(), corpus.vocab.len())}</p>
                        <p class="vocab">{shown.join(" ")}{more}</p>
                    }
                    .into_any()
                }
                Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
            })
        })
    };
    let seq2seq = move || settings.with(RunSpec::is_seq2seq);
    // A toy task keeps the source lengths it had when another task is picked.
    let toy = move || match settings.with(RunSpec::source) {
        DataSource::Toy(task, lengths) => Some((task, lengths)),
        _ => None,
    };
    let on_task = move |ev: leptos::ev::Event| {
        let picked = event_target_value(&ev);
        if picked == YOUR_PAIRS && pairs.with_untracked(Option::is_none) {
            error.set(Some("paste or upload your sentence pairs below first".into()));
        }
        let data = match (ToyTask::parse(&picked), toy()) {
            (Ok(task), Some((_, lengths))) if task != ToyTask::Dates => toy_data(task, lengths),
            _ => picked,
        };
        settings.update(|s| {
            // A date and its <eos> need 11 steps, more than the toy preset's 8.
            if data == ToyTask::Dates.name() {
                s.num_steps = s.num_steps.max(rnnplay_data::dates::LONGEST + 2);
            }
            s.data = data;
        });
    };
    let task_shown =
        move || toy().map_or_else(|| settings.with(|s| s.data.clone()), |(task, _)| task.name().to_string());
    let lengths_problem = RwSignal::new(None::<String>);
    let on_lengths = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let parsed =
            text.trim().split_once('-').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
        match (parsed, toy()) {
            (Some(lengths), Some((task, _))) => {
                lengths_problem.set(None);
                settings.update(|s| s.data = toy_data(task, lengths));
            }
            _ => lengths_problem.set(Some(format!("'{}' is not MIN-MAX, e.g. 3-5 or 10-10", text.trim()))),
        }
    };
    let lengths_error = move || {
        lengths_problem
            .get()
            .or_else(|| settings.with(|s| s.validate().into_iter().find(|p| p.field == "data").map(|p| p.message)))
    };
    view! {
        <section class="panel" aria-label="Dataset">
            <h2>"Dataset"</h2>
            <Show when=seq2seq>
                <label class="field">
                    <span>"data: English–French or a toy task"</span>
                    <select name="task" on:change=on_task disabled=locked>
                        {["fra-eng", "reverse", "copy", "sort-digits", "add", "dates", YOUR_PAIRS]
                            .into_iter()
                            .map(|t| view! { <option value=t selected=move || task_shown() == t>{t}</option> })
                            .collect_view()}
                    </select>
                </label>
                <Show when=move || toy().is_some_and(|(task, _)| task != ToyTask::Dates)>
                    <label class="field" title="The shortest and longest source, in symbols (add: MAX / 2 digits per number).">
                        <span>"source lengths (MIN-MAX)"</span>
                        <input type="text" name="toy-lengths" disabled=locked on:change=on_lengths
                            prop:value=move || toy().map(|(_, (min, max))| format!("{min}-{max}")).unwrap_or_default()/>
                        <Show when=move || lengths_error().is_some()>
                            <span class="error" role="alert">{move || lengths_error().unwrap_or_default()}</span>
                        </Show>
                    </label>
                </Show>
                <label class="field">
                    <span>"or paste your own sentence pairs, one source<TAB>target per line"</span>
                    <textarea id="pairs-text" rows="3" prop:value=move || pasted_pairs.get()
                        on:input=move |ev| pasted_pairs.set(event_target_value(&ev)) disabled=locked></textarea>
                </label>
                <div class="row">
                    <button id="use-pairs" on:click=use_pasted_pairs disabled=locked>"Use pasted pairs"</button>
                    <label>"or upload a .txt / .tsv file "
                        <input type="file" accept=".txt,.tsv,text/plain,text/tab-separated-values" node_ref=pairs_input
                            on:change=on_pairs_file disabled=locked/>
                    </label>
                </div>
                <Show when=move || error.get().is_some()>
                    <p class="error" role="alert" id="pairs-error">{move || error.get().unwrap_or_default()}</p>
                </Show>
                <p class="note">{move || note.get().unwrap_or_default()}</p>
                <p class="note">"fra-eng: English–French pairs from Tatoeba (d2l's copy, sha1-checked), word tokens. Toy tasks are generated: reverse, copy or sort strings of the source lengths asked for (3–5 symbols unless you change them), add two numbers, or write a date (20jan2019, 01/20/2019, …) as 2019-01-20."</p>
            </Show>
            <Show when=move || !seq2seq()>
            <div class="row">
                <button on:click=use_time_machine disabled=locked>"The Time Machine"</button>
                <button on:click=fetch_d2l disabled=locked>"Fetch it from d2l"</button>
            </div>
            <label class="field">
                <span>"or paste text"</span>
                <textarea rows="3" prop:value=move || pasted.get() on:input=move |ev| pasted.set(event_target_value(&ev))
                    disabled=locked></textarea>
            </label>
            <div class="row">
                <button on:click=use_pasted disabled=locked>"Use pasted text"</button>
                <label>"or upload a .txt file "
                    <input type="file" accept=".txt,text/plain" node_ref=file_input on:change=on_file disabled=locked/>
                </label>
            </div>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert" id="dataset-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <p class="note">{move || note.get().unwrap_or_default()}</p>
            <div class="row">{panel_fields(settings, ui, Panel::Data)}</div>
            {stats}
            </Show>
        </section>
    }
}
