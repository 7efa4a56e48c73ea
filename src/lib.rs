//! BenchBoard: a live scoreboard for load tests.
//!
//! Teams POST their cumulative load-test stats to `benchboard-serve`; every report
//! is validated ([`report`]), stored as one atomic file ([`store`]), turned into
//! derived numbers ([`metrics`]), applied to the live team state ([`board`]) and
//! fanned out to every open dashboard ([`hub`]). A report travels one way:
//!
//! ```text
//! report (parse, validate) -> store (on disk, then ack) -> metrics -> board -> hub -> server::ws
//! ```
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

pub mod alerts;
pub mod board;
pub mod client;
pub mod demo;
pub mod export;
pub mod generate;
pub mod history;
pub mod hub;
pub mod logging;
pub mod metrics;
pub mod report;
pub mod runs;
pub mod server;
pub mod simulate;
pub mod store;
pub mod team;
pub mod timefmt;
