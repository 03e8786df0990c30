//! The run API: a run is described once ([`RunSpec`]: serialisable, validated in one place),
//! built once ([`RunSpec::build`] → [`Session`]) and stepped through one API. The CLI, the
//! page, the benchmark and the tests all go through here; hosts parse input and draw output.

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
pub use encoder_decoder::{Seq2SeqRun, D2L_EXAMPLES};
pub use language::LanguageRun;
pub use resume::SavedRun;
pub use session::Session;
pub use shard::{Shard, MAX_SHARDS};
pub use spec::{DataSource, FieldError, RunSpec, Task, FIELDS, SEQ2SEQ_MODEL};
pub use speed::{backend_for_run, describe as describe_speeds, fastest, time_backends, BackendSpeed};
pub use task::EpochReport;
