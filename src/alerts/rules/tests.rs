//! Unit tests of [`super`] (rules).

use super::*;

fn rule(toml_text: &str) -> Result<Vec<Rule>, String> {
    #[derive(Deserialize)]
    struct File {
        rule: Vec<RuleConfig>,
    }
    let file: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    check_rules(&file.rule).map_err(|e| e.to_string())
}

#[test]
fn parses_the_issue_example() {
    let rules = rule(
        r#"
        [[rule]]
        name = "P99 under 200 ms"
        when = "p99_latency > 200"
        for = "30s"
        teams = ["*"]
        severity = "critical"
        "#,
    )
    .unwrap();
    assert_eq!(rules[0].condition.metric, Metric::P99Latency);
    assert_eq!(rules[0].condition.op, Op::Gt);
    assert_eq!(rules[0].condition.threshold, 200.0);
    assert_eq!(rules[0].hold_for, Duration::from_secs(30));
    assert_eq!(rules[0].teams, TeamFilter::All);
    assert_eq!(rules[0].severity, Severity::Critical);
    assert_eq!(rules[0].condition.to_string(), "p99_latency > 200");
}

#[test]
fn defaults_are_every_team_at_once_as_a_warning() {
    let rules = rule("[[rule]]\nname = \"slow\"\nwhen = \"avg_latency>=50.5\"\n").unwrap();
    assert_eq!(rules[0].hold_for, Duration::ZERO);
    assert_eq!(rules[0].teams, TeamFilter::All);
    assert_eq!(rules[0].severity, Severity::Warning);
    assert_eq!(rules[0].condition.op, Op::Ge);
    let rules = rule("[[rule]]\nname = \"n\"\nwhen = \"qps < 10\"\nfor = 0\n").unwrap();
    assert_eq!(rules[0].hold_for, Duration::ZERO);
}

#[test]
fn every_kind_percentile_in_both_spellings() {
    for (name, kind, q) in [
        ("sensorData_p999", "sensorData", Quantile::P999),
        ("sensor_data_p50", "sensorData", Quantile::P50),
        ("batch_rw_p90", "batchRW", Quantile::P90),
        ("query_p99", "query", Quantile::P99),
        ("sensorRW_p99", "sensorRW", Quantile::P99),
    ] {
        assert_eq!(
            Metric::parse(name),
            Some(Metric::Percentile(kind, q)),
            "{name}"
        );
    }
    assert_eq!(Metric::parse("sensorData_p95"), None);
    assert_eq!(Metric::parse("other_p99"), None);
}

#[test]
fn refuses_anything_but_metric_op_number() {
    for (when, wanted) in [
        ("p99 > 200", "unknown metric \"p99\""),
        ("p99_latency 200", "expected an operator"),
        (
            "p99_latency > ",
            "expected a finite number after \">\", found \"\"",
        ),
        ("p99_latency > 200 ms", "found \"200 ms\""),
        ("p99_latency > 200 && qps < 3", "found \"200 && qps < 3\""),
        ("p99_latency > inf", "found \"inf\""),
        ("p99_latency => 200", "expected an operator"),
        ("> 200", "expected `metric op number`"),
        ("silent < 60", "use `silent > N`"),
    ] {
        let error = Condition::parse(when).unwrap_err();
        assert!(error.contains(wanted), "{when}: {error}");
    }
}

#[test]
fn refuses_bad_sections_naming_the_rule() {
    let base = "[[rule]]\nname = \"r\"\nwhen = \"qps < 1\"\n";
    for (extra, wanted) in [
        (
            "for = \"soon\"",
            "[[rule]] \"r\": for: \"soon\" is not a duration",
        ),
        ("teams = []", "teams: the list is empty"),
        ("teams = [\"*\", \"a\"]", "list it alone"),
        ("teams = [\"../x\"]", "teams: \"../x\""),
        ("severity = \"fatal\"", "unknown variant `fatal`"),
        ("colour = \"red\"", "unknown field `colour`"),
    ] {
        let error = rule(&format!("{base}{extra}\n")).unwrap_err();
        assert!(error.contains(wanted), "{extra}: {error}");
    }
    let twice = format!("{base}{base}");
    assert_eq!(
        rule(&twice).unwrap_err(),
        "[[rule]] \"r\" is defined twice: rule names must be unique"
    );
    let nameless = "[[rule]]\nname = \" \"\nwhen = \"qps < 1\"\n";
    assert!(
        rule(nameless)
            .unwrap_err()
            .contains("number 1: name must be")
    );
}

#[test]
fn a_team_list_matches_only_its_teams() {
    let rules =
        rule("[[rule]]\nname = \"r\"\nwhen = \"qps < 1\"\nteams = [\"a\", \"b\"]\n").unwrap();
    assert!(rules[0].teams.matches(&TeamId::parse("b").unwrap()));
    assert!(!rules[0].teams.matches(&TeamId::parse("c").unwrap()));
}

use crate::report::Report;

#[test]
fn values_come_from_the_metrics_and_the_report() {
    let body = include_str!("../../../tests/fixtures/valid/full-13-buckets.json");
    let report = Report::parse(body.as_bytes()).unwrap();
    let metrics = Metrics::of(&report);
    let value = |name| Metric::parse(name).unwrap().value(&metrics);
    assert_eq!(value("p99_latency"), Some(metrics.p99_latency));
    assert_eq!(value("qps"), Some(metrics.qps));
    assert_eq!(value("query_p50"), Some(metrics.percentiles[3].1.p50));
    assert_eq!(value("verify_error_rate"), report.total_verify_error_rate);
    assert_eq!(value("silent"), None);
    let minimal = include_str!("../../../tests/fixtures/valid/minimal-12-buckets.json");
    let report = Report::parse(minimal.as_bytes()).unwrap();
    let metrics = Metrics::of(&report);
    assert_eq!(Metric::parse("query_p50").unwrap().value(&metrics), None);
}
