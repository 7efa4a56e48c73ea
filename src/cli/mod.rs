//! The binaries' command lines: each one's arguments, its run and what it prints.
//! The library does the work; `src/bin/*.rs` only parse, call and exit.
//! (`benchboard-history`'s command line lives with its commands in [`crate::history`].)

pub mod client;
pub mod demo;
pub mod import;
pub mod parse;
pub mod serve;
