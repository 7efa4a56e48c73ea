//! `[contest]` and `[ranking]` as `--check-config` describes them; the sections and
//! their checks live with the features ([`crate::contest::schedule`],
//! [`crate::contest::ranking`]).

use crate::contest::ranking::{Better, Counted, RankingRule};
use crate::contest::schedule::Schedule;

/// `--check-config`'s lines on `[contest]` and `[ranking]`.
pub(super) fn describe_contest(
    schedule: Option<&Schedule>,
    ranking: Option<&RankingRule>,
) -> String {
    use crate::timefmt::format_timestamp as shown;
    let mut out = match schedule {
        None => "contest: off (no [contest]): no schedule, phases or final standings\n".to_string(),
        Some(s) => {
            let mut out = format!(
                "contest: from {} to {} (server time); reports after the end are stored but not ranked\n",
                shown(&s.start),
                shown(&s.end)
            );
            out.push_str(&match s.freeze {
                Some(f) => format!(
                    "  freeze: from {} the public board shows the standings as they were\n",
                    shown(&f)
                ),
                None => "  freeze: none\n".to_string(),
            });
            out
        }
    };
    out.push_str(&match ranking {
        None => "ranking: the latest QPS, higher first (no [ranking])\n".to_string(),
        Some(rule) => {
            let d = rule.describe();
            let mut line = format!(
                "ranking: by {} ({} is better, the team's {} report), ties to who reached it first\n",
                rule.basis_text(),
                if d.better == Better::Higher { "higher" } else { "lower" },
                if d.value == Counted::Best { "best" } else { "latest" },
            );
            if !d.disqualify.is_empty() {
                line.push_str(&format!(
                    "  disqualified (ranked after the others) when: {}\n",
                    d.disqualify.join(", ")
                ));
            }
            line
        }
    });
    out
}
