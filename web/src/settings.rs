//! The page's run settings are the engine's [`RunSpec`]; this file is its URL form
//! (`?preset=d2l-gru&hidden=64…`). A link reproduces a setup because the page is built from this
//! value alone. What a value may be is [`RunSpec::validate`]'s to say, in the same words as the
//! CLI.

use rnnplay_run::RunSpec;

/// The label of the setting `key` (the key itself if it has none): the one declaration's
/// (`rnnplay_run::fields`), shown beside the field and in messages that name it.
pub use rnnplay_run::fields::label;

/// `worker=0` trains on the page's own thread instead of in the training worker (to compare,
/// or where a worker misbehaves); not a setting of the run.
pub const WORKER_KEY: &str = "worker";

/// The value of `key` in the query (the first, if it appears more than once).
fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.trim_start_matches('?').split('&').find_map(|p| p.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Whether the query asks for no training worker.
pub fn worker_disabled(query: &str) -> bool {
    query.trim_start_matches('?').split('&').any(|p| p == "worker=0")
}

/// `views=0` starts with the views inside the network switched off (they are computed at each
/// prediction refresh otherwise): to measure what they cost; not a setting of the run.
pub const VIEWS_KEY: &str = "views";

/// Whether the query asks for the views inside the network to start switched off.
pub fn views_disabled(query: &str) -> bool {
    query.trim_start_matches('?').split('&').any(|p| p == "views=0")
}

/// `backend=gpu|cpu|auto` sets “Train on” when the page opens (default `auto`: the faster,
/// measured); not a setting of the run.
pub const BACKEND_KEY: &str = "backend";

/// The backend the query asks for, if any; an error naming the choices for anything else.
pub fn backend_in_query(query: &str) -> Result<Option<&str>, String> {
    match query_value(query, BACKEND_KEY) {
        None => Ok(None),
        Some(value @ ("gpu" | "cpu" | "auto")) => Ok(Some(value)),
        Some(other) => Err(format!("backend={other} is not a backend; use backend=gpu, backend=cpu or backend=auto")),
    }
}

/// `cores=N` (1 to [`MAX_CORES`]) trains a CPU run on N cores, one Web Worker each;
/// `cores=auto` (the default) as [`cores_for`] picks (`core_workers.rs`).
pub const CORES_KEY: &str = "cores";

/// The most cores a run in the page is split over.
pub const MAX_CORES: usize = 8;

/// The counts “CPU cores” offers besides auto.
pub const CORE_CHOICES: [usize; 4] = [1, 2, 4, MAX_CORES];

/// The cores the query asks for: `None` on auto (or without the key); an error naming the
/// choices for anything else.
pub fn cores_in_query(query: &str) -> Result<Option<usize>, String> {
    match query_value(query, CORES_KEY) {
        None | Some("auto") => Ok(None),
        Some(value) => match value.parse::<usize>() {
            Ok(n @ 1..=MAX_CORES) => Ok(Some(n)),
            _ => Err(format!("cores={value} is not a core count; use cores=auto or a number from 1 to {MAX_CORES}")),
        },
    }
}

/// The fewest rows of a minibatch a core gets on auto: thinner shares spend more time sending
/// vectors than computing.
pub const MIN_ROWS_PER_CORE: usize = 4;

/// How many cores train a CPU run of minibatches of `batch_size` rows: `asked` (the page's
/// “CPU cores”) up to one row each, or on auto all of the browser's `available` cores but one
/// — the page's own thread and the browser need it to keep drawing frames: on a 2-core machine,
/// training on both stretched the longest frame gap from 50–67 ms to 83 ms — at most
/// [`MAX_CORES`] and with at least [`MIN_ROWS_PER_CORE`] rows each.
pub fn cores_for(asked: Option<usize>, available: usize, batch_size: usize) -> usize {
    let cores = match asked {
        Some(n) => n.min(batch_size),
        None => available.saturating_sub(1).min(MAX_CORES).min(batch_size / MIN_ROWS_PER_CORE),
    };
    cores.max(1)
}

/// `lesson=NAME` opens a lesson (`rnnplay_run::lessons`): its text, and its first run's
/// settings; not a setting of the run.
pub const LESSON_KEY: &str = "lesson";

/// The lesson the query names, if any.
pub fn lesson_name(query: &str) -> Option<String> {
    query_value(query, LESSON_KEY).map(String::from)
}

/// `lessons=1` opens the lessons index (the landing view of a first visit); not a setting.
pub const LESSONS_KEY: &str = "lessons";

/// Whether the page opens on the lessons index: asked for, or a first visit with nothing in
/// the address.
pub fn lessons_index_first(query: &str, first_visit: bool) -> bool {
    let query = query.trim_start_matches('?');
    query.split('&').any(|p| p == "lessons=1") || (first_visit && query.is_empty())
}

/// The keys of the address that belong to the page, not to the run's settings.
const HOST_KEYS: [&str; 6] = [WORKER_KEY, VIEWS_KEY, LESSON_KEY, LESSONS_KEY, BACKEND_KEY, CORES_KEY];

/// Whether the query names nothing but the page's own keys (a lesson's address, say, with
/// `backend=cpu`): then a lesson sets up its first run.
pub fn only_host_keys(query: &str) -> bool {
    query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()).all(|p| {
        let key = p.split_once('=').map_or(p, |(k, _)| k);
        HOST_KEYS.contains(&key)
    })
}

/// Whether `key` belongs to the benchmark mode (`bench`, `bench_presets`, …:
/// `bench_options.rs`), which the run's settings leave alone.
fn is_bench_key(key: &str) -> bool {
    key == "bench" || key.starts_with("bench_")
}

/// Old links named the data `dataset`.
const ALIASES: [(&str, &str); 1] = [("dataset", "data")];

/// `?key=value&…` of every field (values are plain words and numbers; nothing needs escaping).
pub fn to_query(spec: &RunSpec) -> String {
    let parts: Vec<String> = spec.pairs().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("?{}", parts.join("&"))
}

/// Reads a query string: the preset it names (or the default), then every other key on top.
/// An unknown key or a value of the wrong type is an error naming it; the benchmark mode's keys
/// and empty queries are fine. Values that parse but are not sensible are left for
/// [`RunSpec::validate`], which the page shows next to each field.
pub fn from_query(query: &str) -> Result<RunSpec, String> {
    let pairs: Vec<(&str, &str)> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (ALIASES.iter().find(|(old, _)| *old == k).map_or(k, |(_, new)| new), v))
        .filter(|(k, _)| !is_bench_key(k) && !HOST_KEYS.contains(k))
        .collect();
    RunSpec::from_pairs(pairs).map_err(|e| format!("{} (URL key '{}')", e.message, e.field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_and_starts_from_its_preset() {
        let mut spec = from_query("?preset=d2l-lstm").unwrap();
        assert_eq!((spec.model.as_str(), spec.hidden), ("lstm", 256));
        (spec.hidden, spec.lr, spec.sampling, spec.lr_schedule) = (64, 0.5, "random".into(), "cosine:2".into());
        assert_eq!(from_query(&to_query(&spec)).unwrap(), spec);
        assert_eq!(from_query("").unwrap(), RunSpec::default());
        assert_eq!(from_query("?hidden=32&epochs=3").unwrap().hidden, 32);
        assert_eq!(from_query("?preset=toy-reverse&dataset=copy").unwrap().data, "copy", "old links still work");
        assert_eq!(from_query("?bench_layers=both").unwrap(), RunSpec::default());
        assert_eq!(from_query("?worker=0&hidden=8").unwrap().hidden, 8);
        assert!(worker_disabled("?hidden=8&worker=0") && !worker_disabled("?worker=1"));
        assert!(views_disabled("?views=0&hidden=8") && !views_disabled("?hidden=8"));
        assert_eq!(from_query("?views=0&hidden=8").unwrap().hidden, 8);
        assert_eq!(from_query("?backend=cpu&hidden=8").unwrap().hidden, 8);
        assert_eq!(backend_in_query("?hidden=8&backend=gpu"), Ok(Some("gpu")));
        assert_eq!(backend_in_query("?hidden=8"), Ok(None));
        assert!(only_host_keys("?lesson=clipping&backend=cpu&worker=0") && only_host_keys(""));
        assert!(!only_host_keys("?lesson=clipping&hidden=8"));
        assert!(backend_in_query("?backend=tpu").unwrap_err().contains("use backend=gpu, backend=cpu or backend=auto"));
        assert_eq!(lesson_name("?hidden=8&lesson=clipping").as_deref(), Some("clipping"));
        assert_eq!(from_query("?lesson=clipping&hidden=8").unwrap().hidden, 8);
        assert_eq!(lesson_name("?hidden=8"), None);
        assert!(lessons_index_first("?lessons=1", false) && lessons_index_first("", true));
        assert!(!lessons_index_first("", false) && !lessons_index_first("?hidden=8", true));
        assert_eq!(from_query("?lessons=1").unwrap(), RunSpec::default());
        assert_eq!(from_query("?cores=2&hidden=8").unwrap().hidden, 8);
        assert_eq!(cores_for(None, 2, 32), 1, "auto leaves a core for the page");
        assert_eq!(cores_for(None, 4, 32), 3);
        assert_eq!(cores_for(None, 16, 32), MAX_CORES);
        assert_eq!(cores_for(None, 16, 8), 2, "at least MIN_ROWS_PER_CORE rows each on auto");
        assert_eq!((cores_for(None, 4, 2), cores_for(None, 1, 32), cores_for(None, 0, 32)), (1, 1, 1));
        assert_eq!(cores_for(Some(3), 2, 32), 3, "asked for: as many as asked");
        assert_eq!(cores_for(Some(8), 2, 5), 5, "never more than one row each");
        assert_eq!(cores_for(Some(1), 16, 32), 1);
        assert_eq!(cores_in_query("?hidden=8&cores=3"), Ok(Some(3)));
        assert_eq!((cores_in_query("?cores=auto"), cores_in_query("")), (Ok(None), Ok(None)));
        for bad in ["0", "9", "two"] {
            let err = cores_in_query(&format!("?cores={bad}")).unwrap_err();
            assert!(err.contains("use cores=auto or a number from 1 to 8"), "{err}");
        }
    }

    #[test]
    fn a_bad_query_names_the_problem() {
        let err = from_query("?preset=d2l-transformer").unwrap_err();
        assert!(err.contains("unknown preset 'd2l-transformer'"), "{err}");
        let err = from_query("?hidden=lots").unwrap_err();
        assert!(err.contains("'lots' is not a whole number") && err.contains("'hidden'"), "{err}");
        let err = from_query("?colour=blue").unwrap_err();
        assert!(err.contains("unknown setting 'colour'"), "{err}");
    }

    #[test]
    fn settings_are_labelled_as_the_engine_declares_them() {
        assert_eq!(label("lr"), "learning rate");
        assert_eq!(label("clip"), "clipping θ");
    }

    #[test]
    fn the_page_and_the_cli_say_the_same_words_about_a_bad_value() {
        let spec = from_query("?lr=0").unwrap();
        let problems = spec.validate();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "lr");
        // The CLI prints "--lr: " and then exactly this (crates/cli/tests/cli.rs).
        assert_eq!(
            problems[0].message,
            "the learning rate must be a positive finite number (got 0); d2l uses 1 with SGD and 0.005 with Adam"
        );
        let seq = from_query("?preset=d2l-seq2seq&scheduled_sampling=2").unwrap();
        assert_eq!(seq.validate()[0].field, "scheduled_sampling");
    }
}
