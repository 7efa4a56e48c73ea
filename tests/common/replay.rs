//! Hand-made histories for the replay's tests: report files written in the original
//! tool's layout (`data/<team>/<YYYYMMDD_HHMMSS_fff>.json`) at chosen times, served by
//! a server on that data directory, or (in a `_postgres` test binary) copied into the
//! server's database with `benchboard-history migrate`.

use std::path::Path;

use chrono::{DateTime, Local, TimeZone, Utc};
use serde_json::{Value, json};

use super::{TestServer, fixture};

/// One report of a hand-made history: its time (ms since the Unix epoch), its
/// completed QPS and its failure rate (%).
pub type At = (i64, f64, f64);

/// A valid report with this completed QPS and failure rate; latency 1000 / QPS ms.
pub fn report(qps: f64, loss_pct: f64) -> Value {
    let text = std::fs::read_to_string(fixture("valid/full-13-buckets.json")).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let sent = 100_000i64;
    let lost = (sent as f64 * loss_pct / 100.0).round() as i64;
    value["totalSent"] = json!(sent);
    value["pending"] = json!(0);
    value["totalOps"] = json!(sent - lost);
    value["performanceMetrics"]["avgCompletedQPS"] = json!(qps);
    value["totalAvgLatency"] = json!(1000.0 / qps.max(1.0));
    value
}

/// Writes `reports` of a team as report files of the original's layout under `data`.
pub fn write_history(data: &Path, team: &str, name: &str, reports: &[At]) {
    let dir = data.join(team);
    std::fs::create_dir_all(&dir).unwrap();
    for (at_ms, qps, loss) in reports {
        let at: DateTime<Local> = Utc
            .timestamp_millis_opt(*at_ms)
            .unwrap()
            .with_timezone(&Local);
        let file = dir.join(format!("{}.json", benchboard::timefmt::file_stem(&at)));
        let contents = json!({
            "team_id": team,
            "team_name": name,
            "timestamp": benchboard::timefmt::format_timestamp(&at.fixed_offset()),
            "stats": report(*qps, *loss),
        });
        std::fs::write(file, serde_json::to_vec_pretty(&contents).unwrap()).unwrap();
    }
}

/// A server whose store holds these teams' histories: (id, name, reports).
pub fn server_with(teams: &[(&str, &str, &[At])]) -> TestServer {
    server_configured(teams, |_| {})
}

/// [`server_with`], its config changed by `adjust` (a contest file, ...).
pub fn server_configured(
    teams: &[(&str, &str, &[At])],
    adjust: impl FnOnce(&mut benchboard::server::Config),
) -> TestServer {
    let temp = tempfile::tempdir().unwrap().keep();
    let data = temp.join("data");
    for (id, name, reports) in teams {
        write_history(&data, id, name, reports);
    }
    if !super::on_postgres() {
        return TestServer::start_on(data, adjust);
    }
    let server = TestServer::start_with(adjust);
    let url = server
        .store_url()
        .expect("a server on PostgreSQL has a database");
    let output = super::run_to_end(
        env!("CARGO_BIN_EXE_benchboard-history"),
        &["migrate", "--from", data.to_str().unwrap(), "--to", &url],
        b"",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server
}
