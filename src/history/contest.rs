//! The contest's rules for `benchboard-history`: the `[ranking]` rule and the
//! `[contest]` schedule of `--config FILE`, or else those of the `--server` (from
//! `GET /api/contest`). `best` follows the rule; `show` marks reports after the end.

use std::path::Path;

use crate::config::ContestFile;
use crate::contest::live::ContestAnswer;
use crate::contest::ranking::{RankingRule, RankingSection, RuleDescription};
use crate::contest::schedule::Schedule;
use crate::contest::standings::Rules;
use crate::history::HistoryError;
use crate::history::source::Source;
use crate::timefmt;

/// What a contest file or a server says about the contest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContestRules {
    /// `[ranking]`; `None`: the original's order.
    pub ranking: Option<RankingRule>,
    /// `[contest]`; `None`: every report counts.
    pub schedule: Option<Schedule>,
}

impl ContestRules {
    /// The rules of `--config FILE`, else of the server (an older server without
    /// `/api/contest` has none), else none.
    pub fn find(config: Option<&Path>, source: &Source) -> Result<ContestRules, HistoryError> {
        if let Some(path) = config {
            let file = ContestFile::load(path).map_err(|e| HistoryError::Usage(e.to_string()))?;
            return Ok(ContestRules {
                ranking: file.ranking,
                schedule: file.schedule,
            });
        }
        match source {
            Source::Remote(remote) => Ok(remote
                .contest()
                .map(|answer| of_answer(&answer))
                .transpose()?
                .unwrap_or_default()),
            Source::Local(_) => Ok(ContestRules::default()),
        }
    }

    /// The rules a standing is built under, when there are any: the `[ranking]` rule
    /// (or the original's with only a schedule).
    pub fn rules(&self) -> Option<Rules> {
        (self.ranking.is_some() || self.schedule.is_some()).then(|| Rules {
            rule: self.ranking.clone().unwrap_or_default(),
            schedule: self.schedule,
        })
    }

    /// Whether a report with this stored timestamp arrived after the end.
    pub fn after_end(&self, timestamp: &str) -> bool {
        self.schedule
            .zip(timefmt::parse_timestamp(timestamp))
            .is_some_and(|(s, at)| s.after_end(at))
    }
}

/// The server's answer as rules (checked as a contest file's would be).
fn of_answer(answer: &ContestAnswer) -> Result<ContestRules, HistoryError> {
    let bad = |what: String| HistoryError::Usage(format!("the server's /api/contest: {what}"));
    let ranking = answer
        .ranking
        .as_ref()
        .map(|d| section_of(d).check().map_err(|e| bad(e.to_string())))
        .transpose()?;
    let schedule = match &answer.contest {
        None => None,
        Some(c) => {
            let time = |t: &str| {
                timefmt::parse_timestamp(t).ok_or_else(|| bad(format!("{t:?} is not a time")))
            };
            let freeze = c.freeze.as_deref().map(time).transpose()?;
            Some(Schedule::new(time(&c.start)?, time(&c.end)?, freeze).map_err(bad)?)
        }
    };
    Ok(ContestRules { ranking, schedule })
}

/// The `[ranking]` section a rule description stands for.
fn section_of(d: &RuleDescription) -> RankingSection {
    RankingSection {
        by: d.by.clone(),
        score: d.score.clone(),
        better: Some(d.better),
        value: d.value,
        disqualify: d.disqualify.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_rule_reads_back_as_the_same_rule() {
        let section: RankingSection = toml::from_str(
            "score = \"qps * (1 - data_loss_rate / 100)\"\nvalue = \"latest\"\ndisqualify = [\"p99_latency > 200\"]\n",
        )
        .unwrap();
        let rule = section.check().unwrap();
        assert_eq!(section_of(&rule.describe()).check().unwrap(), rule);
    }
}
