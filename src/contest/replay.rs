//! The replay of a contest: every team's stored history folded into a timeline of
//! frames ([`Window`]), with the numbers the board showed at each frame, the
//! standings under the ranking rule and every change of place (`GET /api/replay`).
//!
//! Pure functions over each team's reports as (time, [`Headline`]) pairs, oldest
//! first (the store's index: no report file is read). A report *counts* for the
//! ranking when its time is inside the contest (`[start, end)`, when there is one);
//! reports from the cutoff on (the freeze, for public readers) are left out entirely.

use super::ranking::{RankingRule, Standing, rank};
use crate::api::{RankChange, Replay, ReplayContest, ReplayOrder, ReplayPoint, ReplayTeam};
use crate::store::Headline;

/// Frames at most when the step is chosen by the server.
pub const DEFAULT_FRAMES: i64 = 2000;
/// Frames at most for a step the client gives.
pub const MAX_FRAMES: i64 = 10_000;
/// The longest range a replay covers, in ms (400 days).
pub const MAX_SPAN_MS: i64 = 400 * 24 * 3600 * 1000;
/// Latest time taken, in ms (9999-12-31T23:59:59.999Z).
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// Why a replay's parameters are refused; each message names the parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    /// `from` or `to` is neither ms since the Unix epoch nor an RFC 3339 time.
    #[error(
        "{name} must be ms since the Unix epoch or an RFC 3339 time (2026-12-01T10:00:00Z) from 1970 to 9999, got {value:?}"
    )]
    Time { name: &'static str, value: String },
    /// `step` is not a whole number of ms from 1 on.
    #[error("step must be a whole number of ms from 1 on, got {0:?}")]
    Step(String),
    /// `from` is after `to`.
    #[error("from ({from_ms} ms) is after to ({to_ms} ms)")]
    Reversed { from_ms: i64, to_ms: i64 },
    /// The range is longer than [`MAX_SPAN_MS`].
    #[error("the range from..to is {span_ms} ms long; a replay covers at most 400 days")]
    TooLong { span_ms: i64 },
    /// The step gives more than [`MAX_FRAMES`] frames.
    #[error(
        "step {step_ms} ms gives {frames} frames over this range; at most {MAX_FRAMES}: use step >= {min_step_ms}, or leave step out"
    )]
    TooManyFrames {
        step_ms: i64,
        frames: i64,
        min_step_ms: i64,
    },
}

/// A time parameter: ms since the Unix epoch, or an RFC 3339 time (a naive one is
/// read as local time, as the history tool reads it).
pub fn parse_time(name: &'static str, text: &str) -> Result<i64, ReplayError> {
    let text = text.trim();
    let ms = match text.parse::<i64>() {
        Ok(ms) => Some(ms),
        Err(_) => crate::timefmt::parse_timestamp(text).map(|at| at.timestamp_millis()),
    };
    ms.filter(|ms| (0..=MAX_TIME_MS).contains(ms))
        .ok_or_else(|| ReplayError::Time {
            name,
            value: text.chars().take(80).collect(),
        })
}

/// A step parameter in ms.
pub fn parse_step(text: &str) -> Result<i64, ReplayError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|ms| *ms >= 1)
        .ok_or_else(|| ReplayError::Step(text.chars().take(80).collect()))
}

/// The frames of a replay: `frames` times from `from_ms`, `step_ms` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    /// The last time a report is taken from (the range's end as asked).
    pub until_ms: i64,
    pub step_ms: i64,
    pub frames: i64,
}

impl Window {
    /// The frames over `from_ms..=to_ms`: with `step_ms` when given (refused beyond
    /// [`MAX_FRAMES`]), else the smallest whole second (at least 1 s) that gives at
    /// most [`DEFAULT_FRAMES`]. The last frame is at or after `to_ms`.
    pub fn new(from_ms: i64, to_ms: i64, step_ms: Option<i64>) -> Result<Window, ReplayError> {
        if from_ms > to_ms {
            return Err(ReplayError::Reversed { from_ms, to_ms });
        }
        let span_ms = to_ms - from_ms;
        if span_ms > MAX_SPAN_MS {
            return Err(ReplayError::TooLong { span_ms });
        }
        let step_ms = match step_ms {
            Some(step) => step,
            None => {
                let fitting = div_ceil(span_ms, DEFAULT_FRAMES - 1);
                div_ceil(fitting, 1000).max(1) * 1000
            }
        };
        let frames = div_ceil(span_ms, step_ms) + 1;
        if frames > MAX_FRAMES {
            return Err(ReplayError::TooManyFrames {
                step_ms,
                frames,
                min_step_ms: div_ceil(span_ms, MAX_FRAMES - 1),
            });
        }
        Ok(Window {
            from_ms,
            until_ms: to_ms,
            step_ms,
            frames,
        })
    }

    /// The time of frame `k`, in ms.
    pub fn time_of(&self, frame: i64) -> i64 {
        self.from_ms + frame * self.step_ms
    }

    /// The first frame whose time is at or after `at_ms` (0 for earlier reports).
    pub fn frame_of(&self, at_ms: i64) -> i64 {
        if at_ms <= self.from_ms {
            0
        } else {
            div_ceil(at_ms - self.from_ms, self.step_ms)
        }
    }

    /// The last frame's time, in ms.
    pub fn to_ms(&self) -> i64 {
        self.time_of((self.frames - 1).max(0))
    }
}

/// `a / b` rounded up, for `a >= 0` and `b > 0` (without overflow).
fn div_ceil(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// What a replay is made of besides the reports.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub rule: &'a RankingRule,
    pub window: Window,
    /// The contest's schedule: only reports inside `[start, end)` count for the ranking.
    pub contest: Option<ReplayContest>,
    /// Reports from this time (ms) on are left out.
    pub cutoff_ms: Option<i64>,
    /// Shown inactive after this long without a report, in ms.
    pub inactive_after_ms: i64,
}

impl Plan<'_> {
    fn shows(&self, at_ms: i64) -> bool {
        at_ms <= self.window.until_ms && self.cutoff_ms.is_none_or(|cutoff| at_ms < cutoff)
    }

    fn counts(&self, at_ms: i64) -> bool {
        self.contest
            .is_none_or(|c| (c.start_ms..c.end_ms).contains(&at_ms))
    }
}

/// One team's stored history: its reports' times (ms) and headlines, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    pub team_id: String,
    pub team_name: String,
    pub reports: Vec<(i64, Headline)>,
}

/// One team folded into frames: its points, and its standing from each frame on
/// where it changed.
struct Track {
    points: Vec<ReplayPoint>,
    standings: Vec<(i64, Standing)>,
}

/// The best records so far: the highest QPS and the lowest positive average latency.
#[derive(Default)]
struct Bests {
    qps: Option<f64>,
    latency: Option<f64>,
}

impl Bests {
    fn add(&mut self, headline: &Headline) {
        if self.qps.is_none_or(|best| headline.qps > best) {
            self.qps = Some(headline.qps);
        }
        let latency = headline.avg_latency;
        if latency > 0.0 && self.latency.is_none_or(|best| latency < best) {
            self.latency = Some(latency);
        }
    }
}

fn track(plan: &Plan, reports: &[(i64, Headline)]) -> Track {
    let mut points: Vec<(i64, ReplayPoint)> = Vec::new();
    let mut standings: Vec<(i64, Standing)> = Vec::new();
    let mut standing = Standing::default();
    let mut bests = Bests::default();
    let mut sent = 0;
    for (at_ms, headline) in reports.iter().filter(|(at, _)| plan.shows(*at)) {
        sent += 1;
        bests.add(headline);
        if plan.counts(*at_ms) {
            standing.add(plan.rule, headline, *at_ms);
        }
        // A report older than the one before (a clock set back) joins its frame.
        let frame = plan
            .window
            .frame_of(*at_ms)
            .max(points.last().map_or(0, |(f, _)| *f));
        let point = ReplayPoint(
            *at_ms,
            headline.qps,
            headline.avg_latency,
            headline.p99_latency,
            headline.data_loss_rate,
            headline.high_priority_latency,
            headline.verify_error_rate,
            bests.qps,
            bests.latency,
            sent,
            standing.score.map(|s| s.value),
            standing.qualified(),
        );
        replace_in_frame(&mut points, frame, point);
        replace_in_frame(&mut standings, frame, standing.clone());
    }
    Track {
        points: points.into_iter().map(|(_, p)| p).collect(),
        standings,
    }
}

/// Pushes `value` for `frame`, or replaces the last one when it is of the same frame.
fn replace_in_frame<T>(list: &mut Vec<(i64, T)>, frame: i64, value: T) {
    match list.last_mut() {
        Some((last, held)) if *last == frame => *held = value,
        _ => list.push((frame, value)),
    }
}

/// The replay of `teams` under `plan`: each team's points, the ranking at each frame
/// where it changed, and every change of place. Teams without a report shown are
/// left out.
pub fn build(plan: &Plan, teams: &[History]) -> Replay {
    let mut shown = Vec::new();
    let mut tracks = Vec::new();
    for history in teams {
        let track = track(plan, &history.reports);
        if !track.points.is_empty() {
            shown.push(history);
            tracks.push(track);
        }
    }
    let (orders, changes) = rankings(plan, &shown, &tracks);
    let window = &plan.window;
    Replay {
        from_ms: window.from_ms,
        to_ms: window.to_ms(),
        step_ms: window.step_ms,
        frames: window.frames as usize,
        cutoff_ms: plan.cutoff_ms,
        contest: plan.contest,
        inactive_after_ms: plan.inactive_after_ms,
        rule: plan.rule.describe(),
        fields: crate::api::REPLAY_FIELDS.map(String::from).to_vec(),
        teams: shown
            .iter()
            .zip(tracks)
            .map(|(history, track)| ReplayTeam {
                team_id: history.team_id.clone(),
                team_name: history.team_name.clone(),
                points: track.points,
            })
            .collect(),
        orders,
        changes,
    }
}

/// The ranking at each frame where a standing changed (listed when the order did),
/// and the changes of place it brought.
fn rankings(
    plan: &Plan,
    teams: &[&History],
    tracks: &[Track],
) -> (Vec<ReplayOrder>, Vec<RankChange>) {
    let mut next = vec![0usize; tracks.len()];
    let mut current: Vec<Option<Standing>> = vec![None; tracks.len()];
    let mut places: Vec<Option<usize>> = vec![None; tracks.len()];
    let mut orders: Vec<ReplayOrder> = Vec::new();
    let mut changes = Vec::new();
    // Only frames where some standing changes need a look.
    let mut frames: Vec<i64> = tracks
        .iter()
        .flat_map(|t| t.standings.iter().map(|(frame, _)| *frame))
        .collect();
    frames.sort_unstable();
    frames.dedup();
    for frame in frames {
        for (i, track) in tracks.iter().enumerate() {
            while let Some((at, standing)) = track.standings.get(next[i]) {
                if *at > frame {
                    break;
                }
                current[i] = Some(standing.clone());
                next[i] += 1;
            }
        }
        // Keyed by id (ties go by team id) and index.
        let entered: Vec<((&str, usize), Standing)> = current
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.clone().map(|s| ((teams[i].team_id.as_str(), i), s)))
            .collect();
        let ranked: Vec<usize> = rank(plan.rule, &entered)
            .into_iter()
            .map(|placing| placing.key.1)
            .collect();
        let order: Vec<String> = ranked.iter().map(|i| teams[*i].team_id.clone()).collect();
        if orders.last().is_some_and(|last| last.order == order) {
            continue;
        }
        let t = plan.window.time_of(frame);
        for (place, &i) in ranked.iter().enumerate() {
            if places[i] != Some(place + 1) {
                changes.push(RankChange {
                    t,
                    team_id: teams[i].team_id.clone(),
                    from: places[i],
                    to: place + 1,
                });
                places[i] = Some(place + 1);
            }
        }
        orders.push(ReplayOrder { t, order });
    }
    (orders, changes)
}

#[cfg(test)]
mod tests;
