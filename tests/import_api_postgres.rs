//! The import tests of tests/import_api.rs, every server on PostgreSQL: an imported
//! report keeps its `source` in the database (schema 2) and gives it back in the file
//! `export --format dir` writes (`common::TestServer` gives each server of a binary
//! named `*_postgres` a fresh database of the binary's throwaway cluster).

#[path = "import_api.rs"]
mod import_api;
