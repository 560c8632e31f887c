//! Docs point at things that exist. In the repository's own files (build output, `node_modules`
//! and hidden folders left out):
//! - every relative link of a Markdown file (`[text](path)`, images too) names a file or
//!   folder, relative to the Markdown file;
//! - every path a Markdown code span or a source comment (Rust, TypeScript, JavaScript,
//!   Svelte) names — a name with a `/` and a file extension, such as
//!   `crates/enlace-core/src/lib.rs` — exists, read from the file's folder, its package
//!   (`Cargo.toml` / `package.json`, and its `src/`), the folder of its sibling packages or the
//!   repository root; `../shared/…` is
//!   the design and reference folder beside the repository (checked when that folder is there);
//! - no comment or Markdown file names a machine-specific absolute path (`/work/…`,
//!   `/home/…`): it means nothing on another machine.
//!
//! Paths that only exist after a build (`target/…`, `node_modules/…`, `dist/…`) and
//! placeholders (`NNNN_name.sql`) are not files to find. The checker also runs on a synthetic
//! tree with one mistake of each kind, so a checker that passes everything fails here.

use std::path::{Path, PathBuf};

/// Extensions that make a name with a `/` a path to check.
const EXTENSIONS: &[&str] = &[
    "md", "rs", "ts", "svelte", "js", "txt", "toml", "json", "sql", "sh", "yml", "yaml", "png",
    "svg", "css", "html", "py", "ico", "icns",
];
/// Folders whose files are not the repository's own.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "dist", "corpus", "artifacts"];
/// Outputs of a build or an install: named in docs, present only afterwards.
const GENERATED: &[&str] = &["target/", "node_modules/", "dist/", "ui/dist/"];
/// Starts of absolute paths that belong to one machine.
const MACHINE_SPECIFIC: &[&str] = &["/work/", "/home/", "/root/", "/Users/", "/tmp/", "/mnt/"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    file: PathBuf,
    line: usize,
    target: String,
    why: &'static str,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} ({})",
            self.file.display(),
            self.line,
            self.target,
            self.why
        )
    }
}

/// Every problem in the tree under `root`, paths relative to it.
fn check_tree(root: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for file in files(root) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let found = match ext {
            "md" => check_markdown(root, &file, &text),
            "rs" | "ts" | "js" | "svelte" => check_comments(root, &file, &text),
            _ => continue,
        };
        problems.extend(found.into_iter().map(|mut p| {
            p.file = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
            p
        }));
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    problems
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                    dirs.push(path);
                }
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Lines of a Markdown file outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

fn check_markdown(root: &Path, file: &Path, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (line, content) in prose_lines(text) {
        let (spans, outside) = code_spans(content);
        for target in markdown_links(&outside) {
            if let Some(why) = check_link(root, file, &target) {
                problems.push(problem(file, line, target, why));
            }
        }
        for span in spans {
            for target in path_tokens(&span) {
                if let Some(why) = check_mention(root, file, &target) {
                    problems.push(problem(file, line, target, why));
                }
            }
        }
    }
    problems
}

fn check_comments(root: &Path, file: &Path, text: &str) -> Vec<Problem> {
    // Whole-line comments only: a path inside a string literal is code, not a reference.
    let starts: &[&str] = match file.extension().and_then(|e| e.to_str()) {
        Some("rs") => &["//"],
        Some("svelte") => &["//", "/*", "*", "<!--"],
        _ => &["//", "/*", "*"],
    };
    let mut problems = Vec::new();
    for (i, content) in text.lines().enumerate() {
        let trimmed = content.trim_start();
        let comment = starts.iter().any(|start| trimmed.starts_with(start));
        if !comment {
            continue;
        }
        for target in path_tokens(trimmed) {
            if let Some(why) = check_mention(root, file, &target) {
                problems.push(problem(file, i + 1, target, why));
            }
        }
    }
    problems
}

fn problem(file: &Path, line: usize, target: String, why: &'static str) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        target,
        why,
    }
}

/// The `` `code spans` `` of one line, and the line with them blanked out.
fn code_spans(line: &str) -> (Vec<String>, String) {
    let mut spans = Vec::new();
    let mut outside = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        outside.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('`') {
            Some(end) => {
                spans.push(after[..end].to_owned());
                outside.push(' ');
                rest = &after[end + 1..];
            }
            None => {
                outside.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    outside.push_str(rest);
    (spans, outside)
}

/// Targets of `[text](target)` and `![alt](target "title")` links on one line.
fn markdown_links(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else {
            break;
        };
        let inner = after[..end].trim();
        let target = inner
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_start_matches('<')
            .trim_end_matches('>');
        if !target.is_empty() {
            out.push(target.to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

/// Names in `text` that look like paths: a `/` and a known file extension.
fn path_tokens(text: &str) -> Vec<String> {
    let is_path_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '*' | '~');
    text.split(|c: char| !is_path_char(c))
        .map(|t| t.trim_end_matches(['.', ',']))
        .filter(|t| {
            let Some((_, ext)) = t.rsplit_once('.') else {
                return false;
            };
            let last = t.rsplit('/').next().unwrap_or("");
            t.contains('/')
                && !t.starts_with("//")
                && !t.starts_with('~')
                && last.contains('.')
                && EXTENSIONS.contains(&ext)
        })
        .map(str::to_owned)
        .collect()
}

/// A Markdown link: relative to the Markdown file, unless it is a URL or an anchor.
fn check_link(root: &Path, file: &Path, target: &str) -> Option<&'static str> {
    let is_url = target.contains("://")
        || target.starts_with('#')
        || target
            .split_once(':')
            .is_some_and(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphabetic()));
    if is_url {
        return None;
    }
    let path = target.split('#').next().unwrap_or(target);
    if path.starts_with('/') {
        return machine_specific(path);
    }
    if beyond_shared(root, path, file.parent()) {
        return None;
    }
    let dir = file.parent().unwrap_or(root);
    (!exists(&dir.join(path))).then_some("the link points at nothing")
}

/// A path named in a code span or a comment.
fn check_mention(root: &Path, file: &Path, target: &str) -> Option<&'static str> {
    if target.starts_with('/') {
        return machine_specific(target);
    }
    let plain = target.trim_start_matches("./");
    if GENERATED.iter().any(|g| plain.starts_with(g)) || target.contains("NNNN") {
        return None;
    }
    let mut bases = vec![root.to_path_buf()];
    if let Some(dir) = file.parent() {
        bases.push(dir.to_path_buf());
        if let Some(package) = package_root(root, dir) {
            bases.push(package.join("src"));
            // A sibling crate named from its folder: `enlace-hub/src/…` inside `crates/`.
            if let Some(siblings) = package.parent() {
                bases.push(siblings.to_path_buf());
            }
            bases.push(package);
        }
    }
    if bases
        .iter()
        .any(|base| beyond_shared(root, target, Some(base)) || exists(&base.join(target)))
    {
        return None;
    }
    Some("no such file")
}

fn machine_specific(path: &str) -> Option<&'static str> {
    MACHINE_SPECIFIC
        .iter()
        .any(|p| path.starts_with(p))
        .then_some("a path on one machine; name it relative to the repository")
}

/// `../shared/…` from the repository root while the shared folder is not beside it: cannot be
/// checked here (another checkout).
fn beyond_shared(root: &Path, target: &str, base: Option<&Path>) -> bool {
    let shared = root.join("../shared");
    base == Some(root) && target.starts_with("../shared/") && !shared.is_dir()
}

/// The nearest folder from `dir` up to `root` with a `Cargo.toml` or `package.json`.
fn package_root(root: &Path, dir: &Path) -> Option<PathBuf> {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d.join("Cargo.toml").is_file() || d.join("package.json").is_file() {
            return Some(d.to_path_buf());
        }
        if d == root {
            return None;
        }
        current = d.parent();
    }
    None
}

/// Whether `path` exists; a `*` in its last part matches any run of characters.
fn exists(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains('*') {
        return path.exists();
    }
    let Some(dir) = path.parent() else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| wildcard(&name, &e.file_name().to_string_lossy()))
}

fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository")
        .to_path_buf()
}

#[test]
fn every_doc_link_and_named_path_exists() {
    let problems = check_tree(&repository_root());
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "docs point at nothing:\n{}",
        listed.join("\n")
    );
}

#[test]
fn the_checker_finds_each_kind_of_broken_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("crates/a/Cargo.toml", "[package]\n");
    write("crates/a/src/there.rs", "");
    write("docs/guide.md", "# Guide\n");
    // Lines joined at run time: this file's own lines must not look like comments.
    let lines = |l: &[&str]| l.join("\n");
    write(
        "README.md",
        &lines(&[
            "See [the guide](docs/guide.md), [gone](docs/gone.md), [web](https://example.com/x.md),",
            "[anchor](#map) and `crates/a/src/there.rs`, `notes/contract.md`, `target/out.md`.",
            "```",
            "not/checked/in/fences.md",
            "```",
        ]),
    );
    write(
        "crates/a/src/lib.rs",
        &lines(&[
            "//! Reads `src/there.rs`, [`x`](missing/thing.md) and /work/shared/reference/facts.md.",
            "/// See migrations/NNNN_name.sql, crates/a/src/there.rs and b/src/gone.rs.",
            "/// The sibling crate's a/src/there.rs.",
            "let s = \"not/a/comment.md\";",
        ]),
    );
    write(
        "ui/src/x.ts",
        &lines(&[
            "// The contract (notes/contract3.md).",
            "/**",
            " * Uses crates/a/src/there.rs",
            " */",
        ]),
    );
    let found: Vec<(String, usize, String)> = check_tree(root)
        .into_iter()
        .map(|p| (p.file.display().to_string(), p.line, p.target))
        .collect();
    let want = |f: &str, l: usize, t: &str| (f.to_owned(), l, t.to_owned());
    assert_eq!(
        found,
        vec![
            want("README.md", 1, "docs/gone.md"),
            want("README.md", 2, "notes/contract.md"),
            want("crates/a/src/lib.rs", 1, "missing/thing.md"),
            want("crates/a/src/lib.rs", 1, "/work/shared/reference/facts.md"),
            want("crates/a/src/lib.rs", 2, "b/src/gone.rs"),
            want("ui/src/x.ts", 1, "notes/contract3.md"),
        ]
    );
}

#[test]
fn wildcards_match_like_a_shell() {
    assert!(wildcard("contract*.md", "contract3.md"));
    assert!(wildcard("contract*.md", "contract.md"));
    assert!(!wildcard("contract*.md", "contract3.txt"));
    assert!(wildcard("*", "ñandú"));
}
