use super::*;
use crate::board::Timing;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::WritableStore;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: WritableStore,
    board: LiveBoard,
    admin: Admin,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = WritableStore::open(&root, false).unwrap();
    let board = LiveBoard::from_store(&store, Timing::default(), 6, Hub::new(64, 4)).unwrap();
    let admin = Admin::open(&store, &board).unwrap();
    Fixture {
        _dir: dir,
        root,
        store,
        board,
        admin,
    }
}

fn id(text: &str) -> TeamId {
    TeamId::parse(text).unwrap()
}

const MINIMAL: &[u8] = include_bytes!("../../tests/fixtures/valid/minimal-12-buckets.json");

fn minimal() -> crate::report::Report {
    crate::report::Report::parse(MINIMAL).unwrap()
}

fn report(f: &Fixture, team: &str, qps: f64) -> String {
    let metrics = Metrics {
        qps,
        ..Default::default()
    };
    let stored = f
        .store
        .append(&id(team), "T", MINIMAL, minimal(), &metrics)
        .unwrap();
    f.board.apply(std::sync::Arc::clone(&stored), metrics);
    stored.file_name.clone()
}

#[test]
fn every_action_is_audited_with_its_address_and_newest_first() {
    let f = fixture();
    let file = report(&f, "t1", 5.0);
    let actions = [
        Action::Hide(id("t1")),
        Action::Show(id("t1")),
        Action::Rename(id("t1"), Some("新名字".into())),
        Action::Trash(id("t1"), file.clone()),
        Action::Restore(id("t1"), file.clone()),
        Action::ResetTeam(id("t1")),
        Action::ResetAll,
        Action::Reload,
    ];
    for action in actions {
        f.admin
            .perform(&f.store, &f.board, action, "192.0.2.7")
            .unwrap();
    }
    let entries = f.admin.audit_entries(&f.store, 100).unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "reload",
            "reset-all",
            "reset",
            "restore",
            "trash",
            "rename",
            "show",
            "hide"
        ]
    );
    assert_eq!(entries[3]["file"], file);
    assert_eq!(entries[3]["team_id"], "t1");
    assert_eq!(entries[2]["detail"]["reports"], 1);
    assert_eq!(entries[5]["detail"]["name"], "新名字");
    assert!(entries.iter().all(|e| e["from"] == "192.0.2.7"));
    assert_eq!(f.admin.audit_entries(&f.store, 2).unwrap().len(), 2);
}

#[test]
fn actions_are_pushed_to_viewers_without_the_address() {
    let f = fixture();
    report(&f, "t1", 5.0);
    let (_, mut viewer) = f.board.subscribe().unwrap();
    f.admin
        .perform(&f.store, &f.board, Action::Hide(id("t1")), "192.0.2.7")
        .unwrap();
    let messages = crate::board::presentation::tests::messages(&f.board, &mut viewer);
    assert_eq!(messages[0]["type"], "team_removed");
    assert_eq!(messages[1]["type"], "admin_action");
    assert_eq!(messages[1]["entry"]["action"], "hide");
    assert!(!messages.iter().any(|m| m.to_string().contains("192.0.2.7")));
}

#[test]
fn hidden_teams_and_names_survive_a_restart() {
    let f = fixture();
    report(&f, "t1", 5.0);
    report(&f, "t2", 5.0);
    f.admin
        .perform(&f.store, &f.board, Action::Hide(id("t1")), "a")
        .unwrap();
    f.admin
        .perform(
            &f.store,
            &f.board,
            Action::Rename(id("t2"), Some("Two".into())),
            "a",
        )
        .unwrap();
    let board = LiveBoard::from_store(&f.store, Timing::default(), 6, Hub::new(64, 4)).unwrap();
    Admin::open(&f.store, &board).unwrap();
    let shown = board.teams_json().to_json();
    assert_eq!(shown.as_array().unwrap().len(), 1);
    assert_eq!(shown[0]["team_name"], "Two");
    // A rename to nothing goes back to the reported name.
    f.admin
        .perform(&f.store, &f.board, Action::Rename(id("t2"), None), "a")
        .unwrap();
    assert_eq!(f.board.team_name(&id("t2")).unwrap(), "T");
}

#[test]
fn refused_actions_change_nothing_and_are_not_audited() {
    let f = fixture();
    report(&f, "t1", 5.0);
    let long = "x".repeat(MAX_TEAM_NAME_CHARS + 1);
    for action in [
        Action::Rename(id("t1"), Some(long)),
        Action::Trash(id("t1"), "../../etc/passwd".into()),
        Action::Trash(id("t1"), "20000101_000000_000.json".into()),
        Action::Restore(id("t1"), "20000101_000000_000.json".into()),
    ] {
        let error = f
            .admin
            .perform(&f.store, &f.board, action, "a")
            .unwrap_err();
        assert!(
            matches!(error, AdminError::BadRequest(_) | AdminError::NotFound(_)),
            "{error}"
        );
    }
    assert!(f.admin.audit_entries(&f.store, 10).unwrap().is_empty());
    assert_eq!(f.store.report_count(&id("t1")), 1);
}

#[test]
fn a_corrupt_presentation_file_is_named() {
    let f = fixture();
    fs::write(f.root.join(PRESENTATION_FILE), "{oops").unwrap();
    let error = Admin::open(&f.store, &f.board).err().unwrap();
    assert!(error.contains(PRESENTATION_FILE), "{error}");
}
