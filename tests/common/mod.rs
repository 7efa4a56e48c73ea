//! Test support: a real server on 127.0.0.1:0 with a temporary data directory,
//! stopped in `Drop`, small HTTP helpers (ureq, errors as values), (in `child`) the
//! harness for the binaries run as child processes, and (in `pg`) a throwaway
//! PostgreSQL cluster.
//!
//! The servers of a test binary whose name ends in `_postgres` run on PostgreSQL, a
//! fresh database each (`tests/api_postgres.rs` runs the API suite of `tests/api.rs`
//! so); [`TestServer::stored`] and [`TestServer::nothing_stored`] look at what was
//! stored in either store.
#![allow(dead_code)]

pub mod browser;
pub mod child;
pub mod contest;
pub mod imported;
pub mod pg;
pub mod pg_reports;
pub mod serve;
pub mod tls;
pub mod tmpfs;
pub mod watch;

#[allow(unused_imports)] // each test binary uses a part
pub use child::{ClosedPort, Lines, PATIENCE, Running, lines_of, run_to_end};

pub mod receiver;
pub mod replay;

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use benchboard::server::{Config, Server, ShutdownHandle};
use serde_json::Value;

/// Path of a file under `tests/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A running in-process server; shut down and joined on drop.
pub struct TestServer {
    pub base: String,
    pub data_dir: PathBuf,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
    /// The database of a server on PostgreSQL (dropped after the server stops).
    db: Option<pg::TestDb>,
}

/// True in a test binary whose servers run on PostgreSQL (its name ends in `_postgres`).
pub fn on_postgres() -> bool {
    env!("CARGO_CRATE_NAME").ends_with("_postgres")
}

/// One stored report: its file name and the text of its file (the file store's
/// file; with PostgreSQL the file `export --format dir` writes, byte for byte).
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub name: String,
    pub text: String,
}

impl TestServer {
    /// A server on a fresh temporary data directory with default settings.
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// A server on a fresh temporary data directory; `adjust` changes the config.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let temp = tempfile::Builder::new()
            .prefix("benchboard-test-")
            .tempdir()
            .expect("temp dir");
        let mut server = TestServer::start_on(temp.path().join("data"), adjust);
        server._temp = Some(temp);
        server
    }

    /// A server on an existing data directory (kept after the test).
    pub fn start_on(data_dir: PathBuf, adjust: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_with_listener(data_dir, None, adjust)
    }

    /// A server on a fresh temporary data directory, listening on `port` (held by the
    /// test until now, so that nothing else took it).
    pub fn start_on_port(port: ClosedPort) -> TestServer {
        let temp = tempfile::Builder::new()
            .prefix("benchboard-test-")
            .tempdir()
            .expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut server = TestServer::start_with_listener(data_dir, Some(port.listen()), |_| {});
        server._temp = Some(temp);
        server
    }

    fn start_with_listener(
        data_dir: PathBuf,
        listener: Option<std::net::TcpListener>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let db = on_postgres().then(pg::database);
        let mut config = Config {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: data_dir.clone(),
            store_url: db.as_ref().map(pg::TestDb::url),
            threads: 4,
            ..Config::default()
        };
        adjust(&mut config);
        let server = match listener {
            Some(listener) => Server::bind_listener(config, listener),
            None => Server::bind(config),
        }
        .expect("server starts");
        let base = format!("http://{}", server.local_addr());
        let handle = server.shutdown_handle();
        let thread = std::thread::spawn(move || server.run());
        TestServer {
            base,
            data_dir,
            handle,
            thread: Some(thread),
            _temp: None,
            db,
        }
    }

    /// The database URL of a server on PostgreSQL.
    pub fn store_url(&self) -> Option<String> {
        self.db.as_ref().map(pg::TestDb::url)
    }

    /// True when this server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.db.is_some()
    }

    /// How `benchboard-history` reads this server's store: `--store <url>` on
    /// PostgreSQL, `--data-dir <dir>` on files.
    pub fn store_args(&self) -> Vec<String> {
        match &self.db {
            Some(db) => vec!["--store".into(), db.url()],
            None => vec!["--data-dir".into(), self.data_dir.display().to_string()],
        }
    }

    /// A connection to the server's database (PostgreSQL only).
    pub fn db(&self) -> Option<postgres::Client> {
        self.db.as_ref().map(pg::TestDb::connect)
    }

    /// The team's stored reports, in arrival order.
    pub fn stored(&self, team: &str) -> Vec<StoredFile> {
        let Some(db) = &self.db else {
            return ordered_report_files(&self.data_dir, team)
                .into_iter()
                .map(|name| StoredFile {
                    text: std::fs::read_to_string(self.data_dir.join(team).join(&name))
                        .expect("a report file is readable"),
                    name,
                })
                .collect();
        };
        let rows = db
            .connect()
            .query(
                "SELECT team_id, team_name, timestamp, file_name, stats::text, source::text FROM reports \
                 WHERE team_id = $1 ORDER BY seq",
                &[&team],
            )
            .expect("reading the stored reports");
        rows.iter()
            .map(|row| {
                let id = benchboard::team::TeamId::parse(row.get(0)).unwrap();
                let stats: &str = row.get(4);
                let source: Option<serde_json::Value> = row
                    .get::<_, Option<&str>>(5)
                    .map(|s| serde_json::from_str(s).unwrap());
                let text = benchboard::store::report_contents(
                    &id,
                    row.get(1),
                    row.get(2),
                    source.as_ref(),
                    stats.as_bytes(),
                );
                StoredFile {
                    name: row.get(3),
                    text: String::from_utf8(text).unwrap(),
                }
            })
            .collect()
    }

    /// True when nothing at all was stored: no file in the data directory (nor, with
    /// PostgreSQL, a data directory at all) and no report in the database.
    pub fn nothing_stored(&self) -> bool {
        // The file store's lock file is there from its start; any other file was written.
        let lock = self.data_dir.join(benchboard::store::LOCK_FILE);
        let no_files = files_under(&self.data_dir).iter().all(|f| *f == lock);
        match &self.db {
            None => no_files,
            Some(db) => {
                let reports: i64 = db
                    .connect()
                    .query_one("SELECT count(*) FROM reports", &[])
                    .expect("counting the stored reports")
                    .get(0);
                !self.data_dir.exists() && reports == 0
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` -> (status, body as JSON or `Value::Null`).
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.get(path);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// `GET path` -> (status, body text).
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = agent()
            .get(&self.url(path))
            .call()
            .expect("GET reaches the server");
        read(response)
    }

    /// POSTs a report with the given headers -> (status, body as JSON).
    pub fn post_report(&self, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let mut with_type = vec![("Content-Type", "application/json")];
        with_type.extend_from_slice(headers);
        self.post_to("/api/stats/report", &with_type, body)
    }

    /// POSTs `body` to `path` with the given headers -> (status, body as JSON or
    /// `Value::Null`).
    pub fn post_to(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let mut request = agent().post(&self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (status, text) = read(request.send(body).expect("POST reaches the server"));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POSTs a tool's output to `/api/import/<format>` for `team_id`.
    pub fn import_for(&self, team_id: &str, format: &str, body: &[u8]) -> (u16, Value) {
        let path = format!("/api/import/{format}");
        self.post_to(&path, &[("X-Team-ID", team_id)], body)
    }

    /// POSTs a report for `team_id` (no X-Team-Name: the server names it `Team-<id>`).
    pub fn post_for(&self, team_id: &str, body: &[u8]) -> (u16, Value) {
        self.post_report(&[("X-Team-ID", team_id)], body)
    }

    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread ends cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An HTTP agent that returns 4xx/5xx as responses instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

/// Report files (not latest.json, not our sidecar) in a team's directory.
pub fn report_files(data_dir: &Path, team: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join(team))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") && n != "latest.json")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Report files of a team in the order the server wrote them (by time, then by the
/// same-millisecond sequence: `_10` sorts after `_9`, unlike plain string order).
pub fn ordered_report_files(data_dir: &Path, team: &str) -> Vec<String> {
    let mut files = report_files(data_dir, team);
    files.sort_by_key(|n| benchboard::timefmt::parse_file_name(n).expect("a report file name"));
    files
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

/// Copies a directory tree (a fixture data directory into a test's own).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
