//! Unit tests of [`super`] (plausibility).

use super::*;

const MINIMAL: &str = include_str!("../../../tests/fixtures/valid/minimal-12-buckets.json");

fn report(replacements: &[(&str, &str)]) -> Report {
    let mut body = MINIMAL.to_string();
    for (from, to) in replacements {
        assert!(body.contains(from), "{from} not in the fixture");
        body = body.replacen(from, to, 1);
    }
    Report::parse(body.as_bytes()).unwrap()
}

fn codes(warnings: &[Warning]) -> Vec<(WarningCode, &str)> {
    warnings
        .iter()
        .map(|w| (w.code, w.field.as_str()))
        .collect()
}

#[test]
fn codes_print_as_they_serialize() {
    for code in [
        WarningCode::NegativeCount,
        WarningCode::P99BelowAverage,
        WarningCode::MoreWarnings,
    ] {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
}

#[test]
fn plausible_fixtures_get_no_warning() {
    for body in [
        MINIMAL,
        include_str!("../../../tests/fixtures/valid/full-13-buckets.json"),
        include_str!("../../../tests/fixtures/valid/nulls-and-extras.json"),
        include_str!("../../../tests/fixtures/valid/empty-buckets.json"),
    ] {
        let report = Report::parse(body.as_bytes()).unwrap();
        assert_eq!(check(&report, None), vec![], "{body}");
    }
}

/// The original tool's own data directory: the only finding is that its error
/// counts go down between two reports of one run (real, and worth a warning).
#[test]
fn original_data_warns_only_of_error_counts_going_down() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/original-data");
    let mut found = Vec::new();
    for team in ["team1", "team2"] {
        let mut names: Vec<_> = std::fs::read_dir(format!("{dir}/{team}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.ends_with("latest.json"))
            .collect();
        names.sort();
        let mut previous: Option<Report> = None;
        for path in names {
            let file: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let report = Report::from_value(file["stats"].clone()).unwrap();
            for w in check(&report, previous.as_ref()) {
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                found.push((team, name, w.code, w.field));
            }
            previous = Some(report);
        }
    }
    for (_, _, code, field) in &found {
        assert_eq!(*code, WarningCode::CounterWentDown, "{found:?}");
        assert!(field.to_lowercase().contains("errors"), "{found:?}");
    }
    assert!(
        found.contains(&(
            "team1",
            "20250801_100015_153.json".into(),
            WarningCode::CounterWentDown,
            "totalErrors".into()
        )),
        "{found:?}"
    );
}

#[test]
fn negative_total_errors_of_the_original_suite_is_a_warning_on_its_field() {
    let body = include_str!("../../../tests/fixtures/valid/negative-errors.json");
    let warnings = check(&Report::parse(body.as_bytes()).unwrap(), None);
    assert_eq!(
        codes(&warnings),
        [(WarningCode::NegativeCount, "totalErrors")]
    );
    assert_eq!(
        warnings[0].message,
        "totalErrors is -5: a count cannot be negative"
    );
}

#[test]
fn negative_and_huge_buckets_are_named_by_index() {
    let r = report(&[("[100, 200, 150", "[100, -200, 9007199254740993")]);
    assert_eq!(
        codes(&check(&r, None)),
        [
            (
                WarningCode::NegativeCount,
                "latencyAnalysis.sensorData.buckets[1]"
            ),
            (
                WarningCode::BeyondJsPrecision,
                "latencyAnalysis.sensorData.buckets[2]"
            ),
            (
                WarningCode::BucketsDisagree,
                "latencyAnalysis.sensorData.buckets"
            ),
            // Nearly all requests now sit in the 2-5 ms bucket.
            (
                WarningCode::P99BelowAverage,
                "latencyAnalysis.sensorData.buckets"
            ),
        ]
    );
}

#[test]
fn optional_high_priority_counts_are_checked_too() {
    let body = include_str!("../../../tests/fixtures/valid/full-13-buckets.json");
    let r = Report::parse(
        body.replacen(
            "\"highPriorityBuckets\": [80",
            "\"highPriorityBuckets\": [-7",
            1,
        )
        .as_bytes(),
    )
    .unwrap();
    assert!(
        codes(&check(&r, None)).contains(&(
            WarningCode::NegativeCount,
            "latencyAnalysis.sensorData.highPriorityBuckets[0]"
        )),
        "{:?}",
        check(&r, None)
    );
}

#[test]
fn exactly_2_pow_53_is_still_exact() {
    let r = report(&[("\"totalSent\": 1000", "\"totalSent\": 9007199254740992")]);
    assert_eq!(check(&r, None), vec![]);
}

#[test]
fn more_completed_and_pending_than_sent() {
    let r = report(&[("\"pending\": 15", "\"pending\": 21")]);
    assert_eq!(
        codes(&check(&r, None)),
        [(WarningCode::MoreDoneThanSent, "totalOps")]
    );
}

#[test]
fn a_counter_that_went_down_within_a_run_is_named() {
    let previous = report(&[]);
    let now = report(&[
        ("\"totalElapsed\": 60", "\"totalElapsed\": 61"),
        ("\"totalErrors\": 20", "\"totalErrors\": 19"),
        ("\"errors\": 10", "\"errors\": 9"),
    ]);
    assert_eq!(
        codes(&check(&now, Some(&previous))),
        [
            (WarningCode::CounterWentDown, "totalErrors"),
            (WarningCode::CounterWentDown, "operations.sensorData.errors"),
        ]
    );
    assert!(
        check(&now, Some(&previous))[0]
            .message
            .contains("from 20 to 19")
    );
}

#[test]
fn counters_that_drop_with_a_new_run_are_no_warning() {
    let previous = report(&[]);
    let restarted = report(&[
        ("\"totalElapsed\": 60", "\"totalElapsed\": 5"),
        ("\"totalErrors\": 20", "\"totalErrors\": 1"),
        ("\"avgCompletedQPS\": 16.3", "\"avgCompletedQPS\": 196"),
    ]);
    assert_eq!(check(&restarted, Some(&previous)), vec![]);
}

#[test]
fn qps_far_from_ops_over_elapsed() {
    let r = report(&[("\"avgCompletedQPS\": 16.3", "\"avgCompletedQPS\": 163")]);
    let warnings = check(&r, None);
    assert_eq!(
        codes(&warnings),
        [(
            WarningCode::QpsDisagrees,
            "performanceMetrics.avgCompletedQPS"
        )]
    );
    assert!(
        warnings[0].message.contains("16.333"),
        "{}",
        warnings[0].message
    );
}

#[test]
fn avg_outside_min_max_and_p99_below_avg() {
    let r = report(&[("\"avg\": 45.2", "\"avg\": 300")]);
    assert_eq!(
        codes(&check(&r, None)),
        [
            (
                WarningCode::AvgOutsideRange,
                "latencyAnalysis.sensorData.avg"
            ),
            (
                WarningCode::P99BelowAverage,
                "latencyAnalysis.sensorData.buckets"
            ),
        ]
    );
}

#[test]
fn many_warnings_are_capped_with_a_count_of_the_rest() {
    let r = report(&[
        (
            "[100, 200, 150, 80, 50, 20, 10, 5, 2, 1, 0, 0]",
            "[-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]",
        ),
        ("\"totalErrors\": 20", "\"totalErrors\": -1"),
        ("\"pending\": 15", "\"pending\": -1"),
        (
            "\"totalSaveDelayErrors\": 5",
            "\"totalSaveDelayErrors\": -1",
        ),
    ]);
    let warnings = check(&r, None);
    assert_eq!(warnings.len(), MAX_WARNINGS);
    let last = warnings.last().unwrap();
    assert_eq!(last.code, WarningCode::MoreWarnings);
    // 16 negative counts + the buckets' sum: 15 listed, 2 left out.
    assert_eq!(
        last.message,
        "2 more warnings about this report are not listed"
    );
}
