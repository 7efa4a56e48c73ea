use super::*;
use crate::contest::ranking::RankingSection;

fn headline(qps: f64, loss: f64) -> Headline {
    Headline {
        qps,
        avg_latency: 1000.0 / qps.max(1.0),
        data_loss_rate: loss,
        ..Headline::default()
    }
}

/// A team's history from `(second, qps, loss)` triples.
fn team(id: &str, reports: &[(i64, f64, f64)]) -> History {
    History {
        team_id: id.into(),
        team_name: format!("Team {id}"),
        reports: reports
            .iter()
            .map(|(s, q, l)| (s * 1000, headline(*q, *l)))
            .collect(),
    }
}

fn plan(rule: &RankingRule, window: Window) -> Plan<'_> {
    Plan {
        rule,
        window,
        contest: None,
        cutoff_ms: None,
        inactive_after_ms: 300_000,
    }
}

fn orders(replay: &Replay) -> Vec<(i64, Vec<&str>)> {
    replay
        .orders
        .iter()
        .map(|o| (o.t / 1000, o.order.iter().map(String::as_str).collect()))
        .collect()
}

#[test]
fn default_step_is_a_whole_second_within_two_thousand_frames() {
    let w = Window::new(0, 3_600_000, None).unwrap();
    assert_eq!((w.step_ms, w.frames, w.to_ms()), (2000, 1801, 3_600_000));
    let w = Window::new(0, 5 * 3_600_000 + 1, None).unwrap();
    assert!(
        w.frames <= DEFAULT_FRAMES && w.to_ms() > 5 * 3_600_000,
        "{w:?}"
    );
    let w = Window::new(10, 10, None).unwrap();
    assert_eq!((w.step_ms, w.frames), (1000, 1));
    assert_eq!(w.frame_of(5), 0);
    let w = Window::new(0, 10_000, Some(1000)).unwrap();
    assert_eq!(
        (
            w.frame_of(0),
            w.frame_of(1),
            w.frame_of(1000),
            w.frame_of(1001)
        ),
        (0, 1, 1, 2)
    );
}

#[test]
fn refuses_absurd_ranges_and_steps_naming_the_parameter() {
    assert_eq!(
        Window::new(5, 4, None),
        Err(ReplayError::Reversed {
            from_ms: 5,
            to_ms: 4
        })
    );
    assert!(matches!(
        Window::new(0, MAX_SPAN_MS + 1, None),
        Err(ReplayError::TooLong { .. })
    ));
    let error = Window::new(0, 3_600_000, Some(1)).unwrap_err();
    assert!(error.to_string().contains("use step >= 361"), "{error}");
    assert!(Window::new(0, 3_600_000, Some(361)).is_ok());
    assert_eq!(parse_time("from", "1000"), Ok(1000));
    assert_eq!(
        parse_time("to", "2026-12-01T10:00:00Z"),
        Ok(1_796_119_200_000)
    );
    for bad in ["-1", "yesterday", "99999999999999999", ""] {
        let error = parse_time("from", bad).unwrap_err().to_string();
        assert!(error.starts_with("from must be"), "{bad}: {error}");
    }
    for bad in ["0", "-5", "1.5", "x"] {
        assert!(parse_step(bad).is_err(), "{bad}");
    }
}

#[test]
fn each_frame_keeps_the_last_report_with_the_bests_so_far() {
    let rule = RankingRule::default();
    let window = Window::new(10_000, 40_000, Some(10_000)).unwrap();
    let a = team(
        "a",
        &[
            (5, 50.0, 0.0),
            (11, 100.0, 0.0),
            (15, 80.0, 0.0),
            (20, 90.0, 0.0),
            (41, 999.0, 0.0),
        ],
    );
    let replay = build(&plan(&rule, window), &[a, team("late", &[(45, 1.0, 0.0)])]);
    assert_eq!(
        (replay.from_ms, replay.to_ms, replay.frames),
        (10_000, 40_000, 4)
    );
    assert_eq!(
        replay.teams.len(),
        1,
        "a team with no report in range is left out"
    );
    let points = &replay.teams[0].points;
    let summary: Vec<(i64, f64, Option<f64>, usize)> =
        points.iter().map(|p| (p.0 / 1000, p.1, p.7, p.9)).collect();
    // Frame 0 holds the report before `from`; (10, 20] keeps its last report, 20 s.
    assert_eq!(
        summary,
        [(5, 50.0, Some(50.0), 1), (20, 90.0, Some(100.0), 4)]
    );
    assert_eq!(points[1].8, Some(10.0), "lowest latency so far: 1000 / 100");
    assert_eq!(replay.fields.len(), 12);
}

#[test]
fn orders_and_changes_follow_the_rule_frame_by_frame() {
    let rule = RankingRule::default(); // the latest QPS
    let window = Window::new(0, 40_000, Some(10_000)).unwrap();
    let teams = [
        team("a", &[(1, 100.0, 0.0), (15, 100.0, 0.0), (35, 100.0, 0.0)]),
        team("b", &[(2, 50.0, 0.0), (12, 150.0, 0.0), (32, 40.0, 0.0)]),
        team("c", &[(25, 120.0, 0.0)]),
    ];
    let replay = build(&plan(&rule, window), &teams);
    assert_eq!(
        orders(&replay),
        [
            (10, vec!["a", "b"]),
            (20, vec!["b", "a"]),
            (30, vec!["b", "c", "a"]),
            (40, vec!["c", "a", "b"]),
        ]
    );
    let changes: Vec<(i64, &str, Option<usize>, usize)> = replay
        .changes
        .iter()
        .map(|c| (c.t / 1000, c.team_id.as_str(), c.from, c.to))
        .collect();
    assert_eq!(
        changes,
        [
            (10, "a", None, 1),
            (10, "b", None, 2),
            (20, "b", Some(2), 1),
            (20, "a", Some(1), 2),
            (30, "c", None, 2),
            (30, "a", Some(2), 3),
            (40, "c", Some(2), 1),
            (40, "a", Some(3), 2),
            (40, "b", Some(1), 3),
        ]
    );
}

#[test]
fn only_reports_inside_the_contest_count_and_none_from_the_cutoff_on() {
    let section = RankingSection {
        by: Some("qps".into()),
        disqualify: vec!["data_loss_rate > 1".into()],
        ..RankingSection::default()
    };
    let rule = section.check().unwrap(); // the best QPS, qualified reports only
    let window = Window::new(0, 50_000, Some(10_000)).unwrap();
    let teams = [
        // Its 500 came before the start, its 300 after the end: neither counts.
        team("a", &[(1, 500.0, 0.0), (15, 100.0, 0.0), (45, 300.0, 0.0)]),
        // Lossy first, then clean; its 400 is after the cutoff.
        team("b", &[(12, 900.0, 5.0), (22, 90.0, 0.0), (36, 400.0, 0.0)]),
    ];
    let plan = Plan {
        contest: Some(ReplayContest {
            start_ms: 10_000,
            end_ms: 40_000,
            freeze_ms: Some(35_000),
        }),
        cutoff_ms: Some(35_000),
        ..plan(&rule, window)
    };
    let replay = build(&plan, &teams);
    assert_eq!(replay.cutoff_ms, Some(35_000));
    assert_eq!(
        orders(&replay),
        [(10, vec!["a"]), (20, vec!["a", "b"])],
        "a unqualified b stays behind; b's 400 and a's 300 never show"
    );
    let a = &replay.teams[0].points;
    assert_eq!(a.iter().map(|p| p.0 / 1000).collect::<Vec<_>>(), [1, 15]);
    assert_eq!((a[0].10, a[0].11), (None, false), "before the start");
    assert_eq!((a[1].10, a[1].11), (Some(100.0), true));
    let b = &replay.teams[1].points;
    assert_eq!(
        b.iter().map(|p| (p.0 / 1000, p.10)).collect::<Vec<_>>(),
        [(12, None), (22, Some(90.0))]
    );
    assert!(
        replay
            .teams
            .iter()
            .flat_map(|t| &t.points)
            .all(|p| p.0 < 35_000)
    );
}
