//! Unit tests of [`super`] (report).

use super::*;

const MINIMAL: &str = include_str!("../../tests/fixtures/valid/minimal-12-buckets.json");

fn with(path_value: (&str, &str)) -> String {
    MINIMAL.replacen(path_value.0, path_value.1, 1)
}

fn error_of(body: &str) -> String {
    Report::parse(body.as_bytes()).unwrap_err().to_string()
}

#[test]
fn parses_minimal_report_and_pads_buckets() {
    let report = Report::parse(MINIMAL.as_bytes()).unwrap();
    assert_eq!(report.total_sent, 1000);
    assert_eq!(report.sensor_data_latency().buckets[12], 0);
    assert_eq!(report.sensor_data_latency().buckets[0], 100);
    assert!(report.high_priority.is_none());
}

#[test]
fn names_bucket_path_in_error() {
    let body = with(("[100, 200, 150, 80", "[100, 200, 150, \"x\""));
    assert_eq!(
        error_of(&body),
        "latencyAnalysis.sensorData.buckets[3]: expected an integer of at most 64 bits, found a string"
    );
}

#[test]
fn accepts_negative_counts_and_buckets_as_sent() {
    let body = with(("[100, 200, 150, 80", "[100, 200, 150, -80"));
    let body = body.replacen("\"totalErrors\": 20", "\"totalErrors\": -5", 1);
    let report = Report::parse(body.as_bytes()).unwrap();
    assert_eq!(report.sensor_data_latency().buckets[3], -80);
    assert_eq!(report.total_errors, -5);
    assert_eq!(report.value["totalErrors"], -5);
}

#[test]
fn refuses_booleans_and_numeric_strings_as_counts() {
    let body = with(("\"totalSent\": 1000", "\"totalSent\": true"));
    assert_eq!(
        error_of(&body),
        "totalSent: expected an integer of at most 64 bits, found true"
    );
    let body = with(("\"totalSent\": 1000", "\"totalSent\": \"1000\""));
    assert!(error_of(&body).starts_with("totalSent: expected an integer"));
    let body = with(("\"totalElapsed\": 60", "\"totalElapsed\": \"60\""));
    assert!(error_of(&body).starts_with("totalElapsed: expected a finite number"));
}

#[test]
fn names_missing_field() {
    let body = with(("\"totalSent\": 1000,", ""));
    assert_eq!(error_of(&body), "totalSent: required field is missing");
}

#[test]
fn refuses_deep_nesting_but_not_brackets_in_strings() {
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert_eq!(
        Report::parse(deep.as_bytes()).unwrap_err(),
        ValidationError::TooDeep
    );
    let body = with((
        "\"totalElapsed\": 60,",
        "\"note\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", \"totalElapsed\": 60,",
    ));
    assert!(Report::parse(body.as_bytes()).is_ok());
}

#[test]
fn refuses_overflowing_number_and_non_utf8() {
    let body = with(("\"totalElapsed\": 60", "\"totalElapsed\": 1e400"));
    assert!(error_of(&body).starts_with("invalid JSON"));
    assert!(matches!(
        Report::parse(b"{\"a\": \"\xff\"}"),
        Err(ValidationError::NotUtf8(7))
    ));
}

#[test]
fn accepts_every_64_bit_integer_exactly_and_refuses_wider_ones() {
    let body = with((
        "[100, 200, 150",
        "[18446744073709551615, 18446744073709551615, -9223372036854775808",
    ));
    let report = Report::parse(body.as_bytes()).unwrap();
    let buckets = report.sensor_data_latency().buckets;
    assert_eq!(buckets[0], Count::from(u64::MAX));
    assert_eq!(buckets[2], Count::from(i64::MIN));
    let body = with(("\"totalSent\": 1000", "\"totalSent\": 9007199254740993"));
    assert_eq!(
        Report::parse(body.as_bytes()).unwrap().total_sent,
        9007199254740993
    );
    let body = with(("\"totalSent\": 1000", "\"totalSent\": 18446744073709551616"));
    assert_eq!(
        error_of(&body),
        "totalSent: expected an integer of at most 64 bits, found 1.8446744073709552e+19"
    );
}

#[test]
fn accepts_integral_floats_as_counts() {
    let body = with(("\"totalSent\": 1000", "\"totalSent\": 1000.0"));
    assert_eq!(Report::parse(body.as_bytes()).unwrap().total_sent, 1000);
    let body = with(("\"totalSent\": 1000", "\"totalSent\": 1000.5"));
    assert!(error_of(&body).starts_with("totalSent: expected an integer"));
    let body = with(("\"totalSent\": 1000", "\"totalSent\": -1e3"));
    assert_eq!(Report::parse(body.as_bytes()).unwrap().total_sent, -1000);
}
