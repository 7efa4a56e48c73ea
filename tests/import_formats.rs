//! Importing real tool outputs (tests/fixtures/import/<tool>/, each with a README
//! naming where it comes from): every fixture is recognised by `auto`, converts into a
//! report that passes today's validation, and gives the numbers computed by hand from
//! the fixture (counts exact, times converted exactly, buckets as counted or within
//! the approximation). Truncated and foreign inputs are refused with the format's name
//! and what is missing.

mod common;

use benchboard::import::{Choice, Format, ImportError, Options, convert, convert_reader};
use common::imported::{buckets, bytes, close, counts, error_of, import, import_with, map, number};
use serde_json::Value;

#[test]
fn jmeter_213_default_jtl_without_header_counts_every_sample() {
    let c = import("jmeter/default.jtl", Format::Jtl);
    // 4 threads × 20 loops × 3 samplers; "missing" answers 404, JMeter's success=false.
    assert_eq!(counts(&c.report), (240, 240, 80, 0));
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 0, 0, 1, 0, 70, 127, 33, 8, 0, 0, 0, 0]
    );
    close(number(&c.report, "/totalElapsed"), 5.13); // first start to last end, ms exact
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        78.7375,
    );
    close(
        number(&c.report, "/performanceMetrics/errorRate"),
        100.0 / 3.0,
    );
    assert!(!c.approximate);
    assert_eq!(c.report["source"]["approximate"], false);
}

#[test]
fn jmeter_labels_map_to_kinds() {
    let c = import_with(
        "jmeter/default.jtl",
        Format::Jtl,
        map(&["slow=query", "missing=sensorRW"]),
    );
    let ops = |kind: &str| {
        (
            c.report["operations"][kind]["operations"].as_u64(),
            c.report["operations"][kind]["errors"].as_u64(),
        )
    };
    assert_eq!(ops("sensorData"), (Some(80), Some(0)));
    assert_eq!(ops("query"), (Some(80), Some(0)));
    assert_eq!(ops("sensorRW"), (Some(80), Some(80)));
    assert_eq!(buckets(&c.report, "query").iter().sum::<u64>(), 80);
    close(number(&c.report, "/latencyAnalysis/query/avg"), 111.8875);
    close(number(&c.report, "/latencyAnalysis/sensorRW/avg"), 52.9375);
}

#[test]
fn jmeter_header_and_tab_delimiter_are_read_from_the_first_line() {
    let c = import("jmeter/header.jtl", Format::Jtl);
    assert_eq!(counts(&c.report), (60, 60, 20, 0));
    close(number(&c.report, "/totalElapsed"), 3.115);
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), 96.65);
    assert_eq!(
        (
            number(&c.report, "/latencyAnalysis/sensorData/min"),
            number(&c.report, "/latencyAnalysis/sensorData/max")
        ),
        (43.0, 877.0)
    );
    let c = import("jmeter/tab-delimited.jtl", Format::Jtl);
    assert_eq!(counts(&c.report), (15, 15, 5, 0));
    close(number(&c.report, "/totalElapsed"), 1.622);
}

#[test]
fn locust_json_file_buckets_come_from_its_histogram() {
    let c = import("locust/run.json", Format::LocustJson);
    // home 212, slow 223, missing 71 (all failed); histogram keys are rounded ms.
    assert_eq!(counts(&c.report), (506, 506, 71, 0));
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [25, 78, 61, 63, 65, 110, 70, 24, 10, 0, 0, 0, 0]
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        33.41281141502434,
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/min"),
        0.9920600000441482,
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        374.7749819999626,
    );
    close(
        number(&c.report, "/totalElapsed"),
        1796113996.054959 - 1796113987.2855525,
    );
    assert!(!c.approximate);
}

#[test]
fn locust_stats_csv_and_history_agree_on_the_counts() {
    let stats = import("locust/run_stats.csv", Format::LocustStats);
    assert_eq!(counts(&stats.report), (463, 463, 65, 0));
    close(
        number(&stats.report, "/totalElapsed"),
        463.0 / 57.64451595562237,
    );
    close(
        number(&stats.report, "/latencyAnalysis/sensorData/avg"),
        32.26943906695637,
    );
    assert!(stats.approximate);
    assert_eq!(
        buckets(&stats.report, "sensorData").iter().sum::<u64>(),
        463
    );
    let history = import("locust/run_stats_history.csv", Format::LocustHistory);
    assert_eq!(counts(&history.report), (463, 463, 65, 0));
    close(
        number(&history.report, "/totalElapsed"),
        1796113995.0 - 1796113987.0,
    );
    close(
        number(&history.report, "/latencyAnalysis/sensorData/avg"),
        32.26943906695637,
    );
    // Cumulative percentiles of the last row: 50 % at most 12 ms, 100 % at most 370 ms.
    let b = buckets(&history.report, "sensorData");
    assert_eq!(b[..5].iter().sum::<u64>(), 269); // F(20 ms) = 0.5 + 0.16 × 8/16 = 0.58
    assert_eq!(b[9..].iter().sum::<u64>(), 0);
}

#[test]
fn locust_full_history_uses_the_per_name_rows() {
    let c = import_with(
        "locust/full_stats_history.csv",
        Format::LocustHistory,
        map(&["missing=query"]),
    );
    assert_eq!(counts(&c.report), (168, 168, 33, 0));
    assert_eq!(c.report["operations"]["query"]["operations"], 33);
    assert_eq!(c.report["operations"]["query"]["errors"], 33);
    assert_eq!(c.report["operations"]["sensorData"]["operations"], 135);
    assert_eq!(buckets(&c.report, "query").iter().sum::<u64>(), 33);
    close(
        number(&c.report, "/latencyAnalysis/query/avg"),
        20.93775845459635,
    );
    close(number(&c.report, "/totalElapsed"), 4.0);
}

#[test]
fn locust_web_stats_skip_the_aggregated_row() {
    let c = import("locust/web_stats_requests.json", Format::LocustWeb);
    assert_eq!(counts(&c.report), (286, 286, 30, 0));
    close(
        number(&c.report, "/totalElapsed"),
        286.0 / 54.52871561445046,
    );
    assert_eq!(buckets(&c.report, "sensorData").iter().sum::<u64>(), 286);
    assert!(c.approximate);
}

#[test]
fn wrk_text_summary_counts_status_errors_and_reads_its_units() {
    let c = import("wrk/latency-missing.txt", Format::Wrk);
    assert_eq!(counts(&c.report), (236, 236, 236, 0)); // all "Non-2xx or 3xx"
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), 52.17);
    close(number(&c.report, "/latencyAnalysis/sensorData/max"), 107.62);
    close(number(&c.report, "/totalElapsed"), 236.0 / 76.63);
    // No minimum in the text: p50 - 2 × (p75 - p50) = 51.80 - 2 × 4.12.
    close(number(&c.report, "/latencyAnalysis/sensorData/min"), 43.56);
    assert!(c.approximate);
    let c = import("wrk/latency-slow.txt", Format::Wrk);
    assert_eq!(counts(&c.report), (424, 424, 0, 0));
    close(number(&c.report, "/latencyAnalysis/sensorData/max"), 597.87);
}

#[test]
fn wrk_json_line_converts_microseconds_and_keeps_wrks_histogram() {
    let c = import("wrk/json-slow.txt", Format::WrkJson);
    assert_eq!(counts(&c.report), (370, 370, 0, 0));
    close(number(&c.report, "/latencyAnalysis/sensorData/min"), 18.664);
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        604.053,
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        103.77426,
    );
    close(number(&c.report, "/totalElapsed"), 5.022835);
    // Shares at 20, 50, 100, 200, 500, 1000 ms: 1, 12, 243, 345, 369, 370 of 370.
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [0, 0, 0, 0, 1, 11, 231, 102, 24, 1, 0, 0, 0]
    );
    assert!(!c.approximate);
    let c = import("wrk/json-missing.txt", Format::WrkJson);
    assert_eq!(counts(&c.report), (253, 253, 253, 0));
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 3, 0, 0, 0, 151, 98, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn k6_ndjson_counts_each_point_and_maps_the_name_tag() {
    let c = import("k6/requests.ndjson", Format::K6Ndjson);
    assert_eq!(counts(&c.report), (6, 6, 1, 0));
    // 1, 2, 50 and 4999 ms sit on or under bounds; 7300.25 ms overflows.
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1]
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        12472.75 / 6.0,
    );
    close(number(&c.report, "/totalElapsed"), 4.0);
    close(
        number(&c.report, "/performanceMetrics/avgCompletedQPS"),
        1.5,
    );
    assert!(!c.approximate);
    let c = import_with(
        "k6/requests.ndjson",
        Format::K6Ndjson,
        map(&["POST /login=sensorRW"]),
    );
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    );
    assert_eq!(
        buckets(&c.report, "sensorRW"),
        [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    );
    assert_eq!(
        c.report["operations"]["sensorData"],
        serde_json::json!({"operations": 4, "errors": 1})
    );
    close(number(&c.report, "/latencyAnalysis/sensorRW/avg"), 2524.5);
}

#[test]
fn k6_ndjson_of_the_docs_and_tests_has_no_requests_but_converts() {
    let c = import("k6/docs-example.ndjson", Format::K6Ndjson);
    assert_eq!(counts(&c.report), (0, 0, 0, 0));
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        459.865729,
    );
    let c = import("k6/k6-test.ndjson", Format::K6Ndjson);
    assert_eq!(counts(&c.report), (0, 0, 0, 0));
}

#[test]
fn k6_summary_export_reads_percentiles_and_the_rate() {
    let c = import("k6/summary-export-docs.json", Format::K6Summary);
    assert_eq!(counts(&c.report), (180, 180, 0, 0));
    close(number(&c.report, "/totalElapsed"), 180.0 / 4.36938);
    close(number(&c.report, "/latencyAnalysis/sensorData/max"), 1140.0);
    // med 110.47, p(90) 203.54, p(95) 215.95 between min 104.11 and max 1140.
    let b = buckets(&c.report, "sensorData");
    assert_eq!(b[7], 159); // F(200) = 0.5 + 0.4 × (200 - 110.47)/(203.54 - 110.47) = 0.8848
    assert_eq!(b.iter().sum::<u64>(), 180);
    assert!(c.approximate);
    assert_eq!(c.report["source"]["approximate"], true);
}

#[test]
fn k6_handle_summary_takes_the_duration_from_state() {
    let c = import("k6/handle-summary-docs.json", Format::K6HandleSummary);
    assert_eq!(counts(&c.report), (40, 40, 0, 0));
    close(number(&c.report, "/totalElapsed"), 30.898965069);
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        268.31137452500013,
    );
}

#[test]
fn k6_machine_summary_counts_matches_or_the_rate_as_failures() {
    let c = import("k6/machine-summary-docs.json", Format::K6MachineSummary);
    assert_eq!(counts(&c.report), (180, 180, 0, 0));
    assert_eq!(c.tool_version.as_deref(), Some("1.5.0"));
    assert_eq!(c.report["source"]["tool_version"], "1.5.0");
    close(number(&c.report, "/totalElapsed"), 41.19577606);
    let c = import(
        "k6/machine-summary-schema-example.json",
        Format::K6MachineSummary,
    );
    assert_eq!(counts(&c.report), (1500, 1500, 30, 0)); // rate 0.02 × 1500
    assert_eq!(c.tool_version.as_deref(), Some("1.1.0"));
    close(number(&c.report, "/totalElapsed"), 60.0);
}

#[test]
fn k6_summaries_without_http_metrics_are_refused_naming_what_is_missing() {
    for (file, format, missing) in [
        (
            "k6/summary-export-k6-test.json",
            Format::K6Summary,
            "metrics.http_req_duration: required field is missing",
        ),
        (
            "k6/handle-summary-k6-test.json",
            Format::K6HandleSummary,
            "metrics.http_req_duration: required field is missing",
        ),
        (
            "k6/machine-summary-k6-test.json",
            Format::K6MachineSummary,
            "has no \"http_reqs\" metric",
        ),
    ] {
        let error = convert(Choice::Auto, &bytes(file), &Options::default()).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("{format} (")), "{message}");
        assert!(message.contains(missing), "{message}");
    }
}

#[test]
fn oha_converts_seconds_and_counts_404_as_failures() {
    let c = import("oha/n300-slow.json", Format::Oha);
    assert_eq!(counts(&c.report), (300, 300, 0, 0));
    close(number(&c.report, "/totalElapsed"), 6.808677332);
    assert_eq!(
        number(&c.report, "/latencyAnalysis/sensorData/min"),
        17.514932
    );
    assert_eq!(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        352.042242
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/avg"),
        90.61507171,
    );
    // The histogram's bin edges and the percentiles, interpolated at 20, 50, 100, 200 ms:
    // F(20) = 1/300 + (20 - 17.515)/(50.968 - 17.515) × 20/300 -> 2 samples; F(50) -> 20;
    // F(100) between 84.420 ms (187/300) and p75 103.978 ms -> 217; F(200) between
    // 184.779 ms (282/300) and p95 200.019 ms -> 285; the maximum 352 ms -> 300.
    assert_eq!(
        buckets(&c.report, "sensorData"),
        [0, 0, 0, 0, 2, 18, 197, 68, 15, 0, 0, 0, 0]
    );
    assert!(c.approximate);
    let c = import("oha/n200-missing.json", Format::Oha);
    assert_eq!(counts(&c.report), (200, 200, 200, 0)); // every answer a 404
}

#[test]
fn oha_deadline_aborts_are_pending_and_connection_errors_failures() {
    let c = import("oha/z3s-slow.json", Format::Oha);
    // 228 answers; 8 requests cut off when -z 3s ran out were in flight.
    assert_eq!(counts(&c.report), (236, 228, 0, 8));
    close(
        number(&c.report, "/performanceMetrics/avgSentQPS"),
        236.0 / 3.013115326,
    );
    assert_eq!(buckets(&c.report, "sensorData").iter().sum::<u64>(), 228);
    let c = import("oha/n50-refused.json", Format::Oha);
    // No answer at all: every latency field is null (NaN in oha).
    assert_eq!(counts(&c.report), (50, 50, 50, 0));
    assert_eq!(buckets(&c.report, "sensorData"), [0; 13]);
    assert_eq!(number(&c.report, "/performanceMetrics/errorRate"), 100.0);
}

#[test]
fn vegeta_failures_come_from_status_codes_and_times_from_nanoseconds() {
    let c = import("vegeta/metrics-test.json", Format::Vegeta);
    assert_eq!(counts(&c.report), (10_000, 10_000, 3333, 0)); // the 500s
    close(number(&c.report, "/totalElapsed"), 9999.01);
    close(number(&c.report, "/latencyAnalysis/sensorData/min"), 0.001);
    close(number(&c.report, "/latencyAnalysis/sensorData/avg"), 5.0005);
    close(number(&c.report, "/latencyAnalysis/sensorData/max"), 10.0);
    // Uniform from 1 µs to 10 ms: about 1000, 1000, 3000, 5000.
    assert_eq!(
        buckets(&c.report, "sensorData")[..4],
        [999, 1000, 3000, 5001]
    );
    let c = import("vegeta/readme-report.json", Format::Vegeta);
    assert_eq!(counts(&c.report), (100, 100, 0, 0));
    close(
        number(&c.report, "/totalElapsed"),
        (989999944.0 + 3507222.0) / 1e9,
    );
    close(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        3.660505,
    );
}

#[test]
fn vegeta_buckets_on_benchboard_bounds_are_exact() {
    let mut report: Value = serde_json::from_slice(&bytes("vegeta/metrics-test.json")).unwrap();
    report["buckets"] =
        serde_json::json!({"0": 1000, "1000000": 1000, "2000000": 3000, "5000000": 5000});
    let c = convert(
        Choice::Auto,
        report.to_string().as_bytes(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        buckets(&c.report, "sensorData")[..5],
        [1000, 1000, 3000, 5000, 0]
    );
    assert!(!c.approximate);
}

#[test]
fn gatling_global_stats_and_stats_js_give_the_same_report() {
    let json = import("gatling/global_stats-3.2.0.json", Format::Gatling);
    let js = import("gatling/stats-3.2.0.js", Format::Gatling);
    assert_eq!(json.report, js.report);
    assert_eq!(counts(&json.report), (3, 3, 0, 0));
    close(number(&json.report, "/totalElapsed"), 6.0); // 3 requests at 0.5/s
    close(
        number(&json.report, "/latencyAnalysis/sensorData/avg"),
        256.0,
    );
    // 87, 337 and 344 ms (simulation.log): one at most 200 ms, two at most 500 ms.
    assert_eq!(
        buckets(&json.report, "sensorData"),
        [0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]
    );
}

#[test]
fn gatling_ko_requests_are_failures() {
    let c = import("gatling/global_stats-openmrs.json", Format::Gatling);
    assert_eq!(counts(&c.report), (779_490, 779_490, 6532, 0));
    close(
        number(&c.report, "/totalElapsed"),
        779_490.0 / 68.57482185273159,
    );
    assert_eq!(
        number(&c.report, "/latencyAnalysis/sensorData/max"),
        60014.0
    );
    assert_eq!(
        buckets(&c.report, "sensorData").iter().sum::<u64>(),
        779_490
    );
}

#[test]
fn truncated_inputs_are_refused_as_truncated() {
    for (file, format) in [
        ("k6/summary-export-docs.json", Format::K6Summary),
        ("locust/run.json", Format::LocustJson),
        ("vegeta/metrics-test.json", Format::Vegeta),
        ("gatling/global_stats-3.2.0.json", Format::Gatling),
        ("gatling/stats-3.2.0.js", Format::Gatling),
        ("oha/z3s-slow.json", Format::Oha),
    ] {
        let whole = bytes(file);
        // stats.js goes on after the root stats object that is read: cut inside it.
        let cut = if file.ends_with(".js") {
            400
        } else {
            whole.len() / 2
        };
        let message = error_of(format, &whole[..cut]);
        assert!(
            message.starts_with(&format!("{format} (")),
            "{file}: {message}"
        );
        assert!(message.contains("truncated"), "{file}: {message}");
    }
}

#[test]
fn truncated_live_files_name_the_line_that_is_cut() {
    let ndjson = bytes("k6/requests.ndjson");
    let message = error_of(Format::K6Ndjson, &ndjson[..ndjson.len() - 40]);
    assert!(
        message.starts_with("k6-ndjson (k6 --out json NDJSON): line 42: not a k6 JSON output line"),
        "{message}"
    );
    let jtl = bytes("jmeter/header.jtl");
    let cut = jtl.len() - 30;
    let message = error_of(Format::Jtl, &jtl[..cut]);
    assert!(
        message
            .starts_with("jtl (JMeter JTL CSV): row 61: has 13 fields where the first line has 15"),
        "{message}"
    );
    let message = error_of(Format::Jtl, b"1796114048208,338,home,200,OK\n");
    assert!(
        message.contains("row 1: has 5 fields, no success (field 8)"),
        "{message}"
    );
    let history = bytes("locust/run_stats_history.csv");
    let message = error_of(Format::LocustHistory, &history[..history.len() - 60]);
    assert!(message.contains("is cut short"), "{message}");
}

#[test]
fn another_tools_output_is_refused_with_what_is_missing() {
    let message = error_of(Format::Oha, &bytes("vegeta/metrics-test.json"));
    assert_eq!(
        message,
        "oha (oha --output-format json): summary: required field is missing"
    );
    let message = error_of(Format::Vegeta, &bytes("locust/run_stats.csv"));
    assert!(
        message.starts_with("vegeta (vegeta report -type=json): not valid JSON"),
        "{message}"
    );
    let message = error_of(Format::Jtl, &bytes("locust/run_stats.csv"));
    assert!(
        message.contains("row 1: timeStamp \"Type\" is not a time"),
        "{message}"
    );
    let message = error_of(Format::Wrk, &bytes("jmeter/default.jtl"));
    assert!(message.contains("Running"), "{message}");
    let message = error_of(Format::LocustHistory, &bytes("locust/run_stats.csv"));
    assert!(message.contains("not Locust's history header"), "{message}");
    let message = error_of(Format::K6Ndjson, &bytes("locust/run.json"));
    assert!(
        message.contains("line 1: not a k6 JSON output line"),
        "{message}"
    );
}

#[test]
fn auto_names_no_format_for_unknown_content() {
    let error = convert(Choice::Auto, br#"{"hello": "world"}"#, &Options::default()).unwrap_err();
    assert!(matches!(error, ImportError::Unrecognised(_)));
    assert!(
        error
            .to_string()
            .starts_with("auto: the JSON an object has none of the fields"),
        "{error}"
    );
    assert!(error.to_string().contains("k6-ndjson"), "{error}");
    let error = convert(Choice::Auto, b"just some text\n", &Options::default()).unwrap_err();
    assert!(
        error.to_string().starts_with("auto: not valid JSON"),
        "{error}"
    );
    let error = convert(Choice::Auto, b"", &Options::default()).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

#[test]
fn streaming_a_file_gives_the_same_report_as_reading_it_whole() {
    for (file, format) in [
        ("k6/requests.ndjson", Format::K6Ndjson),
        ("jmeter/default.jtl", Format::Jtl),
        ("locust/full_stats_history.csv", Format::LocustHistory),
        ("locust/run.json", Format::LocustJson),
        ("wrk/json-slow.txt", Format::WrkJson),
    ] {
        let whole = convert(Choice::Auto, &bytes(file), &Options::default()).unwrap();
        // A reader that hands out 7 bytes at a time splits lines and records anywhere.
        let reader = Trickle(std::io::Cursor::new(bytes(file)));
        let streamed = convert_reader(Choice::Auto, reader, &Options::default()).unwrap();
        assert_eq!(streamed.format, format);
        assert_eq!(streamed.report, whole.report, "{file}");
    }
}

struct Trickle(std::io::Cursor<Vec<u8>>);

impl std::io::Read for Trickle {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = buffer.len().min(7);
        self.0.read(&mut buffer[..n])
    }
}
