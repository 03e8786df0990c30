//! The run API: a run is described once ([`RunSpec`]: serialisable, validated in one place),
//! built once ([`RunSpec::build`] → [`Session`]) and stepped through one API. The CLI, the
//! page, the benchmark and the tests all go through here; hosts parse input and draw output.

pub mod resume;
pub mod session;
pub mod shards;
pub mod spec;
pub mod speed;

pub use resume::SavedRun;
pub use session::{EpochReport, LanguageRun, RunData, Seq2SeqRun, Session, TaskRun, D2L_EXAMPLES};
pub use shards::{sum_shares, Shard, MAX_SHARDS};
pub use spec::{DataSource, FieldError, RunSpec, Task, FIELDS, SEQ2SEQ_MODEL};
pub use speed::{describe as describe_speeds, fastest, time_backends, BackendSpeed};
