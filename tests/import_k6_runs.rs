//! Outputs of real k6 runs (k6 v1.1.0, `tests/fixtures/import/k6/run/`, made by
//! `scripts/tool-fixtures.sh k6`): the one run's `--summary-export`, `handleSummary`
//! data and `--out json` NDJSON give the same counts, the NDJSON's exact latencies
//! agree with the summaries' average, and a run against a closed port counts every
//! request as sent, completed and failed. Expected numbers are computed by hand from
//! the files (the NDJSON's Points read one by one).

mod common;

use benchboard::import::Format;
use common::imported::{buckets, close, counts, import, import_with, map, number};

/// 4 VUs share 20 iterations of GET /, /slow and /missing (404): 60 requests, 20 failed.
const RUN: (u64, u64, u64, u64) = (60, 60, 20, 0);

/// `avg` of `http_req_duration` in both summaries, and the mean of the NDJSON's 60 samples.
const AVG_MS: f64 = 61.581034416666675;

#[test]
fn ndjson_of_a_real_run_counts_every_point_exactly() {
    let c = import("k6/run/out.ndjson", Format::K6Ndjson);
    assert_eq!(counts(&c.report), RUN);
    // Each of the 60 http_req_duration Points in its bucket (bounds 1, 2, 5, 10, 20, 50,
    // 100, 200, 500 ms …): min 0.522725, max 277.044757.
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 3, 0, 0, 0, 34, 15, 5, 2, 0, 0, 0, 0]
    );
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), AVG_MS);
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        277.044757,
    );
    // First http_reqs Point 10:23:35.135267119, last 10:23:36.121157556.
    close(number(&c.report, "/totalElapsed"), 0.985890437);
    close(
        number(&c.report, "/performanceMetrics/errorRate"),
        100.0 / 3.0,
    );
    assert!(!c.approximate);
}

#[test]
fn ndjson_name_tags_map_to_kinds() {
    let c = import_with(
        "k6/run/out.ndjson",
        Format::K6Ndjson,
        map(&["missing=sensorRW", "slow=query"]),
    );
    assert_eq!(counts(&c.report), RUN);
    let ops = |kind: &str| c.report["operations"][kind].clone();
    assert_eq!(
        ops("sensorRW"),
        serde_json::json!({"operations": 20, "errors": 20})
    );
    assert_eq!(
        ops("query"),
        serde_json::json!({"operations": 20, "errors": 0})
    );
    assert_eq!(
        ops("sensorData"),
        serde_json::json!({"operations": 20, "errors": 0})
    );
    assert_eq!(
        buckets(&c.report, "sensorRW"),
        [0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        buckets(&c.report, "query"),
        [0, 0, 0, 0, 0, 0, 13, 5, 2, 0, 0, 0, 0]
    );
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 3, 0, 0, 0, 14, 2, 0, 0, 0, 0, 0, 0]
    );
    close(
        number(&c.report, "/latencyAnalysis/query/avg"),
        104.35891645,
    );
}

#[test]
fn summary_export_of_the_same_run_approximates_from_its_percentiles() {
    let c = import("k6/run/summary-export.json", Format::K6Summary);
    assert_eq!(counts(&c.report), RUN);
    // http_reqs: count 60, rate 60.718614886471464 per second.
    close(
        number(&c.report, "/totalElapsed"),
        60.0 / 60.718614886471464,
    );
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), AVG_MS);
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        277.044757,
    );
    let b = buckets(&c.report, "sensorData");
    assert_eq!(b.iter().sum::<u64>(), 60);
    let upto = |k: usize| b[..=k].iter().sum::<u64>();
    // med 44.224083, p(90) 102.0917426: F(50) = 0.5 + 0.4 × 5.775917 / 57.8676596 =
    // 0.5399, 32.4 of 60 (the samples say 38).
    assert_eq!(upto(5), 32);
    // p(95) 145.72617835, p(99) 241.00166998: F(200) = 0.95 + 0.04 × 0.56966 = 0.97279,
    // 58.4 of 60 (the samples say 58).
    assert_eq!(upto(7), 58);
    assert_eq!(upto(8), 60, "nothing above the max, 277 ms");
    assert!(c.approximate);
    assert_eq!(c.report["source"]["approximate"], true);
}

#[test]
fn handle_summary_of_the_same_run_takes_its_duration_from_state() {
    let c = import("k6/run/handle-summary.json", Format::K6HandleSummary);
    assert_eq!(counts(&c.report), RUN);
    close(number(&c.report, "/totalElapsed"), 0.988164834); // testRunDurationMs 988.164834
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), AVG_MS);
    assert!(c.approximate);
}

#[test]
fn refused_connections_are_sent_completed_and_failed() {
    let c = import("k6/run/refused-summary-export.json", Format::K6Summary);
    // 5 iterations × 3 requests to a closed port: http_req_failed passes 15, fails 0.
    assert_eq!(counts(&c.report), (15, 15, 15, 0));
    close(number(&c.report, "/performanceMetrics/errorRate"), 100.0);
    assert_eq!(buckets(&c.report, "sensorData").iter().sum::<u64>(), 15);
    assert_eq!(
        buckets(&c.report, "sensorData")[0],
        15,
        "k6 times them 0 ms"
    );
}
