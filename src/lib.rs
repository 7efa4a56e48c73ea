//! BenchBoard: a live scoreboard for load tests.
//!
//! Teams POST their cumulative load-test stats to `benchboard-serve`; every report
//! is validated ([`report`]), turned into derived numbers ([`metrics`]), stored as
//! one atomic file with those numbers in the index ([`store`]), applied to the live
//! team state ([`board`]) and fanned out to every open dashboard ([`hub`],
//! [`server`]). A report travels one way (`server::App::ingest`):
//!
//! ```text
//! report (parse, validate) -> metrics -> store (on disk, then ack) -> board -> hub -> server::ws
//! ```
//!
//! What is stored is read back through [`query`] (pages, summary, series, best
//! records, every report in a range), written out by [`export`] and
//! [`history`] (`benchboard-history`), in the JSON shapes of [`api`].
//!
//! Every step is a plain type or function that can be used without a socket:
//!
//! ```
//! let body = br#"{"totalElapsed": 10, "totalSent": 100, "totalOps": 90, "totalErrors": 1,
//!   "totalSaveDelayErrors": 0, "pending": 5,
//!   "operations": {"sensorData": {"operations": 90, "errors": 1}},
//!   "performanceMetrics": {"avgSentQPS": 10, "avgCompletedQPS": 9, "errorRate": 1.1},
//!   "latencyAnalysis": {"sensorData": {"avg": 3.5, "min": 1, "max": 9,
//!     "buckets": [10, 20, 30, 20, 10, 0, 0, 0, 0, 0, 0, 0]}}}"#;
//! let report = benchboard::report::Report::parse(body).unwrap();
//! let metrics = benchboard::metrics::Metrics::of(&report);
//! assert_eq!(metrics.data_loss_rate, 5.0);
//! ```

// A report's way, in order: parsed and checked, its numbers derived, stored, shown
// live, fanned out to the viewers; the server ties the steps together.
pub mod report;

pub mod runs;

pub mod team;

pub mod metrics;

pub mod store;

pub mod board;

pub mod hub;

pub mod clock;

pub mod alerts;

pub mod contest;

pub mod server;

// Who may report, administer and watch: the contest file, tokens, the organiser's actions.
pub mod config;

pub mod auth;

pub mod admin;

// What is stored, read back: the wire format, the questions, the exports, the CLI.
pub mod api;

pub mod query;

pub mod export;

/// The contest as a static site: the board's pages with their data inlined.
pub mod archive;
pub mod history;

// Sending reports, and the tools around them; each binary's arguments and run.
pub mod client;

pub mod import;

pub mod stop;

pub mod simulate;

pub mod generate;

pub mod demo;

pub mod cli;

// Shared helpers.
pub mod logging;

pub mod timefmt;
