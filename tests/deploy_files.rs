//! deploy/ stays true to the server: every YAML and JSON file parses, the manifests keep the
//! security and probe settings operators rely on, the ConfigMap's config files are valid
//! luagate configurations, and every `luagate_…` metric named anywhere under deploy/
//! (alerts, dashboard, manifests) is one the real server exports on /metrics.
//!
//! (The image itself is not built here: no container engine on the test machines.)

mod common;
#[path = "common/node.rs"]
mod node;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(&deploy_dir(), &mut out);
    out.sort();
    out
}

fn ext(p: &Path) -> &str {
    p.extension().and_then(|e| e.to_str()).unwrap_or("")
}

/// Every document of a (possibly multi-document) YAML file.
fn yaml_docs(p: &Path) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(p).expect("read");
    let mut docs = Vec::new();
    for d in serde_yaml::Deserializer::from_str(&text) {
        let v =
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if !matches!(v, serde_yaml::Value::Null) {
            docs.push(v);
        }
    }
    docs
}

fn k8s_docs() -> Vec<(PathBuf, serde_yaml::Value)> {
    all_files()
        .into_iter()
        .filter(|p| matches!(ext(p), "yaml" | "yml"))
        .flat_map(|p| yaml_docs(&p).into_iter().map(move |d| (p.clone(), d)))
        .collect()
}

#[test]
fn every_file_parses() {
    let (mut yaml, mut json) = (0, 0);
    for p in all_files() {
        match ext(&p) {
            "yaml" | "yml" => {
                for d in yaml_docs(&p) {
                    assert!(
                        d.get("apiVersion").is_some() && d.get("kind").is_some(),
                        "{}: a document without apiVersion/kind",
                        p.display()
                    );
                }
                yaml += 1;
            }
            "json" => {
                let text = std::fs::read_to_string(&p).expect("read");
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                json += 1;
            }
            _ => {}
        }
    }
    assert!(
        yaml >= 6 && json >= 1,
        "expected manifests and a dashboard under deploy/"
    );
    let kinds: BTreeSet<String> = k8s_docs()
        .iter()
        .filter_map(|(_, d)| d.get("kind")?.as_str().map(String::from))
        .collect();
    for k in [
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "Service",
        "PodMonitor",
        "PrometheusRule",
    ] {
        assert!(kinds.contains(k), "no {k} under deploy/");
    }
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_health_check() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).expect("deploy/Dockerfile");
    let froms = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage build expected");
    assert!(text.contains("debian:bookworm-slim"));
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "runs as root: {user}"
    );
    assert!(text
        .lines()
        .any(|l| l.starts_with("EXPOSE") && l.contains("6379") && l.contains("9121")));
    assert!(text.contains("HEALTHCHECK") && text.contains("/healthz"));
}

/// The pod templates' luagate containers (plain or native-sidecar init containers).
fn luagate_containers() -> Vec<(String, serde_yaml::Value)> {
    let mut out = Vec::new();
    for (p, d) in k8s_docs() {
        let Some(spec) = d
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec"))
        else {
            continue;
        };
        for list in ["containers", "initContainers"] {
            for c in spec
                .get(list)
                .and_then(|l| l.as_sequence())
                .into_iter()
                .flatten()
            {
                if c.get("name").and_then(|n| n.as_str()) == Some("luagate") {
                    out.push((p.display().to_string(), c.clone()));
                }
            }
            assert_eq!(
                spec.get("securityContext")
                    .and_then(|s| s.get("runAsNonRoot"))
                    .and_then(|v| v.as_bool()),
                Some(true),
                "{}: pod securityContext.runAsNonRoot",
                p.display()
            );
        }
    }
    out
}

#[test]
fn luagate_containers_are_locked_down_and_probed() {
    let containers = luagate_containers();
    assert!(
        containers.len() >= 2,
        "sidecar and StatefulSet containers expected"
    );
    for (file, c) in containers {
        let sc = c
            .get("securityContext")
            .unwrap_or_else(|| panic!("{file}: no securityContext"));
        assert_eq!(
            sc.get("runAsNonRoot").and_then(|v| v.as_bool()),
            Some(true),
            "{file}"
        );
        assert_eq!(
            sc.get("readOnlyRootFilesystem").and_then(|v| v.as_bool()),
            Some(true),
            "{file}"
        );
        assert_eq!(
            sc.get("allowPrivilegeEscalation").and_then(|v| v.as_bool()),
            Some(false),
            "{file}"
        );
        let drop = sc
            .get("capabilities")
            .and_then(|c| c.get("drop"))
            .and_then(|d| d.as_sequence());
        assert!(
            drop.is_some_and(|d| d.iter().any(|x| x.as_str() == Some("ALL"))),
            "{file}: capabilities.drop ALL"
        );
        let path = |probe: &str| {
            c.get(probe)
                .and_then(|p| p.get("httpGet"))
                .and_then(|h| h.get("path"))
                .and_then(|p| p.as_str())
                .map(String::from)
        };
        assert_eq!(path("livenessProbe").as_deref(), Some("/healthz"), "{file}");
        assert_eq!(path("readinessProbe").as_deref(), Some("/readyz"), "{file}");
        let res = c
            .get("resources")
            .unwrap_or_else(|| panic!("{file}: no resources"));
        assert!(
            res.get("requests").is_some() && res.get("limits").is_some(),
            "{file}: requests and limits"
        );
    }
}

#[test]
fn configmap_files_are_valid_luagate_configs() {
    let mut n = 0;
    for (p, d) in k8s_docs() {
        if d.get("kind").and_then(|k| k.as_str()) != Some("ConfigMap") {
            continue;
        }
        let data = d.get("data").and_then(|x| x.as_mapping()).expect("data");
        for (k, v) in data {
            let (Some(name), Some(text)) = (k.as_str(), v.as_str()) else {
                continue;
            };
            if !name.ends_with(".yaml") {
                continue;
            }
            let c: luagate::config::Config = serde_yaml::from_str(text)
                .unwrap_or_else(|e| panic!("{} {name}: {e}", p.display()));
            c.validate()
                .unwrap_or_else(|e| panic!("{} {name}: {e}", p.display()));
            // A cluster's list must be one every listed node can start from.
            for entry in &c.cluster_nodes {
                let addr = entry.split_whitespace().next().unwrap_or_default();
                let (host, port) = luagate::config::parse_host_port(addr)
                    .unwrap_or_else(|| panic!("{} {name}: {entry}", p.display()));
                luagate::cluster::Topology::new(&c.cluster_nodes, (&host, port), true)
                    .unwrap_or_else(|e| panic!("{} {name} as {addr}: {e}", p.display()));
            }
            n += 1;
        }
    }
    assert!(n >= 2);
}

/// Every `luagate_[a-z0-9_]+` token in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("luagate_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start + "luagate_".len();
        while end < b.len()
            && (b[end].is_ascii_lowercase() || b[end].is_ascii_digit() || b[end] == b'_')
        {
            end += 1;
        }
        if boundary && end > start + "luagate_".len() {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn referenced_metrics_exist_on_the_real_server() {
    let mut referenced = BTreeSet::new();
    for p in all_files() {
        if let Ok(text) = std::fs::read_to_string(&p) {
            referenced.extend(metric_names(&text));
        }
    }
    assert!(
        referenced.len() >= 15,
        "too few metrics referenced: {referenced:?}"
    );

    // Commands of several kinds, so that every family (including per-command ones) appears.
    let node = node::start(&["--shards", "2"], &[]);
    let mut c = node.proc.raw();
    c.cmd(&["SET", "a", "1", "EX", "100"]);
    c.cmd(&["INCR", "a"]);
    c.cmd(&["EVAL", "return 1", "0"]);
    // An error, so the error-reply family has a sample.
    c.cmd(&["LPUSH", "a", "x"]);
    // A follower of it exports the follower-only families (its link).
    let follower = node::start(&["--replicaof", &node.proc.addr()], &[]);
    let linked = node::eventually(10, || {
        node::scrape(&follower).contains("luagate_replication_link_up 1")
    });
    assert!(linked, "the follower never linked");
    let body = node::scrape(&node) + &node::scrape(&follower);
    let exported: BTreeSet<String> = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next().map(String::from))
        .collect();
    let missing: Vec<&String> = referenced
        .iter()
        .filter(|m| !exported.contains(*m))
        .collect();
    assert!(missing.is_empty(), "deploy/ references metrics the server does not export: {missing:?}\nexported: {exported:?}");
}

#[test]
fn alert_rules_pass_promtool() {
    let mut n = 0;
    for (p, d) in k8s_docs() {
        if d.get("kind").and_then(|k| k.as_str()) != Some("PrometheusRule") {
            continue;
        }
        // The operator's spec is a plain Prometheus rules file.
        let spec = d.get("spec").expect("spec");
        let file =
            std::env::temp_dir().join(format!("luagate-rules-{}-{n}.yaml", std::process::id()));
        std::fs::write(&file, serde_yaml::to_string(spec).expect("yaml")).expect("write");
        let out = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool is required (Debian package `prometheus`; bash scripts/deps.sh installs it)");
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "{}: promtool check rules failed:\n{}{}",
            p.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn metric_name_scanner() {
    let names = metric_names(
        r#"rate(luagate_a_total[5m]) + x_luagate_b + luagate_c_bucket{le="1"} luagate-config"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["luagate_a_total", "luagate_c_bucket"]
    );
}
