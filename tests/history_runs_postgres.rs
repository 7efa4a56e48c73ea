//! The runs suite of tests/history_runs.rs on PostgreSQL: each server gets a fresh
//! database of the binary's throwaway cluster (tests/common/pg.rs), and
//! `benchboard-history` reads it with `--store`.

#[path = "history_runs.rs"]
mod history_runs;
