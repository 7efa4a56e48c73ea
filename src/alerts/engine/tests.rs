//! Unit tests of [`super`] (engine).

use super::*;
use crate::alerts::clock::ManualClock;
use crate::alerts::rules::{RuleConfig, check_rules};

const MINIMAL: &str = include_str!("../../../tests/fixtures/valid/minimal-12-buckets.json");

fn rules(toml_text: &str) -> Vec<Rule> {
    #[derive(serde::Deserialize)]
    struct File {
        rule: Vec<RuleConfig>,
    }
    check_rules(&toml::from_str::<File>(toml_text).unwrap().rule).unwrap()
}

use crate::report::Report;

/// The metrics of a report whose average latency is `avg_ms` (sent as totalAvgLatency).
fn metrics(avg_ms: f64) -> Metrics {
    let field = format!("\"totalAvgLatency\": {avg_ms}, \"totalElapsed\"");
    let body = MINIMAL.replacen("\"totalElapsed\"", &field, 1);
    Metrics::of(&Report::parse(body.as_bytes()).unwrap())
}

struct Setup {
    clock: Arc<ManualClock>,
    engine: AlertEngine,
    team: TeamId,
}

fn setup(toml_text: &str) -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let engine = AlertEngine::new(rules(toml_text), clock.clone(), None).unwrap();
    Setup {
        clock,
        engine,
        team: TeamId::parse("team1").unwrap(),
    }
}

impl Setup {
    fn observe(&self, avg_ms: f64) -> Vec<(Phase, Phase)> {
        let changes = self
            .engine
            .observe(&self.team, "第一小组", &metrics(avg_ms));
        changes.iter().map(|c| (c.from, c.to)).collect()
    }

    fn tick(&self) -> Vec<(Phase, Phase)> {
        self.tick_silent_since(self.clock.now())
    }

    fn tick_silent_since(&self, last_report: DateTime<FixedOffset>) -> Vec<(Phase, Phase)> {
        let teams = [TeamActivity {
            id: self.team.clone(),
            name: "第一小组".into(),
            last_report,
        }];
        self.engine
            .tick(&teams)
            .iter()
            .map(|c| (c.from, c.to))
            .collect()
    }
}

const SLOW_FOR_30S: &str =
    "[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\nfor = \"30s\"\n";

#[test]
fn a_rule_with_for_fires_only_after_holding_that_long() {
    let s = setup(SLOW_FOR_30S);
    assert_eq!(s.observe(50.0), []);
    assert_eq!(s.observe(150.0), [(Phase::Ok, Phase::Pending)]);
    s.clock.advance(Duration::from_secs(29));
    assert_eq!(s.tick(), []);
    assert_eq!(s.observe(160.0), []);
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(s.tick(), [(Phase::Pending, Phase::Firing)]);
    assert_eq!(s.engine.firing_for(&s.team)[0].value, Some(160.0));
    s.clock.advance(Duration::from_secs(5));
    assert_eq!(s.observe(80.0), [(Phase::Firing, Phase::Resolved)]);
    assert!(s.engine.firing().is_empty());
    let changes = s.engine.changes(10);
    assert_eq!(changes.len(), 3);
    let resolved = &changes[0];
    assert_eq!((resolved.value, resolved.threshold), (Some(80.0), 100.0));
    assert_eq!(resolved.condition, "avg_latency > 100");
    assert_eq!(resolved.team_name, "第一小组");
    assert_eq!(resolved.at, format_timestamp(&s.clock.now()));
    assert_eq!(
        resolved.active_since, changes[2].active_since,
        "trouble began when it went pending"
    );
}

#[test]
fn a_report_can_fire_a_pending_alert_too() {
    let s = setup(SLOW_FOR_30S);
    s.observe(150.0);
    s.clock.advance(Duration::from_secs(31));
    assert_eq!(s.observe(170.0), [(Phase::Pending, Phase::Firing)]);
}

#[test]
fn pending_that_stops_holding_goes_back_to_ok_and_starts_over() {
    let s = setup(SLOW_FOR_30S);
    s.observe(150.0);
    s.clock.advance(Duration::from_secs(20));
    assert_eq!(s.observe(90.0), [(Phase::Pending, Phase::Ok)]);
    assert_eq!(s.observe(150.0), [(Phase::Ok, Phase::Pending)]);
    s.clock.advance(Duration::from_secs(20));
    assert_eq!(s.tick(), [], "the 30 s start again");
}

#[test]
fn for_zero_fires_at_once_and_a_resolved_alert_can_fire_again() {
    let s = setup("[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\n");
    assert_eq!(s.observe(150.0), [(Phase::Ok, Phase::Firing)]);
    assert_eq!(s.observe(150.0), []);
    assert_eq!(s.observe(10.0), [(Phase::Firing, Phase::Resolved)]);
    assert_eq!(s.observe(10.0), []);
    assert_eq!(s.observe(150.0), [(Phase::Resolved, Phase::Firing)]);
}

#[test]
fn silent_fires_on_the_tick_and_a_report_resolves_it() {
    let s = setup("[[rule]]\nname = \"quiet\"\nwhen = \"silent > 60\"\nseverity = \"critical\"\n");
    let last = s.clock.now();
    s.clock.advance(Duration::from_secs(60));
    assert_eq!(s.tick_silent_since(last), []);
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(s.tick_silent_since(last), [(Phase::Ok, Phase::Firing)]);
    let firing = s.engine.firing();
    assert_eq!(
        (firing[0].value, firing[0].severity),
        (Some(61.0), Severity::Critical)
    );
    assert_eq!(s.observe(1.0), [(Phase::Firing, Phase::Resolved)]);
}

#[test]
fn rules_watch_only_their_teams_and_a_missing_metric_never_holds() {
    let s = setup(
        "[[rule]]\nname = \"other\"\nwhen = \"avg_latency > 1\"\nteams = [\"team2\"]\n\
         [[rule]]\nname = \"query\"\nwhen = \"query_p99 >= 0\"\n",
    );
    assert_eq!(s.observe(500.0), []);
}

#[test]
fn the_state_survives_a_restart_through_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::alerts::persist::path_in(dir.path());
    let clock = Arc::new(ManualClock::starting_now());
    let toml_text =
        format!("{SLOW_FOR_30S}[[rule]]\nname = \"fast\"\nwhen = \"avg_latency < 1\"\n");
    let engine = AlertEngine::new(rules(&toml_text), clock.clone(), Some(path.clone())).unwrap();
    let team = TeamId::parse("team1").unwrap();
    engine.observe(&team, "第一小组", &metrics(150.0));
    clock.advance(Duration::from_secs(30));
    engine.tick(&[]);
    engine.save_if_changed().unwrap();
    let before = (engine.firing(), engine.changes(MAX_CHANGES));
    drop(engine);

    // The second run lacks the rule "fast" and has the same "slow".
    let engine = AlertEngine::new(rules(SLOW_FOR_30S), clock.clone(), Some(path)).unwrap();
    assert_eq!((engine.firing(), engine.changes(MAX_CHANGES)), before);
    assert_eq!(engine.firing()[0].rule, "slow");
    let changes = engine.observe(&team, "第一小组", &metrics(10.0));
    assert_eq!(changes[0].to, Phase::Resolved);
}

#[test]
fn at_most_500_changes_are_kept_newest_first() {
    let s = setup("[[rule]]\nname = \"slow\"\nwhen = \"avg_latency > 100\"\n");
    for i in 0..600 {
        s.observe(if i % 2 == 0 { 150.0 } else { 50.0 });
    }
    let changes = s.engine.changes(usize::MAX);
    assert_eq!(changes.len(), MAX_CHANGES);
    assert_eq!(
        changes[0].to,
        Phase::Resolved,
        "the 600th report resolved it"
    );
}

#[test]
fn next_phase_follows_ok_pending_firing_resolved() {
    let now = crate::timefmt::now().fixed_offset();
    let ago = |s| Some(now - chrono::Duration::seconds(s));
    let d30 = Duration::from_secs(30);
    assert_eq!(next_phase(Phase::Ok, false, None, now, d30), Phase::Ok);
    assert_eq!(next_phase(Phase::Ok, true, None, now, d30), Phase::Pending);
    assert_eq!(
        next_phase(Phase::Pending, true, ago(29), now, d30),
        Phase::Pending
    );
    assert_eq!(
        next_phase(Phase::Pending, true, ago(30), now, d30),
        Phase::Firing
    );
    assert_eq!(
        next_phase(Phase::Firing, true, ago(99), now, d30),
        Phase::Firing
    );
    assert_eq!(
        next_phase(Phase::Firing, false, ago(99), now, d30),
        Phase::Resolved
    );
    assert_eq!(
        next_phase(Phase::Resolved, false, None, now, d30),
        Phase::Resolved
    );
    assert_eq!(
        next_phase(Phase::Resolved, true, None, now, Duration::ZERO),
        Phase::Firing
    );
}
