//! The demo's live progress: indicatif bars in a terminal (one line per team and a
//! total line), plain lines when stdout is a pipe or a file.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::{TeamEvent, TeamInfo, Update};
use crate::simulate::Profile;

/// What one team has done so far.
#[derive(Debug, Clone)]
pub struct TeamTally {
    pub id: String,
    pub name: String,
    pub profile: Profile,
    /// Reports the server stored.
    pub reports: u64,
    /// `avgCompletedQPS` of the last stored report.
    pub last_qps: f64,
    /// `totalErrors` of the last stored report.
    pub errors: u64,
    /// Attempts that failed (server down, 5xx, refused).
    pub failures: u64,
    /// The last problem, cleared by the next stored report.
    pub problem: Option<String>,
}

impl TeamTally {
    fn new(info: &TeamInfo) -> TeamTally {
        TeamTally {
            id: info.id.clone(),
            name: info.name.clone(),
            profile: info.profile,
            reports: 0,
            last_qps: 0.0,
            errors: 0,
            failures: 0,
            problem: None,
        }
    }

    fn apply(&mut self, event: &TeamEvent) {
        match event {
            TeamEvent::Sent {
                completed_qps,
                errors,
                ..
            } => {
                self.reports += 1;
                self.last_qps = *completed_qps;
                self.errors = *errors;
                self.problem = None;
            }
            TeamEvent::Retrying {
                error, retry_in, ..
            } => {
                self.failures += 1;
                self.problem = Some(format!(
                    "{error}; retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ));
            }
            TeamEvent::Refused { message } => {
                self.failures += 1;
                self.problem = Some(format!("report {message}; stopped"));
            }
            TeamEvent::GaveUp { error } => self.problem = Some(error.clone()),
            TeamEvent::Finished => {}
        }
    }

    /// Who the team is: `team1 第一小组 (fast)`.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.id, self.name, self.profile.name())
    }

    /// The counts: `reports 3  QPS 2548.5  errors 7`.
    pub fn counts(&self) -> String {
        let mut text = format!(
            "reports {:>4}  QPS {:>8.1}  errors {:>6}",
            self.reports, self.last_qps, self.errors
        );
        if let Some(problem) = &self.problem {
            text.push_str("  ! ");
            text.push_str(problem);
        }
        text
    }

    /// One line with the label and the counts, for summaries and plain output.
    pub fn line(&self) -> String {
        format!("{}: {}", self.label(), self.counts())
    }
}

/// Shows the teams' progress.
pub trait Progress {
    /// Takes one team's event into account.
    fn update(&mut self, update: &Update);
    /// Leaves the final state on screen.
    fn finish(&mut self);
    /// Each team's counts, in team order.
    fn tallies(&self) -> Vec<TeamTally>;
}

/// Plain lines, one per event worth telling: for pipes, files and CI logs.
pub struct LineProgress {
    tallies: Vec<TeamTally>,
}

impl LineProgress {
    /// Plain output for these teams.
    pub fn new(teams: &[TeamInfo]) -> LineProgress {
        LineProgress {
            tallies: teams.iter().map(TeamTally::new).collect(),
        }
    }
}

impl Progress for LineProgress {
    fn update(&mut self, update: &Update) {
        let Some(tally) = self.tallies.get_mut(update.team) else {
            return;
        };
        tally.apply(&update.event);
        match &update.event {
            TeamEvent::Sent { number, .. } => println!(
                "{}: report {number} stored, QPS {:.1}, errors {}",
                tally.label(),
                tally.last_qps,
                tally.errors
            ),
            TeamEvent::Finished => {}
            _ => eprintln!(
                "{}: {}",
                tally.label(),
                tally.problem.as_deref().unwrap_or("")
            ),
        }
    }

    fn finish(&mut self) {}

    fn tallies(&self) -> Vec<TeamTally> {
        self.tallies.clone()
    }
}

/// indicatif spinners on stdout: a line per team and a total line, redrawn in place.
pub struct BarProgress {
    bars: Vec<ProgressBar>,
    total: ProgressBar,
    tallies: Vec<TeamTally>,
    // Owns the drawing of every bar; kept alive as long as they are.
    _multi: MultiProgress,
}

impl BarProgress {
    /// Bars for these teams, drawn on stdout.
    pub fn new(teams: &[TeamInfo]) -> BarProgress {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let tallies: Vec<TeamTally> = teams.iter().map(TeamTally::new).collect();
        let width = tallies
            .iter()
            .map(|t| console::measure_text_width(&t.label()))
            .max()
            .unwrap_or(0);
        let style = ProgressStyle::with_template(&format!(
            "{{spinner:.green}} {{prefix:<{width}}}  {{msg}}"
        ))
        .expect("the team line template is valid");
        let bars = tallies
            .iter()
            .map(|tally| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(tally.label());
                bar.set_message("waiting for the first report");
                bar.enable_steady_tick(Duration::from_millis(150));
                bar
            })
            .collect();
        let total_style =
            ProgressStyle::with_template("{spinner:.cyan} {msg}  [{elapsed_precise}]")
                .expect("the total line template is valid");
        let total = multi.add(ProgressBar::new_spinner().with_style(total_style));
        total.enable_steady_tick(Duration::from_millis(150));
        let mut progress = BarProgress {
            bars,
            total,
            tallies,
            _multi: multi,
        };
        progress.refresh_total();
        progress
    }

    fn refresh_total(&mut self) {
        let reports: u64 = self.tallies.iter().map(|t| t.reports).sum();
        let failures: u64 = self.tallies.iter().map(|t| t.failures).sum();
        let reporting = self.tallies.iter().filter(|t| t.reports > 0).count();
        self.total.set_message(format!(
            "total: {reports} reports from {reporting}/{} teams, {failures} failed attempts",
            self.tallies.len()
        ));
    }
}

impl Progress for BarProgress {
    fn update(&mut self, update: &Update) {
        let (Some(tally), Some(bar)) = (
            self.tallies.get_mut(update.team),
            self.bars.get(update.team),
        ) else {
            return;
        };
        tally.apply(&update.event);
        bar.set_message(tally.counts());
        self.refresh_total();
    }

    fn finish(&mut self) {
        for bar in &self.bars {
            bar.finish();
        }
        self.total.finish();
    }

    fn tallies(&self) -> Vec<TeamTally> {
        self.tallies.clone()
    }
}
