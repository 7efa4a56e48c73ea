//! `[server]`: every flag of `benchboard-serve` as a key, and the value types the
//! file shares with the flags (durations, sizes, log levels).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[server]`: a key for every `benchboard-serve` flag, named like the flag
/// (`--data-dir` is `data_dir`); a flag given on the command line (or its
/// `BENCHBOARD_*` variable) wins over the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<StoreUrl>,
    pub max_body: Option<Size>,
    pub max_import_body: Option<Size>,
    pub inactive_after: Option<Seconds>,
    pub evict_after: Option<Seconds>,
    pub max_teams: Option<usize>,
    pub threads: Option<usize>,
    pub request_timeout: Option<Seconds>,
    pub fsync: Option<bool>,
    pub no_websocket: Option<bool>,
    pub max_viewers: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_teams_known: Option<usize>,
    pub min_free_space: Option<Size>,
    pub log_level: Option<LogLevel>,
    pub max_report_rate: Option<u32>,
    pub max_auth_failures: Option<u32>,
    /// `--trusted-proxy`, as a list: `trusted_proxies = ["10.0.0.1", "10.1.0.0/16"]`.
    pub trusted_proxies: Option<Vec<ProxyNet>>,
    pub max_viewers_per_ip: Option<usize>,
    /// `--allowed-origin`, as a list: `allowed_origins = ["https://board.example"]`.
    pub allowed_origins: Option<Vec<String>>,
    /// As `--tls-cert`; a relative path is taken from the contest file's directory.
    pub tls_cert: Option<PathBuf>,
    /// As `--tls-key`; a relative path is taken from the contest file's directory.
    pub tls_key: Option<PathBuf>,
}

impl ServerSection {
    /// The keys that are set, with their values (to show them, or to compare two
    /// versions of the file).
    pub fn set_keys(&self) -> toml::Table {
        toml::Table::try_from(ServerKeys(self)).unwrap_or_default()
    }

    /// The HTTPS files (`tls_cert` and `tls_key`), when both are set.
    pub fn tls_files(&self) -> Option<crate::server::tls::TlsFiles> {
        Some(crate::server::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    /// Takes relative `tls_cert`/`tls_key` paths from `dir` (the contest file's).
    pub(super) fn resolve_paths(&mut self, dir: &std::path::Path) {
        for path in [&mut self.tls_cert, &mut self.tls_key]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }
}

/// The `[server]` keys that are set, for [`ContestFile::describe`].
struct ServerKeys<'a>(&'a ServerSection);

impl serde::Serialize for ServerKeys<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let s = self.0;
        let mut map = serializer.serialize_map(None)?;
        macro_rules! entry {
            ($key:ident, $shown:expr) => {
                if let Some(value) = &s.$key {
                    map.serialize_entry(stringify!($key), &$shown(value))?;
                }
            };
        }
        entry!(host, |v: &String| v.clone());
        entry!(port, |v: &u16| *v);
        entry!(data_dir, |v: &PathBuf| v.display().to_string());
        entry!(store, |v: &StoreUrl| v.shown());
        entry!(max_body, |v: &Size| v.0);
        entry!(max_import_body, |v: &Size| v.0);
        entry!(inactive_after, |v: &Seconds| v.0.as_secs_f64());
        entry!(evict_after, |v: &Seconds| v.0.as_secs_f64());
        entry!(max_teams, |v: &usize| *v as u64);
        entry!(threads, |v: &usize| *v as u64);
        entry!(request_timeout, |v: &Seconds| v.0.as_secs_f64());
        entry!(fsync, |v: &bool| *v);
        entry!(no_websocket, |v: &bool| *v);
        entry!(max_viewers, |v: &usize| *v as u64);
        entry!(max_connections, |v: &usize| *v as u64);
        entry!(max_teams_known, |v: &usize| *v as u64);
        entry!(min_free_space, |v: &Size| v.0);
        entry!(log_level, |v: &LogLevel| v.0.to_string().to_lowercase());
        entry!(max_report_rate, |v: &u32| *v);
        entry!(max_auth_failures, |v: &u32| *v);
        entry!(trusted_proxies, |v: &Vec<ProxyNet>| v
            .iter()
            .map(|p| p.0.to_string())
            .collect::<Vec<_>>());
        entry!(max_viewers_per_ip, |v: &usize| *v as u64);
        entry!(allowed_origins, |v: &Vec<String>| v.clone());
        entry!(tls_cert, |v: &PathBuf| v.display().to_string());
        entry!(tls_key, |v: &PathBuf| v.display().to_string());
        map.end()
    }
}

/// `store`: a PostgreSQL URL, as `--store` takes it. Its password is never shown:
/// `Debug` and [`StoreUrl::shown`] give the URL with `***` in its place.
#[derive(Clone, PartialEq)]
pub struct StoreUrl(pub String);

impl StoreUrl {
    /// The URL without its password.
    pub fn shown(&self) -> String {
        crate::store::postgres::redact(&self.0)
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({:?})", self.shown())
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<StoreUrl, D::Error> {
        let url = String::deserialize(deserializer)?;
        crate::cli::serve::parse_store_url(&url)
            .map(StoreUrl)
            .map_err(|e| serde::de::Error::custom(crate::store::postgres::redact(&e)))
    }
}

/// A duration in the file: seconds (`300`, `0.5`) or a string with a unit (`"5m"`),
/// as the flags take it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Duration);

/// A size in the file: bytes (`1048576`) or a string with a unit (`"1MiB"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size(pub u64);

/// A log level in the file: `"error"`, `"warn"`, `"info"`, `"debug"`, ….
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLevel(pub log::LevelFilter);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Seconds, D::Error> {
        let text = match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => n.to_string(),
            NumberOrText::Float(x) => x.to_string(),
            NumberOrText::Text(text) => text,
        };
        crate::cli::parse::parse_duration(&text)
            .map(Seconds)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => u64::try_from(n)
                .map(Size)
                .map_err(|_| serde::de::Error::custom("a size must not be negative")),
            NumberOrText::Float(_) => Err(serde::de::Error::custom(
                "a size is a whole number of bytes or a string such as \"1MiB\"",
            )),
            NumberOrText::Text(text) => crate::cli::parse::parse_size(&text)
                .map(Size)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A `--trusted-proxy` in the file: an address or a CIDR network, as the flag takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyNet(pub ipnet::IpNet);

impl<'de> Deserialize<'de> for ProxyNet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ProxyNet, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::server::client_addr::parse_trusted_proxy(&text)
            .map(ProxyNet)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LogLevel, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(LogLevel).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a log level: off, error, warn, info, debug or trace"
            ))
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a number or a string with a unit")]
enum NumberOrText {
    Integer(i64),
    Float(f64),
    Text(String),
}
