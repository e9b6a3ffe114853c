//! The user's guide end to end with node-redis: `examples/loader.js` loads `examples/mylib.lua`
//! into luagate exactly as the guide's loader does, `tests/interop/seed.mjs` makes every example
//! call of the guide and checks its reply, and `examples/example.js` (the wrapper) runs clean.
//! The same script also runs against the reference redis-server, so the expectations are
//! Redis's. `tests/interop/cluster.mjs` drives three luagate cluster nodes with node-redis's
//! cluster client. node_modules is installed once (`npm ci`, also done by scripts/deps.sh).

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static INSTALL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs node-redis under tests/interop (once) and lets examples/ resolve it too.
fn node_modules() {
    let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let interop = root().join("tests/interop");
    if !interop.join("node_modules/redis").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&interop)
            .status()
            .expect("npm is required for the interop test (scripts/deps.sh installs it)");
        assert!(status.success(), "npm ci failed");
    }
    let link = root().join("examples/node_modules");
    if !link.exists() {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(Path::new("../tests/interop/node_modules"), &link)
            .expect("linking examples/node_modules");
    }
}

fn node(script: &str, url: &str, extra_env: &[(&str, &str)]) -> String {
    let out = Command::new("node")
        .arg(root().join(script))
        .env("REDIS_URL", url)
        .envs(extra_env.iter().copied())
        .output()
        .expect("node is required for the interop test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} against {url} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn seed_examples_with_node_redis() {
    node_modules();
    let dir = std::env::temp_dir().join(format!("luagate-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lg = common::luagate(&[
        "--shards",
        "4",
        "--metrics-port",
        "0",
        "--dir",
        dir.to_str().unwrap_or("."),
    ]);
    let url = lg.url();
    assert_eq!(node("examples/loader.js", &url, &[]), "mylib loaded\n");
    let out = node("tests/interop/seed.mjs", &url, &[("EXPECT_ORDER", "1")]);
    assert!(out.contains("all replies as in the guide"), "{out}");
    let out = node("examples/example.js", &url, &[]);
    assert!(out.contains("陳文公"), "{out}");

    // The same expectations hold on the reference server.
    let reference = common::redis_reference(&[]);
    assert_eq!(
        node("examples/loader.js", &reference.url(), &[]),
        "mylib loaded\n"
    );
    node("tests/interop/seed.mjs", &reference.url(), &[]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// node-redis's cluster client (createCluster) against three luagate nodes: it discovers the
/// topology from one node and reaches every key, a transaction, a script and a function
/// through the primary serving its slot (tests/interop/cluster.mjs).
#[test]
fn cluster_client_with_node_redis() {
    node_modules();
    let (nodes, _ports) = common::three_cluster_nodes();
    let out = node("tests/interop/cluster.mjs", &nodes[0].url(), &[]);
    assert!(out.contains("cluster ok"), "{out}");
}
