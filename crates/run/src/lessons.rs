//! Lessons: one per idea of d2l's recurrent chapters, each a few sentences on what the student
//! will see and what to watch, and the runs that show it — where the idea is a contrast, a
//! second (or third) run that changes one thing. A run is a list of `RunSpec` settings (a
//! preset and what differs from it), so a lesson means the same runs in the page
//! (`?lesson=NAME`) and on the command line (`rnnplay lessons` prints the commands).

use crate::{FieldError, RunSpec};

/// One run of a lesson: a label and its settings, applied to the preset they name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LessonRun {
    pub label: &'static str,
    pub settings: &'static [(&'static str, &'static str)],
}

/// A lesson.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesson {
    /// The URL name (`?lesson=NAME`).
    pub name: &'static str,
    pub title: &'static str,
    /// The d2l section it follows.
    pub section: &'static str,
    /// What the student will see and what to watch, in 3 to 6 sentences.
    pub text: &'static str,
    pub runs: &'static [LessonRun],
}

impl LessonRun {
    /// The run's `RunSpec`: its preset, then its other settings.
    pub fn spec(&self) -> Result<RunSpec, FieldError> {
        RunSpec::from_pairs(self.settings.iter().copied())
    }

    /// The equivalent command line: `rnnplay train --preset P --key value …`.
    pub fn command(&self) -> String {
        let flags: Vec<String> = std::iter::once(("preset", self.preset()))
            .chain(self.settings.iter().copied().filter(|(k, _)| *k != "preset"))
            .map(|(k, v)| format!("--{} {v}", k.replace('_', "-")))
            .collect();
        format!("rnnplay train {}", flags.join(" "))
    }

    fn preset(&self) -> &'static str {
        self.settings.iter().find(|(k, _)| *k == "preset").map_or("d2l-gru", |(_, v)| v)
    }
}

/// Every lesson, in the book's order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        name: "language-model",
        title: "A language model from scratch",
        section: "9.5 RNN from scratch",
        text: "d2l's RNN from scratch reads The Time Machine one character at a time: one-hot input, a tanh hidden state of 512 units, SGD with learning rate 1 and gradient clipping at θ = 1. \
Watch the perplexity fall from about 28 (a guess among the 28 characters) toward 1 (certainty). \
Watch the free-running continuation of \"time traveller\" turn from repeated letters into words, and the teacher-forced passage turn green. \
Inside the network, look for units that switch at spaces or run across a word.",
        runs: &[LessonRun { label: "RNN from scratch", settings: &[("preset", "d2l-rnn-scratch"), ("epochs", "100")] }],
    },
    Lesson {
        name: "clipping",
        title: "Gradient clipping",
        section: "9.5.3 gradient clipping",
        text: "The same scratch RNN twice: clipped at θ = 1 as d2l does, and with θ so large (10⁶) that it never clips. \
Watch the pre-clip gradient-norm chart: whenever the norm is above θ, clipping scales the step back to length θ. \
Without clipping, a step taken on a large gradient throws the weights far, and the perplexity curve jumps. \
The gradient-through-time chart shows where the large gradients come from: the early steps of the window, where the gradient carried back through many steps piles up.",
        runs: &[
            LessonRun { label: "θ = 1", settings: &[("preset", "d2l-rnn-scratch"), ("epochs", "60")] },
            LessonRun {
                label: "no clipping (θ = 10⁶)",
                settings: &[("preset", "d2l-rnn-scratch"), ("epochs", "60"), ("clip", "1000000")],
            },
        ],
    },
    Lesson {
        name: "sampling",
        title: "Sequential partitioning against random sampling",
        section: "9.3 reading long sequences",
        text: "Minibatches of 35-character windows, taken two ways. \
Sequential partitioning lays the windows end to end, so the hidden state is carried from one minibatch to the next (detached: truncated backpropagation through time). \
Random sampling draws windows from anywhere and starts each from a zero state. \
Compare the perplexity curves, and the free-running text: the carried state gives the model context beyond 35 characters.",
        runs: &[
            LessonRun { label: "sequential", settings: &[("preset", "d2l-rnn-scratch"), ("epochs", "60")] },
            LessonRun {
                label: "random",
                settings: &[("preset", "d2l-rnn-scratch"), ("epochs", "60"), ("sampling", "random")],
            },
        ],
    },
    Lesson {
        name: "rnn-gru-lstm",
        title: "RNN, GRU and LSTM",
        section: "10.1 GRU, 10.2 LSTM",
        text: "Three concise models of 256 units on the same text with the same settings: a plain RNN, a GRU and an LSTM. \
Compare the perplexity curves, then the gradient-through-time charts: a curve rising toward step 1 means gradient from later steps reaches the early ones, a flat one that it vanished on the way — and both change as the weights train. \
Inside the network, show the GRU's update gate z (near 1 keeps the state) and the LSTM's forget gate f (near 1 keeps the cell). \
Pick a character late in the passage and compare how many steps back its prediction reaches.",
        runs: &[
            LessonRun { label: "RNN", settings: &[("preset", "d2l-rnn"), ("epochs", "100")] },
            LessonRun { label: "GRU", settings: &[("preset", "d2l-gru"), ("epochs", "100")] },
            LessonRun { label: "LSTM", settings: &[("preset", "d2l-lstm"), ("epochs", "100")] },
        ],
    },
    Lesson {
        name: "deep-dropout",
        title: "Deep RNNs and dropout",
        section: "10.3 deep recurrent networks",
        text: "A two-layer LSTM on the first 30 000 characters with a tenth held out for validation, without and with dropout between the layers. \
Watch the training and validation perplexities: without dropout the model fits the training text ever better while the held-out text stops improving. \
Dropout makes training harder and the gap narrower. \
Inside the network, the layer choice shows both layers' states.",
        runs: &[
            LessonRun {
                label: "no dropout",
                settings: &[("preset", "d2l-deep-lstm"), ("epochs", "40"), ("max_tokens", "30000"), ("valid_fraction", "0.1")],
            },
            LessonRun {
                label: "dropout 0.3",
                settings: &[
                    ("preset", "d2l-deep-lstm"),
                    ("epochs", "40"),
                    ("max_tokens", "30000"),
                    ("valid_fraction", "0.1"),
                    ("dropout", "0.3"),
                ],
            },
        ],
    },
    Lesson {
        name: "learning-rate",
        title: "Learning rate and StepLR",
        section: "12.11 learning rate scheduling",
        text: "The GRU with d2l's constant learning rate 1, and with PyTorch's StepLR halving it every 20 epochs. \
Watch the perplexity curves: the constant rate makes fast progress and then jitters, the decayed rate settles lower. \
The progress line shows the rate each epoch trains with.",
        runs: &[
            LessonRun { label: "constant lr 1", settings: &[("preset", "d2l-gru"), ("epochs", "80")] },
            LessonRun {
                label: "StepLR 20 × 0.5",
                settings: &[("preset", "d2l-gru"), ("epochs", "80"), ("lr_schedule", "step:20:0.5")],
            },
        ],
    },
    Lesson {
        name: "temperature",
        title: "Temperature: greedy against sampled text",
        section: "9.5 prediction",
        text: "One GRU, trained once; the lesson is in how its predictions are read. \
Greedy decoding (temperature 0) always takes the most likely character and soon repeats itself. \
Sampling from softmax(logits / T) with T = 1 writes varied text; T = 2 flattens the distribution into nonsense, T = 0.5 sharpens it. \
Set the free-running temperature and press Predict now, and slide the temperature under a picked position to see its bars reshape.",
        runs: &[LessonRun { label: "GRU", settings: &[("preset", "d2l-gru"), ("epochs", "100")] }],
    },
    Lesson {
        name: "teacher-forcing",
        title: "Teacher forcing against free-running, and scheduled sampling",
        section: "10.7 sequence to sequence (teacher forcing)",
        text: "An encoder–decoder learns to reverse short sequences, trained with teacher forcing — the decoder is fed the true previous token — and then with scheduled sampling, which feeds it its own guess half of the time. \
Compare the translations: teacher forcing trains the decoder on inputs it never sees when it runs free, so one early mistake can derail the rest (exposure bias). \
Scheduled sampling trains it on its own mistakes. \
For a language model the same gap shows in the prediction panel: the teacher-forced passage against the free-running one.",
        runs: &[
            LessonRun { label: "teacher forcing", settings: &[("preset", "toy-reverse"), ("epochs", "10")] },
            LessonRun {
                label: "scheduled sampling 0.5",
                settings: &[("preset", "toy-reverse"), ("epochs", "10"), ("scheduled_sampling", "0.5")],
            },
        ],
    },
    Lesson {
        name: "seq2seq",
        title: "Sequence to sequence",
        section: "10.7 sequence to sequence learning",
        text: "d2l's GRU encoder–decoder translates English to French on the fra-eng pairs. \
The encoder reads the source; its final state starts the decoder and is fed to it at every step as the context. \
The decoder is trained on <bos> followed by the target without its last word, and the loss is masked so padding counts for nothing. \
Watch the per-token cross-entropy, the BLEU of each example, and the teacher-forced view of each reference; inside the encoder–decoder, pick a target word to see which source words it depends on.",
        runs: &[LessonRun { label: "GRU encoder–decoder", settings: &[("preset", "d2l-seq2seq")] }],
    },
];

/// The lesson named `name`.
pub fn lesson(name: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|l| l.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_runs_valid_specs_and_says_what_to_watch() {
        assert!(LESSONS.len() >= 9);
        for each in LESSONS {
            let sentences = each.text.matches(". ").count() + 1;
            assert!((3..=6).contains(&sentences), "{}: {sentences} sentences", each.name);
            assert!(!each.runs.is_empty());
            for run in each.runs {
                let spec = run.spec().unwrap_or_else(|e| panic!("{} / {}: {}", each.name, run.label, e.message));
                assert!(spec.validate().is_empty(), "{} / {}: {:?}", each.name, run.label, spec.validate());
                assert!(run.command().starts_with("rnnplay train --preset "));
            }
            // A contrast changes something: no two runs of a lesson are the same run.
            let specs: Vec<RunSpec> = each.runs.iter().map(|r| r.spec().unwrap()).collect();
            for (i, a) in specs.iter().enumerate() {
                assert!(specs[i + 1..].iter().all(|b| b != a), "{}: two runs are the same", each.name);
            }
            assert_eq!(lesson(each.name).map(|l| l.title), Some(each.title));
        }
        assert_eq!(
            lesson("clipping").unwrap().runs[1].command(),
            "rnnplay train --preset d2l-rnn-scratch --epochs 60 --clip 1000000"
        );
    }
}
