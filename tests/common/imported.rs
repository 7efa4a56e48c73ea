//! Converting the tool outputs of `tests/fixtures/import/` in tests: by `auto` and by
//! name (both must agree and pass today's validation), and reading the report's numbers.

use std::path::PathBuf;

use benchboard::import::{Choice, Converted, Format, KindMap, Options, convert};
use benchboard::report::Report;
use serde_json::Value;

pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(relative)
}

pub fn bytes(relative: &str) -> Vec<u8> {
    std::fs::read(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Converts a fixture by `auto`, checks the format found and today's validation.
pub fn import(relative: &str, format: Format) -> Converted {
    import_with(relative, format, Options::default())
}

pub fn import_with(relative: &str, format: Format, options: Options) -> Converted {
    let converted = convert(Choice::Auto, &bytes(relative), &options)
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    assert_eq!(converted.format, format, "{relative}");
    let body = serde_json::to_vec(&converted.report).unwrap();
    Report::parse(&body).unwrap_or_else(|e| panic!("{relative}: the report fails validation: {e}"));
    let named = convert(Choice::Format(format), &bytes(relative), &options).unwrap();
    assert_eq!(
        named.report, converted.report,
        "{relative}: auto and --format {format} differ"
    );
    converted
}

pub fn map(entries: &[&str]) -> Options {
    Options {
        map: KindMap::parse(entries).unwrap(),
    }
}

pub fn counts(report: &Value) -> (u64, u64, u64, u64) {
    let n = |key: &str| report[key].as_u64().unwrap();
    (
        n("totalSent"),
        n("totalOps"),
        n("totalErrors"),
        n("pending"),
    )
}

pub fn buckets(report: &Value, kind: &str) -> Vec<u64> {
    report["latencyAnalysis"][kind]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect()
}

pub fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} in {report}"))
}

pub fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

pub fn error_of(format: Format, input: &[u8]) -> String {
    convert(Choice::Format(format), input, &Options::default())
        .unwrap_err()
        .to_string()
}
