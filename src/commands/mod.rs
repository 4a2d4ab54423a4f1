//! One module per subcommand.

pub mod bench;
pub mod check_config;
pub mod train_local;
pub mod verify;
