//! One module per command of `benchboard-history`; each has a `run`.

pub mod archive;
pub mod best;
pub mod export;
pub mod migrate;
pub mod ranked;
pub mod show;
pub mod summary;
pub mod teams;
