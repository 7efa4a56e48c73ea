//! The admin suite of tests/admin_api.rs, every server on PostgreSQL: each gets a
//! fresh database of the binary's throwaway cluster (tests/common/pg.rs), where the
//! trash, the hidden teams and names and the audit log are tables.

#[path = "admin_api.rs"]
mod admin_api;
