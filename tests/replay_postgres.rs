//! The replay suite of tests/replay.rs, every server on PostgreSQL (its histories
//! copied into the server's database with `benchboard-history migrate`).

#[path = "replay.rs"]
mod replay;
