//! `openapi.yaml` must describe exactly the routes the server answers, every status
//! it gives for them, and the shapes of its real answers.

mod common;
#[path = "openapi/registered.rs"]
mod registered;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{TestServer, fixture};
use serde_json::{Value, json};

use benchboard::server::routes::ROUTES;
use yaml_rust2::{Yaml, YamlLoader};

fn spec() -> Yaml {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is readable");
    YamlLoader::load_from_str(&text)
        .expect("openapi.yaml is valid YAML")
        .remove(0)
}

#[test]
fn openapi_paths_match_server_routes() {
    let spec = spec();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_hash().expect("paths is a map") {
        for (method, _) in item.as_hash().expect("a path item is a map") {
            let method = method.as_str().unwrap().to_ascii_uppercase();
            if ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"].contains(&method.as_str()) {
                documented.insert((method, path.as_str().unwrap().to_string()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "openapi.yaml documents routes the server lacks: {unserved:?}"
    );
}

#[test]
fn openapi_refs_resolve() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let mut node = &spec;
        for part in reference.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        assert!(!node.is_badvalue(), "{reference} does not resolve");
    }
}

fn collect_refs(node: &Yaml, out: &mut Vec<String>) {
    match node {
        Yaml::Hash(map) => {
            for (key, value) in map {
                if key.as_str() == Some("$ref") {
                    out.push(value.as_str().expect("$ref is a string").to_string());
                } else {
                    collect_refs(value, out);
                }
            }
        }
        Yaml::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

// ---- Statuses and schemas against the running server ----------------------------

/// The spec as JSON, its schemas turned from OpenAPI 3.0 into JSON Schema.
fn spec_json() -> Value {
    yaml_to_json(&spec())
}

fn yaml_to_json(node: &Yaml) -> Value {
    match node {
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("unexpected key {other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => json!(r.parse::<f64>().expect("a number")),
        Yaml::Boolean(b) => json!(b),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML {other:?}"),
    }
}

/// OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a `null` type, examples go.
/// With `strict`, an object that lists its properties and says nothing of others
/// takes no others: every field the server sends must be documented. Reports are
/// not strict (unknown fields are kept verbatim).
fn to_json_schema(schema: &Value, strict: bool) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "nullable" | "example" | "description" => {}
                    "properties" => {
                        let props = value
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.clone(), to_json_schema(v, strict)))
                            .collect();
                        out.insert(key.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(key.clone(), to_json_schema(value, strict));
                    }
                }
            }
            if map.get("nullable") == Some(&json!(true)) {
                if let Some(kind) = out.get("type").cloned() {
                    out.insert("type".into(), json!([kind, "null"]));
                } else if let Some(all) = out.remove("allOf") {
                    // A nullable `$ref` (OpenAPI 3.0: `allOf: [$ref]` + `nullable`).
                    out.insert("anyOf".into(), json!([{"type": "null"}, {"allOf": all}]));
                }
            }
            if strict && map.contains_key("properties") && !map.contains_key("additionalProperties")
            {
                out.insert("additionalProperties".into(), json!(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| to_json_schema(i, strict)).collect())
        }
        other => other.clone(),
    }
}

/// Parts of the stored report: open to fields the spec does not list.
const OPEN_SCHEMAS: [&str; 3] = ["Report", "Operation", "LatencyDistribution"];

/// A validator for `schema` (a part of the spec), its `$ref`s resolved in the spec.
fn validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let components: serde_json::Map<String, Value> = spec["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                to_json_schema(s, !OPEN_SCHEMAS.contains(&name.as_str())),
            )
        })
        .collect();
    let mut root = to_json_schema(schema, true);
    root["components"] = json!({ "schemas": components });
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("bad schema {schema}: {e}"))
}

/// The JSON schema of a route's answer with `status`.
fn answer_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let schema =
        &spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} {status} has no JSON schema"
    );
    schema
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match openapi.yaml: {errors:#?}\n{value}"
    );
}

#[test]
fn real_answers_validate_against_the_schemas() {
    let spec = spec_json();
    // A rule that fires on any report, delivered to a webhook that answers 200.
    let receiver = common::receiver::Receiver::replying(200, "ok");
    let contest = format!(
        "[[rule]]\nname = \"any\"\nwhen = \"qps >= 0\"\n[[notify]]\nkind = \"webhook\"\nurl = \"{}/hook\"\n",
        receiver.base
    );
    let alerts = toml::from_str::<benchboard::alerts::AlertSections>(&contest)
        .unwrap()
        .check()
        .unwrap();
    let server = TestServer::start_with(move |c| {
        c.timing.inactive_after = Duration::from_secs(1);
        c.alerts = alerts;
    });
    let (mut viewer, _) = tungstenite::connect(format!(
        "{}/ws",
        server.base.replacen("http://", "ws://", 1)
    ))
    .expect("WebSocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = viewer.get_ref() {
        s.set_read_timeout(Some(common::PATIENCE)).unwrap();
    }
    for fixture_name in [
        "valid/full-13-buckets.json",
        "valid/minimal-12-buckets.json",
    ] {
        let body = std::fs::read(fixture(fixture_name)).unwrap();
        assert_eq!(
            server
                .post_report(
                    &[("X-Team-ID", "team1"), ("X-Team-Name", "%E7%AC%AC")],
                    &body
                )
                .0,
            200
        );
    }
    let get = |path: &str| {
        let (status, body) = server.get_json(path);
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let answers = [
        ("/api/teams", "/api/teams"),
        ("/api/teams/{team_id}", "/api/teams/team1"),
        (
            "/api/teams/{team_id}/history",
            "/api/teams/team1/history?limit=5",
        ),
        ("/api/teams/{team_id}/history", "/api/teams/nobody/history"),
        (
            "/api/teams/{team_id}/history/summary",
            "/api/teams/team1/history/summary",
        ),
        (
            "/api/teams/{team_id}/history/series",
            "/api/teams/team1/history/series?points=10",
        ),
        ("/healthz", "/healthz"),
        ("/api/alerts", "/api/alerts"),
        ("/api/contest", "/api/contest"),
        ("/api/replay", "/api/replay"),
        ("/api/replay", "/api/replay?step=1000"),
    ];
    for (template, path) in answers {
        let check = validator(&spec, answer_schema(&spec, template, "get", "200"));
        assert_valid(&check, &get(path), path);
    }
    let (status, error) = server.get_json("/api/teams/nobody");
    assert_eq!(status, 404);
    assert_valid(
        &validator(&spec, &spec["components"]["schemas"]["Error"]),
        &error,
        "a 404",
    );

    // WebSocket: the snapshot, an update per report, an alert, a status change.
    let messages = validator(&spec, answer_schema(&spec, "/ws", "get", "101"));
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        let message = match viewer.read().expect("the next message") {
            tungstenite::Message::Text(text) => serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        };
        assert_valid(&messages, &message, "a WebSocket message");
        seen.insert(message["type"].as_str().unwrap().to_string());
    }
}

/// The status of a raw request (sent whole, then the connection is closed).
fn raw_status(server: &TestServer, request: &str) -> u16 {
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "no answer to {request:?}"
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head)[9..12].parse().unwrap()
}

const UPGRADE: &str =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// Statuses tiny_http gives before routing, so on any path; provoked on one here.
const LAYER: [u16; 5] = [408, 414, 431, 501, 503];

/// Statuses the server gives somewhere but that this test does not provoke, and why.
const NOT_PROVOKED: [(&str, &str, &str); 9] = [
    (
        "/api/admin/reveal",
        "200",
        "after the end of a contest with a freeze, moved there by the clock: tests/contest_freeze.rs",
    ),
    (
        "/api/stats/report",
        "403",
        "a new team past --max-teams-known: tests/serve_limits.rs",
    ),
    (
        "/api/import/{format}",
        "403",
        "a new team past --max-teams-known: tests/serve_limits.rs",
    ),
    (
        "/api/stats/report",
        "507",
        "full disk: tests/storage_failure.rs; below --min-free-space: tests/serve_limits.rs",
    ),
    (
        "/api/stats/report",
        "500",
        "read-only disk: tests/storage_failure.rs",
    ),
    (
        "/api/import/{format}",
        "507",
        "below --min-free-space: tests/serve_limits.rs; full disk: the store of /api/stats/report, tests/storage_failure.rs",
    ),
    (
        "/api/import/{format}",
        "500",
        "the store of /api/stats/report: tests/storage_failure.rs",
    ),
    (
        "/ws",
        "500",
        "a connection that is not plain TCP (TLS is not served)",
    ),
    (
        "/ws",
        "403",
        "a page of an origin that is not an --allowed-origin: tests/ws.rs",
    ),
];

#[test]
fn every_status_the_server_gives_for_a_route_is_in_openapi() {
    let spec = spec_json();
    let server = TestServer::start_with(|c| {
        c.max_body_bytes = 4096;
        c.max_import_body_bytes = 16384;
        c.request_timeout = Duration::from_secs(1);
    });
    let push_off = TestServer::start_with(|c| c.websocket = false);
    let report =
        String::from_utf8(std::fs::read(fixture("valid/minimal-12-buckets.json")).unwrap())
            .unwrap();
    let post = |headers: &str, body: &str| {
        format!(
            "POST /api/stats/report HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let get = |path: &str, headers: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n")
    };
    let jtl =
        String::from_utf8(std::fs::read(fixture("import/jmeter/default.jtl")).unwrap()).unwrap();
    let import = |format: &str, body: &str| {
        format!(
            "POST /api/import/{format} HTTP/1.1\r\nHost: t\r\nX-Team-ID: tool\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let stalled = "POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: t1\r\nContent-Length: 2000\r\n\r\n{".to_string();
    let too_large = post("X-Team-ID: t1\r\n", &"x".repeat(5000));
    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("/api/stats/report", "post", post("X-Team-ID: team1\r\n", &report), 200),
        ("/api/stats/report", "post", post("", &report), 400),
        ("/api/stats/report", "post", post("X-Team-ID: team1\r\n", "[]"), 400),
        ("/api/stats/report", "post", stalled, 408),
        ("/api/stats/report", "post", too_large, 413),
        ("/api/stats/report", "post", "POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: t1\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n".into(), 501),
        ("/api/stats/report", "get", get("/api/stats/report", ""), 405),
        ("/api/import/{format}", "post", import("jtl", &jtl), 200),
        ("/api/import/{format}", "post", import("oha", &jtl), 400),
        ("/api/import/{format}", "post", import("nmon", &jtl), 404),
        ("/api/import/{format}", "post", import("jtl", &"x".repeat(20_000)), 413),
        ("/api/import/{format}", "get", get("/api/import/jtl", ""), 405),
        ("/api/teams", "get", get("/api/teams", ""), 200),
        ("/api/teams", "post", post_to("/api/teams"), 405),
        ("/api/teams/{team_id}", "get", get("/api/teams/team1", ""), 200),
        ("/api/teams/{team_id}", "get", get("/api/teams/a..b", ""), 400),
        ("/api/teams/{team_id}", "get", get("/api/teams/nobody", ""), 404),
        ("/api/teams/{team_id}", "post", post_to("/api/teams/team1"), 405),
        ("/api/teams/{team_id}/history", "get", get("/api/teams/team1/history", ""), 200),
        ("/api/teams/{team_id}/history", "get", get("/api/teams/team1/history?limit=0", ""), 400),
        ("/api/teams/{team_id}/history", "post", post_to("/api/teams/team1/history"), 405),
        ("/api/teams/{team_id}/history/summary", "get", get("/api/teams/team1/history/summary", ""), 200),
        ("/api/teams/{team_id}/history/summary", "get", get("/api/teams/a..b/history/summary", ""), 400),
        ("/api/teams/{team_id}/history/summary", "post", post_to("/api/teams/team1/history/summary"), 405),
        ("/api/teams/{team_id}/history/series", "get", get("/api/teams/team1/history/series", ""), 200),
        ("/api/teams/{team_id}/history/series", "get", get("/api/teams/team1/history/series?points=0", ""), 400),
        ("/api/teams/{team_id}/history/series", "post", post_to("/api/teams/team1/history/series"), 405),
        ("/api/teams/{team_id}/export.csv", "get", get("/api/teams/team1/export.csv", ""), 200),
        ("/api/teams/{team_id}/export.csv", "get", get("/api/teams/a..b/export.csv", ""), 400),
        ("/api/teams/{team_id}/export.csv", "get", get("/api/teams/nobody/export.csv", ""), 404),
        ("/api/teams/{team_id}/export.csv", "post", post_to("/api/teams/team1/export.csv"), 405),
        ("/", "get", get("/", ""), 200),
        ("/", "post", post_to("/"), 405),
        ("/team/{team_id}/history", "get", get("/team/team1/history", ""), 200),
        ("/team/{team_id}/history", "get", get("/team/nobody/history", ""), 404),
        ("/team/{team_id}/history", "post", post_to("/team/team1/history"), 405),
        ("/static/{file}", "get", get("/static/app.js", ""), 200),
        ("/static/{file}", "get", get("/static/nothing.js", ""), 404),
        ("/static/{file}", "post", post_to("/static/app.js"), 405),
        ("/healthz", "get", get("/healthz", ""), 200),
        ("/healthz", "post", post_to("/healthz"), 405),
        ("/metrics", "get", get("/metrics", ""), 200),
        ("/metrics", "post", post_to("/metrics"), 405),
        ("/api/alerts", "get", get("/api/alerts", ""), 200),
        ("/api/alerts", "post", post_to("/api/alerts"), 405),
        ("/api/contest", "get", get("/api/contest", ""), 200),
        ("/qr.svg", "get", get("/qr.svg?url=http%3A%2F%2F10.0.0.5%3A8080%2F", ""), 200),
        ("/qr.svg", "get", get("/qr.svg?url=javascript%3Aalert(1)", ""), 400),
        ("/api/contest", "post", post_to("/api/contest"), 405),
        ("/api/replay", "get", get("/api/replay", ""), 200),
        ("/api/replay", "get", get("/api/replay?step=0", ""), 400),
        ("/api/replay", "post", post_to("/api/replay"), 405),
        ("/replay", "get", get("/replay", ""), 200),
        ("/replay", "post", post_to("/replay"), 405),
        ("/qr.svg", "get", get("/qr.svg", ""), 200),
        ("/qr.svg", "get", get("/qr.svg?url=ftp://x", ""), 400),
        ("/ws", "get", get("/ws", &format!("{UPGRADE}Sec-WebSocket-Version: 13\r\n")), 101),
        ("/ws", "get", get("/ws", "Sec-WebSocket-Version: 13\r\n"), 400),
        ("/ws", "get", get("/ws", &format!("{UPGRADE}Sec-WebSocket-Version: 8\r\n")), 426),
        ("/ws", "post", post_to("/ws"), 405),
        // Answered before routing, on any path (see LAYER).
        ("/api/teams", "get", "GET /api/teams HTTP/1.1\r\nHost: t\r\n".into(), 408),
        ("/api/teams", "get", get(&format!("/api/teams?{}", "x".repeat(100_000)), ""), 414),
        ("/api/teams", "get", get("/api/teams", &format!("X-Big: {}\r\n", "x".repeat(100_000))), 431),
        ("/api/teams", "get", get("/api/teams", "Transfer-Encoding: gzip\r\n"), 501),
    ];
    let mut provoked = BTreeSet::new();
    for (template, method, request, want) in &cases {
        let got = raw_status(&server, request);
        assert_eq!(got, *want, "{method} {template}: {request:?}");
        assert_listed(&spec, template, method, *want);
        provoked.insert((template.to_string(), want.to_string()));
    }
    // One connection waiting for its body (after 100 Continue: busy, not idle) fills
    // --max-connections 1: the next is 503.
    let full = TestServer::start_with(|c| c.max_connections = 1);
    let mut busy = TcpStream::connect(full.base.trim_start_matches("http://")).unwrap();
    busy.set_read_timeout(Some(common::PATIENCE)).unwrap();
    busy.write_all(b"POST /api/stats/report HTTP/1.1\r\nHost: t\r\nX-Team-ID: busy\r\nExpect: 100-continue\r\nContent-Length: 50\r\n\r\n")
        .unwrap();
    let mut continued = [0u8; 25];
    busy.read_exact(&mut continued).unwrap();
    assert!(continued.starts_with(b"HTTP/1.1 100 Continue"));
    assert_eq!(raw_status(&full, &get("/api/teams", "")), 503);
    provoked.insert(("/api/teams".into(), "503".into()));
    for path in spec["paths"].as_object().unwrap().keys() {
        for status in LAYER {
            assert_listed(&spec, path, "get", status);
        }
    }
    // The push turned off: /ws is 404.
    assert_eq!(
        raw_status(
            &push_off,
            &get("/ws", &format!("{UPGRADE}Sec-WebSocket-Version: 13\r\n"))
        ),
        404
    );
    assert_listed(&spec, "/ws", "get", 404);
    provoked.insert(("/ws".into(), "404".into()));
    registered::provoke(&spec, &mut provoked);
    for (template, status, _why) in NOT_PROVOKED {
        assert_listed(&spec, template, "get", status.parse().unwrap());
        provoked.insert((template.into(), status.into()));
    }
    // And the other way: every status the spec lists is one the server was seen to give.
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (_, operation) in item.as_object().unwrap() {
            for status in operation["responses"].as_object().unwrap().keys() {
                let layer = LAYER.iter().any(|s| s.to_string() == *status);
                assert!(
                    layer || provoked.contains(&(template.clone(), status.clone())),
                    "openapi.yaml lists {status} for {template}, which no case here provokes"
                );
            }
        }
    }
}

fn post_to(path: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

/// The status is listed for the path: under its `method` if the path takes it, else
/// (a 405 for a method the path does not take) under the path's operations.
fn assert_listed(spec: &Value, template: &str, method: &str, status: u16) {
    let item = &spec["paths"][template];
    assert!(item.is_object(), "{template} is not in openapi.yaml");
    let status = status.to_string();
    let listed = match item.get(method) {
        Some(operation) => !operation["responses"][&status].is_null(),
        None => item
            .as_object()
            .unwrap()
            .values()
            .any(|operation| !operation["responses"][&status].is_null()),
    };
    assert!(
        listed,
        "openapi.yaml does not list {status} for {method} {template}"
    );
}
