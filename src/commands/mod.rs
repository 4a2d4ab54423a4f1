//! One module per subcommand.

pub mod bench;
pub mod bench_run;
pub mod check_config;
pub mod claim;
pub mod coordinate;
pub mod demo;
pub mod eval;
pub mod inspect;
pub mod ledger_args;
pub mod recording;
pub mod report;
pub mod simulate;
pub mod train;
pub mod train_local;
pub mod train_progress;
pub mod verify;
pub mod verify_records;
