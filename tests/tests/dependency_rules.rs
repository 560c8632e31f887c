//! The architecture's dependency rules, checked on the real workspace (`cargo metadata`) and
//! on the real UI sources:
//! - only `enlace-desktop` depends (directly or transitively) on `tauri` / any `tauri-*` crate;
//! - `enlace-core` depends on no `enlace-*` crate, nor on `serde`: domain types are not
//!   `Serialize` (the shell converts them to wire types; storage formats live beside their
//!   owners);
//! - only `enlace-store` depends on `rusqlite`, only `enlace-secrets` on `keyring`, only
//!   `enlace-voice` on `cpal` and `opus` (the microphone and libopus);
//! - nothing depends on `enlace-desktop`;
//! - `enlace-activation` (the `enlace-open` link forwarder) reaches no GUI crate (GTK, GDK,
//!   WebKit, wry, tao): a clicked link must not load them;
//! - one HTTP client and one TLS stack: nothing pulls `ureq`, OpenSSL, `native-tls` or
//!   `aws-lc-rs` (reqwest over rustls with ring, like the hub stream's WebSocket);
//! - no file under `ui/src` outside `ui/src/platform/` mentions `@tauri-apps/`.
//!
//! Each checker also runs against a synthetic violation, so a checker that silently passes
//! everything would fail here.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const SHELL: &str = "enlace-desktop";
/// The hub protocol crate is types only: none of these (I/O, the server's framework).
const PROTOCOL: &str = "enlace-hub-api";
const PROTOCOL_FORBIDDEN: &[&str] = &[
    "axum",
    "tokio",
    "reqwest",
    "sqlx",
    "hyper",
    "tokio-tungstenite",
];

fn workspace_root() -> PathBuf {
    enlace_tests::app::workspace_root()
}

fn cargo_metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// The dependency graph of a `cargo metadata` document, by package name.
struct Graph {
    members: Vec<String>,
    /// name → (dependency name, is a dev-dependency only)
    deps: HashMap<String, Vec<(String, bool)>>,
}

impl Graph {
    fn from_metadata(metadata: &Value) -> Self {
        let names: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().expect("id"),
                    p["name"].as_str().expect("name"),
                )
            })
            .collect();
        let name_of = |id: &Value| names[id.as_str().expect("package id")].to_owned();
        let members = metadata["workspace_members"]
            .as_array()
            .expect("workspace_members")
            .iter()
            .map(name_of)
            .collect();
        let mut deps = HashMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .expect("resolve.nodes")
        {
            let edges = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .map(|d| {
                    let kinds = d["dep_kinds"].as_array().expect("dep_kinds");
                    let dev_only = !kinds.is_empty() && kinds.iter().all(|k| k["kind"] == "dev");
                    (name_of(&d["pkg"]), dev_only)
                })
                .collect();
            deps.insert(name_of(&node["id"]), edges);
        }
        Self { members, deps }
    }

    /// Everything `root` pulls in: its own direct dependencies of every kind, then normal
    /// and build dependencies transitively (dev-dependencies of dependencies don't apply).
    fn reach(&self, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = self
            .direct(root)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            for (dep, dev_only) in self.direct(&name) {
                if !dev_only {
                    stack.push(dep);
                }
            }
        }
        seen
    }

    fn direct(&self, name: &str) -> Vec<(String, bool)> {
        self.deps.get(name).cloned().unwrap_or_default()
    }
}

/// Standalone crates published under a `tauri-` name that are not part of the Tauri framework
/// (no webview, no runtime): `tauri-winrt-notification` is notify-rust's Windows backend.
const NOT_THE_FRAMEWORK: &[&str] = &["tauri-winrt-notification"];

fn is_tauri(name: &str) -> bool {
    (name == "tauri" || name.starts_with("tauri-")) && !NOT_THE_FRAMEWORK.contains(&name)
}

/// A second HTTP client or TLS stack next to reqwest over rustls (ring).
const SECOND_STACK: &[&str] = &[
    "ureq",
    "openssl-sys",
    "native-tls",
    "aws-lc-rs",
    "aws-lc-sys",
];

/// The crate of `enlace-open`, which a clicked link starts: it must start in milliseconds.
const FORWARDER: &str = "enlace-activation";
/// GUI crates (and their `-sys` crates) the forwarder must not reach.
const GUI: &[&str] = &[
    "gtk",
    "gdk",
    "webkit2gtk",
    "javascriptcore-rs",
    "soup3",
    "wry",
    "tao",
];

/// Every broken rule, as a readable sentence.
fn violations(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for member in &graph.members {
        let direct: Vec<String> = graph.direct(member).into_iter().map(|(n, _)| n).collect();
        if member != SHELL {
            let tauri: Vec<String> = graph
                .reach(member)
                .into_iter()
                .filter(|n| is_tauri(n))
                .collect();
            if !tauri.is_empty() {
                found.push(format!("{member} depends on {}", tauri.join(", ")));
            }
        }
        if member == "enlace-core" {
            for dep in direct.iter().filter(|d| d.starts_with("enlace-")) {
                found.push(format!("enlace-core depends on {dep}"));
            }
            if direct.iter().any(|d| d == "serde") {
                found.push("enlace-core depends on serde (domain types are not Serialize)".into());
            }
        }
        for (crate_name, owner) in [
            ("rusqlite", "enlace-store"),
            ("keyring", "enlace-secrets"),
            ("cpal", "enlace-voice"),
            ("opus", "enlace-voice"),
        ] {
            if member != owner && direct.iter().any(|d| d == crate_name) {
                found.push(format!(
                    "{member} depends on {crate_name} (only {owner} may)"
                ));
            }
        }
        if direct.iter().any(|d| d == SHELL) {
            found.push(format!("{member} depends on {SHELL}"));
        }
        if member == FORWARDER {
            let gui: Vec<String> = graph
                .reach(member)
                .into_iter()
                .filter(|n| {
                    GUI.iter()
                        .any(|g| n == g || n.starts_with(&format!("{g}-")))
                })
                .collect();
            if !gui.is_empty() {
                found.push(format!(
                    "{FORWARDER} pulls {} (the link forwarder links no GUI library)",
                    gui.join(", ")
                ));
            }
        }
        if member == PROTOCOL {
            let io: Vec<String> = graph
                .reach(member)
                .into_iter()
                .filter(|n| PROTOCOL_FORBIDDEN.contains(&n.as_str()))
                .collect();
            if !io.is_empty() {
                found.push(format!("{PROTOCOL} pulls {} (no I/O)", io.join(", ")));
            }
        }
        let second: Vec<String> = graph
            .reach(member)
            .into_iter()
            .filter(|n| SECOND_STACK.contains(&n.as_str()))
            .collect();
        if !second.is_empty() {
            found.push(format!(
                "{member} pulls {} (one HTTP client: reqwest over rustls)",
                second.join(", ")
            ));
        }
    }
    found
}

#[test]
fn workspace_follows_the_dependency_rules() {
    let graph = Graph::from_metadata(&cargo_metadata());
    for expected in ["enlace-core", "enlace-store", "enlace-secrets", SHELL] {
        assert!(
            graph.members.iter().any(|m| m == expected),
            "{expected} is not a workspace member: {:?}",
            graph.members
        );
    }
    let problems = violations(&graph);
    assert!(
        problems.is_empty(),
        "dependency rules broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_shell_really_is_where_tauri_lives() {
    // Guards against a graph reader that finds no dependencies at all.
    let graph = Graph::from_metadata(&cargo_metadata());
    let reach = graph.reach(SHELL);
    assert!(
        reach.contains("tauri"),
        "{SHELL} should reach tauri: {reach:?}"
    );
    assert!(
        reach.contains("enlace-core"),
        "{SHELL} should reach enlace-core"
    );
}

/// A tiny `cargo metadata` document: `(name, [(dep, kind)])`, kind "normal" | "dev" | "build".
fn synthetic(packages: &[(&str, &[(&str, &str)])], members: &[&str]) -> Value {
    let id = |name: &str| format!("path+file:///ws/{name}#0.1.0");
    let pkgs: Vec<Value> = packages
        .iter()
        .map(|(name, _)| json!({"id": id(name), "name": name}))
        .collect();
    let nodes: Vec<Value> = packages
        .iter()
        .map(|(name, deps)| {
            let deps: Vec<Value> = deps
                .iter()
                .map(|(dep, kind)| {
                    let kind = if *kind == "normal" { Value::Null } else { json!(kind) };
                    json!({"name": dep, "pkg": id(dep), "dep_kinds": [{"kind": kind, "target": null}]})
                })
                .collect();
            json!({"id": id(name), "deps": deps})
        })
        .collect();
    let members: Vec<String> = members.iter().map(|m| id(m)).collect();
    json!({"packages": pkgs, "workspace_members": members, "resolve": {"nodes": nodes}})
}

#[test]
fn each_rule_catches_its_violation() {
    let metadata = synthetic(
        &[
            (
                "enlace-core",
                &[("enlace-store", "dev"), ("serde", "normal")],
            ),
            ("serde", &[]),
            ("enlace-store", &[("rusqlite", "normal")]),
            (
                "enlace-app",
                &[("enlace-os", "normal"), ("keyring", "normal")],
            ),
            (
                "enlace-os",
                &[
                    ("tauri-plugin-deep-link", "normal"),
                    ("tauri-winrt-notification", "normal"),
                ],
            ),
            ("tauri-plugin-deep-link", &[("tauri", "normal")]),
            ("tauri", &[]),
            ("tauri-winrt-notification", &[]),
            ("rusqlite", &[]),
            ("keyring", &[]),
            (
                "xtask",
                &[("enlace-desktop", "normal"), ("rusqlite", "normal")],
            ),
            (
                "enlace-desktop",
                &[("tauri", "normal"), ("enlace-app", "normal")],
            ),
            ("enlace-crm", &[("ureq", "normal")]),
            ("ureq", &[("native-tls", "normal")]),
            ("native-tls", &[]),
            ("enlace-hub-api", &[("serde", "normal"), ("axum", "normal")]),
            ("axum", &[("tokio", "normal")]),
            ("tokio", &[]),
            (
                "enlace-activation",
                &[("zbus", "normal"), ("notify", "normal")],
            ),
            ("zbus", &[]),
            ("notify", &[("gtk-sys", "normal")]),
            ("gtk-sys", &[]),
        ],
        &[
            "enlace-activation",
            "enlace-core",
            "enlace-store",
            "enlace-app",
            "enlace-os",
            "xtask",
            "enlace-desktop",
            "enlace-crm",
            "enlace-hub-api",
        ],
    );
    let problems = violations(&Graph::from_metadata(&metadata));
    let expect = [
        "enlace-core depends on enlace-store",
        "enlace-core depends on serde (domain types are not Serialize)",
        "enlace-app depends on tauri, tauri-plugin-deep-link",
        "enlace-app depends on keyring (only enlace-secrets may)",
        "enlace-os depends on tauri, tauri-plugin-deep-link",
        "xtask depends on rusqlite (only enlace-store may)",
        "xtask depends on enlace-desktop",
        // xtask reaches tauri through enlace-desktop
        "xtask depends on tauri, tauri-plugin-deep-link",
        "enlace-crm pulls native-tls, ureq (one HTTP client: reqwest over rustls)",
        "enlace-hub-api pulls axum, tokio (no I/O)",
        "enlace-activation pulls gtk-sys (the link forwarder links no GUI library)",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p == e),
            "missing `{e}` in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn dev_dependencies_of_dependencies_do_not_count() {
    let metadata = synthetic(
        &[
            ("enlace-app", &[("enlace-store", "normal")]),
            // a dev-dependency of a dependency is not built for enlace-app
            ("enlace-store", &[("tauri", "dev")]),
            ("tauri", &[]),
        ],
        &["enlace-app"],
    );
    assert!(violations(&Graph::from_metadata(&metadata)).is_empty());
}

/// Files under `src` (recursively, except `src/platform/`) that mention `@tauri-apps/`.
fn tauri_imports_outside_platform(src: &Path) -> Vec<PathBuf> {
    let platform = src.join("platform");
    let mut found = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("read ui source dir")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                if path != platform && path.file_name().is_some_and(|n| n != "node_modules") {
                    stack.push(path);
                }
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains("@tauri-apps/"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn ui_reaches_tauri_only_through_the_platform_folder() {
    let src = workspace_root().join("ui").join("src");
    assert!(src.is_dir(), "{} is missing", src.display());
    let offenders = tauri_imports_outside_platform(&src);
    assert!(
        offenders.is_empty(),
        "only ui/src/platform/ may import @tauri-apps/*; found in:\n{}",
        offenders
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_ui_checker_finds_imports_outside_platform() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("platform/tauri")).expect("mkdir");
    std::fs::create_dir_all(src.join("panels/calls")).expect("mkdir");
    std::fs::write(
        src.join("platform/tauri/invoke.ts"),
        "import { invoke } from '@tauri-apps/api/core';\n",
    )
    .expect("write");
    std::fs::write(
        src.join("panels/calls/Calls.svelte"),
        "<script>import { listen } from \"@tauri-apps/api/event\";</script>\n",
    )
    .expect("write");
    std::fs::write(src.join("panels/ok.ts"), "export const x = 1;\n").expect("write");
    assert_eq!(
        tauri_imports_outside_platform(src),
        vec![src.join("panels/calls/Calls.svelte")]
    );
}
