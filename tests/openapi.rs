//! `openapi.yaml` must describe exactly the routes the server answers.

use std::collections::BTreeSet;

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
