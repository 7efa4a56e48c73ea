//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary
//! directory, one `postgres` listening only on a Unix socket in that directory, and a
//! fresh database per test. Nothing is skipped: without PostgreSQL installed the test
//! fails and says how to install it.
//!
//! One cluster per test binary ([`shared`]), started on first use and stopped and
//! removed when the binary exits; a test that stops the database itself starts its
//! own ([`Cluster::start`], stopped and removed on drop). initdb and the server refuse
//! to run as root, so as root they run as the `postgres` system user (created as
//! `benchboard-pg` when missing). The server gets `PR_SET_PDEATHSIG`, so a test binary
//! that is killed does not leave it running.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How long a cluster may take to start on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// The port in the socket's name (`.s.PGSQL.5432`); the directory keeps clusters apart.
const PORT: u16 = 5432;
/// The cluster's superuser, made by initdb.
pub const USER: &str = "bb";

/// What to do when PostgreSQL is missing.
const INSTALL_HINT: &str = "run scripts/test (it installs what the tests need) or \
     `apt-get install -y postgresql`; the tests need PostgreSQL's server binaries \
     (`pg_config --bindir` must list initdb and postgres)";

/// A running PostgreSQL cluster on a Unix socket in its own temporary directory.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    settings: Vec<(String, String)>,
    server: Mutex<Option<Child>>,
    removed: Mutex<bool>,
}

/// The cluster of this test binary, started on first use; stopped and removed at exit.
/// Its settings suit tests (`fsync=off`; `synchronous_commit` stays on, as in production).
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        extern "C" fn stop_at_exit() {
            if let Some(cluster) = SHARED.get() {
                cluster.remove();
            }
        }
        let cluster = Cluster::start(&[("fsync", "off")]);
        // SAFETY: registers a plain function; it only runs at process exit.
        unsafe { libc::atexit(stop_at_exit) };
        cluster
    })
}

/// A fresh database in the shared cluster, dropped (with its connections) on drop.
pub fn database() -> TestDb {
    shared().database()
}

impl Cluster {
    /// Creates and starts a cluster with extra server settings (`-c name=value`).
    pub fn start(settings: &[(&str, &str)]) -> Cluster {
        let bin = server_bindir();
        let owner = unprivileged_owner();
        let dir = tempfile::Builder::new()
            .prefix("bbpg.")
            // Short on purpose: a Unix socket path must stay under ~107 bytes.
            .tempdir_in("/tmp")
            .expect("creating a temporary directory in /tmp")
            .keep();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let cluster = Cluster {
            dir,
            bin,
            owner,
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            server: Mutex::new(None),
            removed: Mutex::new(false),
        };
        cluster.initdb();
        cluster.start_server();
        cluster
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(&self.dir).env("LC_ALL", "C");
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn initdb(&self) {
        let output = self
            .command("initdb")
            .args(["-D", "data", "-U", USER, "-A", "trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}; {INSTALL_HINT}"));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server on the existing data directory and waits until it answers.
    pub fn start_server(&self) {
        let mut command = self.command("postgres");
        command
            .args(["-D", "data", "-p", &PORT.to_string()])
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=", "-c", "max_connections=300"]);
        for (name, value) in &self.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        let log = fs::File::create(self.dir.join("log")).expect("creating the server log");
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; it runs in the child before exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
        let child = spawn_from_lasting_thread(command)
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}; {INSTALL_HINT}"));
        *self.server.lock().unwrap() = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if postgres::Client::connect(&self.conninfo("postgres"), postgres::NoTls).is_ok() {
                return;
            }
            if let Some(status) = self.server_exited() {
                panic!("postgres exited ({status}) at start:\n{}", self.log());
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "postgres did not accept connections within {READY_WITHIN:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn server_exited(&self) -> Option<std::process::ExitStatus> {
        let mut server = self.server.lock().unwrap();
        server.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Stops the server ("fast" shutdown: clients are disconnected) and waits for it.
    pub fn stop_server(&self) {
        let Some(mut child) = self.server.lock().unwrap().take() else {
            return;
        };
        // SAFETY: signals our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The socket directory (the `host` of a connection).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A `postgres://` URL of database `db`, as `--store` takes it.
    pub fn url(&self, db: &str) -> String {
        let host: String = url_encode(&self.dir.to_string_lossy());
        format!("postgres://{USER}@{host}:{PORT}/{db}")
    }

    /// A key=value connection string of database `db`.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={PORT} user={USER} dbname={db} connect_timeout=10",
            self.dir.display()
        )
    }

    /// A connection to database `db`.
    pub fn connect(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.conninfo(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {db}: {e}\n{}", self.log()))
    }

    /// Creates a fresh, empty database.
    pub fn database(&'static self) -> TestDb {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "bb_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        TestDb {
            cluster: self,
            name,
        }
    }

    /// Stops the server and removes the directory (also on drop).
    fn remove(&self) {
        let mut removed = self.removed.lock().unwrap();
        if !*removed {
            self.stop_server();
            let _ = fs::remove_dir_all(&self.dir);
            *removed = true;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A database of the shared cluster, for one test.
pub struct TestDb {
    pub cluster: &'static Cluster,
    pub name: String,
}

impl TestDb {
    /// Its `postgres://` URL (what `--store` takes).
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }

    /// A connection to it, to look at what the server stored.
    pub fn connect(&self) -> postgres::Client {
        self.cluster.connect(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut client) =
            postgres::Client::connect(&self.cluster.conninfo("postgres"), postgres::NoTls)
        {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// PostgreSQL's server binaries: `pg_config --bindir`, else Debian's usual place.
fn server_bindir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"));
    from_pg_config
        .into_iter()
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: {INSTALL_HINT}"))
}

/// The (uid, gid) to run PostgreSQL as when we are root; `None` when we are not.
fn unprivileged_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    if let Some(ids) = user_ids("postgres").or_else(|| user_ids("benchboard-pg")) {
        return Some(ids);
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg("benchboard-pg")
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "initdb refuses root and there is no `postgres` user; useradd benchboard-pg failed"
    );
    Some(user_ids("benchboard-pg").expect("benchboard-pg was just created"))
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let output = Command::new("id").arg(name).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// Spawns a child from a thread that lives as long as the process: the parent-death
/// signal fires when the *thread* that spawned the child ends, not the process.
fn spawn_from_lasting_thread(command: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, receive) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pg-spawner".into())
            .spawn(move || {
                for (mut command, answer) in receive {
                    let _ = answer.send(command.spawn());
                }
                // Keep the thread alive while the process lives (see above).
                loop {
                    std::thread::park();
                }
            })
            .expect("spawning the pg-spawner thread");
        Mutex::new(jobs)
    });
    let (answer, result) = mpsc::channel();
    spawner
        .lock()
        .unwrap()
        .send((command, answer))
        .expect("the spawner thread runs");
    result.recv().expect("the spawner thread answers")
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
