//! The binaries' command lines: each one's arguments, its run and what it prints.
//! The library does the work; `src/bin/*.rs` only parse, call and exit.

pub mod client;
