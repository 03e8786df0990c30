//! rnnplay-run, the run layer between the engine and the hosts: a run is described once
//! ([`RunSpec`]: serialisable, validated in one place, its options declared in [`fields`]),
//! built once ([`RunSpec::build`] → [`Session`]) and stepped through one API, whatever its task
//! ([`task::TaskTraining`]: the language model, the encoder–decoder). Around it: d2l's presets,
//! the lessons, the benchmark, soak runs and the PyTorch export. The CLI, the page and the tests
//! all go through here; hosts parse input and draw output. See `docs/ARCHITECTURE.md`.

pub mod bench;
pub mod clock;
pub mod export;
pub mod lessons;
pub mod presets;
pub mod soak;

pub mod data;
pub mod data_parallel;
pub mod encoder_decoder;
pub mod fields;
pub mod language;
pub mod resume;
pub mod session;
pub mod shard;
pub mod spec;
pub mod speed;
pub mod task;

pub use data::{DataFingerprint, RunData};
pub use data_parallel::sum_shares;
pub use encoder_decoder::{HeldOutScore, Seq2SeqRun, D2L_EXAMPLES};
pub use language::LanguageRun;
pub use resume::SavedRun;
pub use session::Session;
pub use shard::{Shard, MAX_SHARDS};
pub use spec::{DataSource, FieldError, RunSpec, Task, FIELDS, SEQ2SEQ_MODEL};
pub use speed::{backend_for_run, describe as describe_speeds, fastest, time_backends, BackendSpeed};
pub use task::EpochReport;
