//! The flags of `rnnplay train` that describe a run: a preset, then any flag overrides it. They
//! map onto the engine's `RunSpec` (flag `--some-key` is the spec's field `some_key`), which
//! checks every value and says what is wrong in the same words the page uses.

use anyhow::{bail, Result};
use clap::Args;
use rnnplay_run::fields::{Input, SETTINGS};
use rnnplay_run::presets::{PRESETS, SEQ2SEQ_PRESETS};
use rnnplay_run::{DataSource, FieldError, RunSpec};

/// The most tokens one prediction generates.
pub const MAX_GENERATED: usize = 100_000;

/// Parses a count of tokens to generate: 1 to [`MAX_GENERATED`].
pub fn generation_length(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_GENERATED).contains(&n) => Ok(n),
        _ => Err(format!("'{text}' is not a length from 1 to {MAX_GENERATED} tokens")),
    }
}

/// Parses a flag's number that must fit an f32, with `RunSpec::set`'s check and words.
pub fn f32_value(text: &str) -> Result<f32, String> {
    rnnplay_run::spec::parse_number(text).map(|value| value as f32)
}

/// The backends a command can open.
const BACKENDS: [&str; 3] = ["auto", "gpu", "cpu"];

/// Parses `--backend` (or `RNNPLAY_BACKEND`).
pub(crate) fn backend_name(text: &str) -> Result<String, String> {
    match BACKENDS.iter().find(|&&name| name == text.trim()) {
        Some(name) => Ok(name.to_string()),
        None => Err("--backend (or RNNPLAY_BACKEND) must be auto, gpu or cpu".into()),
    }
}

/// `--backend`, shared by every command that opens a backend.
#[derive(Args, Debug, Clone)]
pub struct BackendArg {
    /// gpu, cpu or auto: the GPU when an adapter exists (train: time a few minibatches on both
    /// and take the faster). Default: RNNPLAY_BACKEND, else auto.
    #[arg(long = "backend", id = "backend", value_name = "BACKEND", env = "RNNPLAY_BACKEND", default_value = "auto", value_parser = backend_name)]
    pub name: String,
}

/// The preset of a run that names none.
pub const DEFAULT_PRESET: &str = "d2l-gru";

/// `rnnplay train --list-presets` text.
pub fn describe_presets() -> String {
    PRESETS
        .iter()
        .map(|p| {
            format!(
                "{:<18} {:<13} hidden {:<4} layers {}  lr {}  d2l {}",
                p.name, p.model, p.hidden, p.layers, p.lr, p.section
            )
        })
        .chain(SEQ2SEQ_PRESETS.iter().map(|p| {
            format!(
                "{:<18} {:<13} hidden {:<4} layers {}  lr {}  {} on {}",
                p.name, "seq2seq", p.hidden, p.layers, p.lr, p.section, p.data
            )
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every setting of a run as a flag, made from the engine's one declaration of the settings
/// (`rnnplay_run::fields::SETTINGS`): `--key-with-dashes VALUE` with that setting's
/// help. Values stay text here (a negative number too), so that `RunSpec::set` and `validate`
/// judge every one of them and the message names the flag.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    /// (setting, value) of every flag given, in the declaration's order.
    given: Vec<(&'static str, String)>,
}

impl clap::Args for RunArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        SETTINGS.iter().fold(command, |command, field| {
            let value_name = match field.input {
                Input::Choice(choices) => choices.join("|"),
                Input::Text => field.key.to_uppercase(),
            };
            command.arg(
                clap::Arg::new(field.key)
                    .long(flag(field.key).trim_start_matches("--").to_string())
                    .value_name(value_name)
                    .help(field.help)
                    .allow_negative_numbers(true)
                    .action(clap::ArgAction::Set),
            )
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl clap::FromArgMatches for RunArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }

    fn from_arg_matches_mut(matches: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        let given = SETTINGS.iter().filter_map(|f| matches.remove_one::<String>(f.key).map(|v| (f.key, v))).collect();
        Ok(Self { given })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// The flag that sets a spec field.
fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// A spec problem in the CLI's words: the flag, then the engine's message.
fn flag_error(error: &FieldError) -> String {
    format!("{}: {}", flag(error.field), error.message)
}

impl RunArgs {
    /// The value given for the setting `key`, if any.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.given.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// (spec field, value) of every flag given but `--preset`.
    fn overrides(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.given.iter().filter(|(key, _)| *key != "preset").map(|(key, value)| (*key, value.as_str()))
    }

    /// `spec` with every given flag (but `--preset`) set on it; a value that does not parse is
    /// named with its flag.
    fn apply(&self, spec: &mut RunSpec) -> Result<()> {
        for (field, value) in self.overrides() {
            if !spec.applies(field) {
                let (what, instead) = if spec.is_seq2seq() {
                    ("language models", "use --num-examples, --data")
                } else {
                    ("encoder-decoder presets (d2l-seq2seq, toy-reverse)", "see --list-presets")
                };
                bail!("{} applies to {what}, not to --preset {} ({instead})", flag(field), spec.preset);
            }
            spec.set(field, value).map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
            // A file is recorded by its absolute path: a saved run then finds it again from any
            // directory, and its messages say which file it was.
            if let DataSource::Text(path) = spec.source() {
                if let Ok(absolute) = std::path::absolute(&path).map(|p| p.display().to_string()) {
                    if std::path::Path::new(&path).is_file() {
                        spec.data = absolute;
                    }
                }
            }
        }
        Ok(())
    }

    /// The preset with every given flag applied, checked: every bad value is named, with its
    /// flag, in one message.
    pub fn spec(&self) -> Result<RunSpec> {
        let mut spec = RunSpec::preset(self.value("preset").unwrap_or(DEFAULT_PRESET))
            .map_err(|e| anyhow::anyhow!(flag_error(&e)))?;
        self.apply(&mut spec)?;
        let problems = spec.validate();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(flag_error).collect::<Vec<_>>().join("\n"));
        }
        Ok(spec)
    }

    /// The spec of a run resumed from `saved`: its own, with `--epochs` (the epochs in all) if
    /// given. Any other flag must repeat the saved value exactly; one that would change the run
    /// is refused, naming it.
    pub fn resumed_spec(&self, saved: &RunSpec) -> Result<RunSpec> {
        let mut asked = saved.clone();
        self.apply(&mut asked)?;
        let mut changing: Vec<String> = self
            .overrides()
            .filter(|&(field, _)| field != "epochs" && asked.get(field) != saved.get(field))
            .map(|(field, _)| flag(field))
            .collect();
        if self.value("preset").is_some_and(|name| name != saved.preset) {
            changing.insert(0, flag("preset"));
        }
        if !changing.is_empty() {
            bail!(
                "--resume continues the saved run exactly as it was; {} would change it (drop {}, or train a new run)",
                changing.join(", "),
                if changing.len() == 1 { "it" } else { "them" }
            );
        }
        let problems = asked.validate();
        if !problems.is_empty() {
            bail!("{}", problems.iter().map(flag_error).collect::<Vec<_>>().join("\n"));
        }
        Ok(asked)
    }
}
