//! The standings page (`index.html`) and the replay (`replay.html`).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use super::failed;
use crate::api::{self, ReplayContest};
use crate::archive::inline::{self, DATA_CLOSE, DATA_OPEN};
use crate::archive::pages::{self, Template};
use crate::archive::site::Site;
use crate::contest::ranking::{self, RankingRule, Standing};
use crate::contest::replay::{self, History, Plan, Window};
use crate::contest::schedule::Schedule;
use crate::history::HistoryError;
use crate::history::source::Source;
use crate::team::TeamId;

/// A team without a report for this long shows inactive in the replay, as on a
/// server with the default `--inactive-after`.
const INACTIVE_AFTER_MS: i64 = 300_000;

/// What the standings and the replay are made of.
pub(super) struct Contest<'a> {
    pub site: &'a Site,
    pub source: &'a Source,
    pub rule: &'a RankingRule,
    pub schedule: Option<&'a Schedule>,
    pub max_teams: usize,
    /// The newest report of all (ms): the archive's "now".
    pub now_ms: i64,
    pub teams: &'a [api::Team<'static>],
}

/// The data of the standings page: the board's snapshot with each team's rank.
#[derive(Serialize)]
struct BoardData {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    rule: ranking::RuleDescription,
    snapshot: Value,
    sparks: BTreeMap<String, api::Series>,
}

/// The data of the replay page: the `/api/replay` timeline.
#[derive(Serialize)]
struct ReplayData {
    kind: &'static str,
    root: &'static str,
    now_ms: i64,
    replay: Value,
}

impl Contest<'_> {
    /// Writes `index.html`: the board with every team in the order of `standings`.
    pub fn write_board(
        &self,
        standings: &[(TeamId, Standing)],
        sparks: BTreeMap<String, api::Series>,
    ) -> Result<(), HistoryError> {
        let ranked: Vec<Value> = ranking::rank(self.rule, standings)
            .iter()
            .filter_map(|placing| {
                let key = placing.key.as_str();
                let team = self.teams.iter().find(|t| t.team_id == key)?;
                Some(ranked_entry(team, placing.rank, placing.standing))
            })
            .collect();
        let data = BoardData {
            kind: "board",
            root: "",
            now_ms: self.now_ms,
            rule: self.rule.describe(),
            snapshot: serde_json::json!({
                "type": "snapshot",
                "teams": ranked,
                "alerts": [],
                "max_teams": self.max_teams,
                "storage_available": true,
            }),
            sparks,
        };
        self.write_page("index.html", &pages::board(self.max_teams), &data)
    }

    /// Writes `replay.html`: the timeline `/api/replay` gives, of the same reports as
    /// the pages and under the same rule as the standings.
    pub fn write_replay(&self, histories: &[History]) -> Result<(), HistoryError> {
        let replay = serde_json::to_value(self.replay(histories)?).expect("replays serialize");
        let data = ReplayData {
            kind: "replay",
            root: "",
            now_ms: self.now_ms,
            replay,
        };
        self.write_page("replay.html", &pages::replay(self.max_teams), &data)
    }

    fn replay(&self, histories: &[History]) -> Result<api::Replay, HistoryError> {
        let contest = self.schedule.map(|s| ReplayContest {
            start_ms: s.start.timestamp_millis(),
            end_ms: s.end.timestamp_millis(),
            freeze_ms: s.freeze.map(|f| f.timestamp_millis()),
        });
        // The contest's times, else the first to the last report, as /api/replay.
        let (from_ms, to_ms) = match contest {
            Some(c) => (c.start_ms, c.end_ms),
            None => histories
                .iter()
                .flat_map(|h| h.reports.iter().map(|(at, _)| *at))
                .fold((i64::MAX, i64::MIN), |(lo, hi), at| {
                    (lo.min(at), hi.max(at))
                }),
        };
        // No report at all (every one skipped): an empty timeline.
        let (from_ms, to_ms) = if from_ms > to_ms {
            (0, 0)
        } else {
            (from_ms, to_ms)
        };
        let window = Window::new(from_ms, to_ms, None)
            .map_err(|e| HistoryError::Usage(format!("cannot replay this contest: {e}")))?;
        let plan = Plan {
            rule: self.rule,
            window,
            contest,
            cutoff_ms: None,
            inactive_after_ms: INACTIVE_AFTER_MS,
        };
        Ok(replay::build(&plan, histories))
    }

    /// Writes the page `name`: `template` around `data` inlined.
    fn write_page(
        &self,
        name: &str,
        template: &Template,
        data: &impl Serialize,
    ) -> Result<(), HistoryError> {
        let mut page = self.site.file(name)?;
        let written = page
            .write_all(template.head.as_bytes())
            .and_then(|()| page.write_all(DATA_OPEN.as_bytes()))
            .and_then(|()| inline::write_json(&mut page, data))
            .and_then(|()| page.write_all(DATA_CLOSE.as_bytes()))
            .and_then(|()| page.write_all(b"\n"))
            .and_then(|()| page.write_all(template.tail.as_bytes()))
            .and_then(|()| page.flush());
        written.map_err(failed(self.site, name))
    }
}

/// A team's `/api/teams` entry with its `rank`, `score`, `qualified` and `reasons`.
fn ranked_entry(team: &api::Team<'static>, rank: usize, standing: &Standing) -> Value {
    let mut value = serde_json::to_value(team).expect("team entries serialize");
    if let Value::Object(map) = &mut value {
        map.insert("rank".into(), rank.into());
        let score = standing.score.or(standing.unqualified).map(|r| r.value);
        map.insert("score".into(), serde_json::json!(score));
        map.insert("qualified".into(), standing.qualified().into());
        map.insert(
            "reasons".into(),
            serde_json::to_value(&standing.reasons).expect("reasons serialize"),
        );
    }
    value
}
