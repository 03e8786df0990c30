//! Which backend a run trains on in the page, and what the banner says about it.
//!
//! WebGPU is not always the faster: on a software adapter (SwiftShader and the like) this page's
//! own CPU backend is several times faster, and on a real GPU a tiny model may be too. So by
//! default ("the faster, measured") the first run of each model size times a few minibatches
//! on both (`rnnplay_run::time_backends`), trains on the faster, shows both figures, and
//! the browser remembers them per adapter and model size; “Train on” can force either. Plain
//! Rust, tested natively; the page keeps the figures in localStorage under [`storage_key`].

use rnnplay_run::{describe_speeds, fastest, BackendSpeed, RunSpec};

/// The name the measurements give each backend (what the banner shows).
pub const GPU_NAME: &str = "WebGPU";
pub const CPU_NAME: &str = "CPU";

/// What the page found.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendState {
    Detecting,
    /// WebGPU on the adapter `name`; `software` when that adapter is a renderer running on the
    /// CPU (SwiftShader and the like), where the page's own CPU backend is usually faster.
    Gpu {
        name: String,
        software: bool,
    },
    /// No WebGPU, with the reason: the CPU backend it is.
    Cpu(String),
}

/// What “Train on” says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The faster of the two, measured once per adapter and model size.
    Auto,
    Gpu,
    Cpu,
}

impl Choice {
    pub fn value(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::Gpu => "gpu",
            Choice::Cpu => "cpu",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "gpu" => Choice::Gpu,
            "cpu" => Choice::Cpu,
            _ => Choice::Auto,
        }
    }
}

/// Both backends' measured speeds on the current model, for the banner.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedNote {
    pub speeds: Vec<BackendSpeed>,
    /// Read from what this browser remembered, not measured for this run.
    pub remembered: bool,
}

/// Whether the faster of `speeds` is the CPU backend.
pub fn cpu_is_faster(speeds: &[BackendSpeed]) -> bool {
    speeds.get(fastest(speeds)).is_some_and(|s| s.backend == CPU_NAME)
}

/// How a run about to start picks its backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub use_cpu: bool,
    /// Time both backends before building the run (then `use_cpu` is replaced by the result).
    pub measure: bool,
}

/// The plan for a run of `spec`: forced, remembered (`remembered` is what this browser kept for
/// the adapter and `spec`'s model size), or to be measured.
pub fn plan(state: &BackendState, lost: bool, choice: Choice, remembered: Option<Vec<BackendSpeed>>) -> Plan {
    let forced = |use_cpu| Plan { use_cpu, measure: false };
    match (state, choice) {
        (BackendState::Gpu { .. }, _) if lost => forced(true),
        (BackendState::Gpu { .. }, Choice::Gpu) => forced(false),
        (BackendState::Gpu { .. }, Choice::Cpu) => forced(true),
        (BackendState::Gpu { .. }, Choice::Auto) => match remembered {
            Some(speeds) => Plan { use_cpu: cpu_is_faster(&speeds), measure: false },
            None => Plan { use_cpu: false, measure: true },
        },
        _ => forced(true),
    }
}

/// Where this browser keeps the speeds measured on `adapter` for `spec`'s model size.
pub fn storage_key(adapter: &str, spec: &RunSpec) -> String {
    format!("rnnplay-speeds {adapter} | {}", spec.speed_key())
}

/// Remembered speeds, checked: both backends, each a positive finite figure; `None` otherwise.
pub fn parse_remembered(text: &str) -> Option<Vec<BackendSpeed>> {
    let speeds: Vec<BackendSpeed> = serde_json::from_str(text).ok()?;
    let named = |name: &str| speeds.iter().filter(|s| s.backend == name).count() == 1;
    let sane = speeds.iter().all(|s| s.tokens_per_s.is_finite() && s.tokens_per_s > 0.0);
    (speeds.len() == 2 && named(GPU_NAME) && named(CPU_NAME) && sane).then_some(speeds)
}

/// The banner: its class, the backend it says a run uses (`data-backend`), and its sentence.
pub fn banner(
    state: &BackendState,
    lost: bool,
    use_cpu: bool,
    choice: Choice,
    note: Option<&SpeedNote>,
    measuring: bool,
) -> (&'static str, &'static str, String) {
    let BackendState::Gpu { name, software } = state else {
        return match state {
            BackendState::Cpu(reason) => ("banner warn", "cpu", format!(
                "WebGPU is not available in this browser ({reason}). Training runs on this page's own CPU backend — the same numbers. {WEBGPU_BROWSERS}."
            )),
            _ => ("banner", "gpu", "Looking for WebGPU…".into()),
        };
    };
    let kind = if use_cpu { "cpu" } else { "gpu" };
    if lost {
        return ("banner warn", "cpu", "Training on this page's own CPU backend: the WebGPU device was lost during a run. Reload the page to use WebGPU again.".into());
    }
    if measuring {
        return ("banner", kind, format!(
            "Timing a few minibatches of this model on WebGPU ({name}) and on this page's CPU backend, to train on the faster…"
        ));
    }
    match (choice, note) {
        (Choice::Auto, Some(note)) => {
            // The figures decide where the next run goes, whatever the last one used.
            let (kind, on) = if cpu_is_faster(&note.speeds) {
                ("cpu", "this page's CPU backend".to_string())
            } else {
                ("gpu", format!("WebGPU ({name})"))
            };
            let when = if note.remembered { " (measured earlier in this browser for this adapter and model size)" } else { "" };
            ("banner ok", kind, format!(
                "{} on this model: training on {on}{when}. “Train on” forces either; the numbers are the same.",
                describe_speeds(&note.speeds)
            ))
        }
        (Choice::Auto, None) => ("banner", kind, format!(
            "WebGPU is available on {name}{}. The first run of each model size times a few minibatches on WebGPU and on this page's CPU backend and trains on the faster; “Train on” forces either.",
            if *software { ", a software renderer running on the CPU" } else { "" }
        )),
        (_, _) if use_cpu => ("banner", "cpu", format!(
            "Training on this page's own CPU backend (WebGPU is available on {name}; choose it with “Train on”). Same numbers either way."
        )),
        (_, _) if *software => ("banner warn", "gpu", format!(
            "Training through WebGPU, but its adapter ({name}) is a software renderer running on the CPU: this page's own CPU backend is usually several times faster here — let “Train on” measure, or choose it."
        )),
        (_, _) => ("banner ok", "gpu", format!("Training on the GPU through WebGPU ({name}).")),
    }
}

/// What browsers offer WebGPU, for a student whose browser does not.
pub const WEBGPU_BROWSERS: &str = "WebGPU comes with Chrome and Edge 113+ on desktop, Safari 26+ and Firefox 141+ on \
     Windows; on Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu and a Vulkan driver";

#[cfg(test)]
mod tests {
    use super::*;

    fn speeds(gpu: f64, cpu: f64) -> Vec<BackendSpeed> {
        vec![
            BackendSpeed { backend: GPU_NAME.into(), tokens_per_s: gpu, steps: 3 },
            BackendSpeed { backend: CPU_NAME.into(), tokens_per_s: cpu, steps: 4 },
        ]
    }

    fn swiftshader() -> BackendState {
        BackendState::Gpu { name: "SwiftShader Device".into(), software: true }
    }

    #[test]
    fn auto_measures_once_then_follows_what_was_remembered() {
        let first = plan(&swiftshader(), false, Choice::Auto, None);
        assert_eq!(first, Plan { use_cpu: false, measure: true });
        let again = plan(&swiftshader(), false, Choice::Auto, Some(speeds(1_197.0, 17_378.0)));
        assert!(again.use_cpu && !again.measure);
        let gpu_faster = plan(&swiftshader(), false, Choice::Auto, Some(speeds(90_000.0, 17_378.0)));
        assert!(!gpu_faster.use_cpu);
    }

    #[test]
    fn a_forced_choice_a_lost_device_or_no_webgpu_measures_nothing() {
        let remembered = Some(speeds(1.0, 2.0));
        assert_eq!(
            plan(&swiftshader(), false, Choice::Gpu, remembered.clone()),
            Plan { use_cpu: false, measure: false }
        );
        assert_eq!(plan(&swiftshader(), false, Choice::Cpu, None), Plan { use_cpu: true, measure: false });
        assert!(plan(&swiftshader(), true, Choice::Auto, None).use_cpu);
        assert!(!plan(&BackendState::Cpu("no adapter".into()), false, Choice::Auto, None).measure);
    }

    #[test]
    fn the_banner_shows_both_numbers_and_the_pick() {
        let note = SpeedNote { speeds: speeds(1_197.0, 17_378.0), remembered: false };
        // The figures decide where a run goes, even before one has used the CPU.
        let (class, kind, text) = banner(&swiftshader(), false, false, Choice::Auto, Some(&note), false);
        assert_eq!((class, kind), ("banner ok", "cpu"));
        assert!(
            text.starts_with(
                "WebGPU 1 197 tokens/s, CPU 17 378 tokens/s on this model: training on this page's CPU backend."
            ),
            "{text}"
        );
        let remembered = SpeedNote { remembered: true, ..note };
        let (_, _, text) = banner(&swiftshader(), false, true, Choice::Auto, Some(&remembered), false);
        assert!(text.contains("measured earlier in this browser"), "{text}");
        let (_, _, text) = banner(&swiftshader(), false, false, Choice::Auto, None, true);
        assert!(text.starts_with("Timing a few minibatches"), "{text}");
        let (_, kind, text) = banner(&swiftshader(), false, false, Choice::Gpu, None, false);
        assert_eq!(kind, "gpu");
        assert!(text.contains("software renderer"), "{text}");
    }

    #[test]
    fn remembered_speeds_are_checked() {
        let good = serde_json::to_string(&speeds(1.0, 2.0)).unwrap();
        assert_eq!(parse_remembered(&good), Some(speeds(1.0, 2.0)));
        for bad in
            ["", "[]", "{}", &serde_json::to_string(&speeds(f64::NAN, 2.0)).unwrap(), &good.replace("CPU", "TPU")]
        {
            assert_eq!(parse_remembered(bad), None, "{bad}");
        }
        let spec = RunSpec::preset("d2l-gru").unwrap();
        assert_eq!(
            storage_key("SwiftShader Device", &spec),
            "rnnplay-speeds SwiftShader Device | gru 1x256 emb 0 batch 32x35 char"
        );
    }
}
