//! The API suite of tests/api.rs, every server on PostgreSQL: `common::TestServer`
//! gives each server of a test binary whose name ends in `_postgres` a fresh database
//! of the binary's throwaway cluster (tests/common/pg.rs).

#[path = "api.rs"]
mod api;
