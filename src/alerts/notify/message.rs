//! The words of a message, in Chinese or English, shared by the chat platforms.

use super::{Language, Notice};
use crate::alerts::engine::{Change, Phase};
use crate::alerts::rules::Severity;

/// Most changes one message lists; the rest are counted ("and 3 more").
pub const MAX_LISTED: usize = 20;

/// A message as lines of plain text: a title, one line per change, the board link.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub title: String,
    pub lines: Vec<String>,
    /// "看板：" / "Board: ", shown before the link.
    pub link_label: String,
    pub link: String,
}

impl Text {
    /// Every line, the link last, joined by newlines.
    pub fn plain(&self) -> String {
        let mut out = self.title.clone();
        for line in &self.lines {
            out.push('\n');
            out.push_str(line);
        }
        out.push('\n');
        out.push_str(&self.link_label);
        out.push_str(&self.link);
        out
    }
}

/// The text of `notice` in `language`, its lines fitted into `max_bytes` (the
/// platform's limit for the whole text): changes that do not fit are counted.
pub fn text(notice: &Notice<'_>, language: Language, max_bytes: usize) -> Text {
    let zh = language == Language::Zh;
    let (title, mut lines) = if notice.test {
        let title = if zh {
            "BenchBoard 测试消息"
        } else {
            "BenchBoard test message"
        };
        let line = if zh {
            "通知渠道配置正确：告警会发到这里。"
        } else {
            "This destination is set up: alerts will arrive here."
        };
        (title.to_string(), vec![line.to_string()])
    } else {
        (
            title(notice.changes, zh),
            notice.changes.iter().map(|c| line(c, zh)).collect(),
        )
    };
    let link_label = if zh { "看板：" } else { "Board: " }.to_string();
    let mut left_out = notice.left_out;
    let fixed = title.len() + link_label.len() + notice.board_url.len() + 64;
    let mut used = fixed;
    let mut kept = 0;
    for line in &lines {
        if used + line.len() + 1 > max_bytes {
            break;
        }
        used += line.len() + 1;
        kept += 1;
    }
    left_out += lines.len() - kept;
    lines.truncate(kept);
    if left_out > 0 {
        lines.push(if zh {
            format!("……另有 {left_out} 条未列出，请查看看板")
        } else {
            format!("… and {left_out} more, see the board")
        });
    }
    Text {
        title,
        lines,
        link_label,
        link: notice.board_url.to_string(),
    }
}

fn title(changes: &[Change], zh: bool) -> String {
    let firing = changes.iter().filter(|c| c.to == Phase::Firing).count();
    let resolved = changes.len() - firing;
    match (changes, zh) {
        ([one], true) if one.to == Phase::Firing => format!("BenchBoard 告警：{}", one.rule),
        ([one], true) => format!("BenchBoard 告警恢复：{}", one.rule),
        ([one], false) if one.to == Phase::Firing => format!("BenchBoard alert: {}", one.rule),
        ([one], false) => format!("BenchBoard alert resolved: {}", one.rule),
        (_, true) => format!("BenchBoard 告警：{firing} 条触发，{resolved} 条恢复"),
        (_, false) => format!("BenchBoard alerts: {firing} firing, {resolved} resolved"),
    }
}

fn line(change: &Change, zh: bool) -> String {
    let value = number(change.value);
    let at = local_time(&change.at);
    let team = &change.team_name;
    let id = &change.team_id;
    let (rule, condition) = (&change.rule, &change.condition);
    match (change.to == Phase::Firing, zh) {
        (true, true) => {
            let severity = match change.severity {
                Severity::Warning => "警告",
                Severity::Critical => "严重",
            };
            format!("【{severity}】{team}（{id}）触发「{rule}」：{condition}，当前 {value}（{at}）")
        }
        (false, true) => format!(
            "【恢复】{team}（{id}）「{rule}」已恢复：当前 {value}，条件 {condition}（{at}）"
        ),
        (true, false) => {
            let severity = change.severity.as_str().to_uppercase();
            format!("[{severity}] {team} ({id}) fired \"{rule}\": {condition}, now {value} ({at})")
        }
        (false, false) => {
            format!(
                "[RESOLVED] {team} ({id}) \"{rule}\" is back to normal: now {value}, condition {condition} ({at})"
            )
        }
    }
}

/// A value with at most two decimals (`250.35`, `200`); `-` when there is none.
pub fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) => {
            let text = format!("{v:.2}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// `2025-08-01 10:00:05` from an RFC 3339 time (as it was, in its own offset).
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// At most `max_chars` characters of `text`, with `…` when cut.
pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A change as the engine makes them.
    pub(crate) fn change(rule: &str, team_name: &str, to: Phase, value: f64) -> Change {
        Change {
            rule: rule.into(),
            severity: Severity::Critical,
            condition: "p99_latency > 200".into(),
            metric: "p99_latency".into(),
            threshold: 200.0,
            team_id: "team1".into(),
            team_name: team_name.into(),
            from: if to == Phase::Firing {
                Phase::Pending
            } else {
                Phase::Firing
            },
            to,
            value: Some(value),
            at: "2025-08-01T10:00:05.123+08:00".into(),
            active_since: Some("2025-08-01T09:59:30.000+08:00".into()),
        }
    }

    fn notice(changes: &[Change]) -> Notice<'_> {
        Notice {
            changes,
            left_out: 0,
            board_url: "http://board.example/",
            test: false,
        }
    }

    #[test]
    fn one_firing_alert_in_chinese_and_english() {
        let changes = [change(
            "P99 under 200 ms",
            "第一小组",
            Phase::Firing,
            250.346,
        )];
        let zh = text(&notice(&changes), Language::Zh, 10_000);
        assert_eq!(zh.title, "BenchBoard 告警：P99 under 200 ms");
        assert_eq!(
            zh.lines,
            [
                "【严重】第一小组（team1）触发「P99 under 200 ms」：p99_latency > 200，当前 250.35（2025-08-01 10:00:05）"
            ]
        );
        assert_eq!(
            zh.plain().lines().last(),
            Some("看板：http://board.example/")
        );
        let en = text(&notice(&changes), Language::En, 10_000);
        assert_eq!(
            en.lines,
            [
                "[CRITICAL] 第一小组 (team1) fired \"P99 under 200 ms\": p99_latency > 200, now 250.35 (2025-08-01 10:00:05)"
            ]
        );
    }

    #[test]
    fn lines_beyond_the_size_limit_are_counted() {
        let changes: Vec<Change> = (0..10)
            .map(|i| change(&format!("r{i}"), "t", Phase::Resolved, 1.0))
            .collect();
        let en = text(&notice(&changes), Language::En, 600);
        assert_eq!(en.title, "BenchBoard alerts: 0 firing, 10 resolved");
        let last = en.lines.last().unwrap();
        assert!(
            last.starts_with("… and ") && last.ends_with(" more, see the board"),
            "{last}"
        );
        assert!(en.plain().len() <= 600, "{}", en.plain().len());
    }

    #[test]
    fn numbers_and_clipping() {
        assert_eq!(number(Some(200.0)), "200");
        assert_eq!(number(Some(0.5)), "0.5");
        assert_eq!(number(None), "-");
        assert_eq!(clip("第一小组", 2), "第一…");
        assert_eq!(clip("ok", 2), "ok");
    }
}
