#![allow(clippy::expect_used, clippy::unwrap_used)]
//! ARCHITECTURE.md's table of crates holds the code to its map: every crate of the workspace
//! has a row, and each one's `[dependencies]` name only the crates of ours its row allows.
//! Dev-dependencies are free (tests may use anything). Every file name it mentions exists, so
//! a module renamed or removed cannot leave the map behind. Each check is shown failing on a
//! planted drift.

use std::collections::BTreeMap;
use std::fs;

use xtask::workspace_root;

/// A row: the crate's path and the crates of ours it may depend on.
#[derive(Debug)]
struct Row {
    path: String,
    allowed: Vec<String>,
}

/// The first backticked word of a cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn table(architecture: &str) -> BTreeMap<String, Row> {
    let section = architecture
        .split("## Crates and what each may depend on")
        .nth(1)
        .expect("ARCHITECTURE.md has the crates table");
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut above: Vec<String> = Vec::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 6 || cells[1] == "crate" || cells[1].starts_with("---") {
            continue;
        }
        let name = ticked(cells[1]).into_iter().next().unwrap_or_default();
        let path = ticked(cells[2]).into_iter().next().unwrap_or_default();
        let may = cells[cells.len() - 2];
        let allowed = if may.starts_with("nothing of ours") {
            Vec::new()
        } else if may.starts_with("everything above") {
            above.clone()
        } else {
            // What follows a dash names what is refused, not allowed.
            ticked(may.split('—').next().unwrap_or_default())
        };
        above.push(name.clone());
        rows.insert(name, Row { path, allowed });
    }
    rows
}

/// The crates of ours a manifest's `[dependencies]` names.
fn dependencies_of_ours(manifest: &str, ours: &[&String]) -> Vec<String> {
    let Some(section) = manifest.split("\n[dependencies]\n").nth(1) else {
        return Vec::new();
    };
    let section = section.split("\n[").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| {
            let name = line.split(['.', ' ', '=']).next()?.trim();
            ours.iter()
                .any(|o| o.as_str() == name)
                .then(|| name.to_owned())
        })
        .collect()
}

/// Every way the table and the manifests disagree. `manifest` reads a crate's Cargo.toml
/// by its path; `members` are the workspace's crate paths.
fn disagreements(
    architecture: &str,
    members: &[String],
    manifest: impl Fn(&str) -> String,
) -> Vec<String> {
    let rows = table(architecture);
    let mut problems = Vec::new();
    for member in members {
        if !rows.values().any(|row| &row.path == member) {
            problems.push(format!(
                "`{member}` has no row in ARCHITECTURE.md's crates table"
            ));
        }
    }
    let ours: Vec<&String> = rows.keys().collect();
    for (name, row) in &rows {
        for dependency in dependencies_of_ours(&manifest(&row.path), &ours) {
            if !row.allowed.contains(&dependency) {
                problems.push(format!(
                    "`{name}` depends on `{dependency}`, which its row in ARCHITECTURE.md does not allow (allowed: {:?})",
                    row.allowed
                ));
            }
        }
    }
    problems
}

fn members() -> Vec<String> {
    let root = workspace_root();
    let mut members: Vec<String> = fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| format!("crates/{}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    members.push("xtask".into());
    members.sort();
    members
}

fn real_manifest(path: &str) -> String {
    fs::read_to_string(workspace_root().join(path).join("Cargo.toml")).unwrap_or_default()
}

fn architecture() -> String {
    fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap()
}

#[test]
fn the_crates_table_matches_the_manifests() {
    let problems = disagreements(&architecture(), &members(), real_manifest);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(table(&architecture()).len() >= 10);
}

#[test]
fn a_dependency_the_table_does_not_allow_is_found() {
    // The sandbox reaching for the runner, in a scratch copy of its manifest.
    let planted = |path: &str| {
        let text = real_manifest(path);
        if path == "crates/sandbox" {
            text.replacen(
                "[dependencies]\n",
                "[dependencies]\nrunbook-runner.workspace = true\n",
                1,
            )
        } else {
            text
        }
    };
    let problems = disagreements(&architecture(), &members(), planted);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("`hwc-sandbox` depends on `runbook-runner`"),
        "{problems:?}"
    );
}

#[test]
fn a_row_that_drifts_from_the_code_is_found() {
    // The client's row forgets the signer, and a new crate has no row.
    let text = architecture().replacen(
        "(hand-written). | `hwc-signer` |",
        "(hand-written). | nothing of ours |",
        1,
    );
    assert_ne!(
        text,
        architecture(),
        "the client's row changed shape; update this test"
    );
    let mut members = members();
    members.push("crates/new-thing".into());
    let problems = disagreements(&text, &members, real_manifest);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`hwc-client` depends on `hwc-signer`")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`crates/new-thing` has no row")),
        "{problems:?}"
    );
}

/// `1.94`, `1.89.0` → comparable parts.
fn version(text: &str) -> [u64; 3] {
    let mut parts = text.split('.').map(|part| part.parse().unwrap_or(0));
    [(); 3].map(|()| parts.next().unwrap_or(0))
}

/// The packages whose declared `rust-version` is newer than `ours`.
fn needing_newer(metadata: &serde_json::Value, ours: &str) -> Vec<String> {
    let ours = version(ours);
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|package| {
            let needs = package["rust_version"].as_str()?;
            (version(needs) > ours).then(|| {
                format!(
                    "{} {} needs Rust {needs}",
                    package["name"], package["version"]
                )
            })
        })
        .collect()
}

#[test]
fn the_declared_rust_version_is_true() {
    let root = workspace_root();
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let declared = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .expect("the workspace declares a rust-version")
        .trim_matches('"')
        .to_owned();
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let newer = needing_newer(&metadata, &declared);
    assert!(
        newer.is_empty(),
        "rust-version = \"{declared}\" is false; raise it:\n{}",
        newer.join("\n")
    );
    // Planted: a declaration older than what the dependencies need is caught.
    assert!(!needing_newer(&metadata, "1.60").is_empty());
}

/// The file names ARCHITECTURE.md mentions in backticks (`wait.rs`, `check/texts.rs`,
/// `crates/lang/tests/action_names.rs`, `runner/`): each the end of a path in the tree.
fn named_files(architecture: &str) -> Vec<String> {
    const ENDINGS: [&str; 5] = [".rs", ".yaml", ".py", ".sh", ".json"];
    ticked(architecture)
        .into_iter()
        .filter(|word| {
            !word.contains(' ')
                && !word.contains('*')
                && !word.contains('{')
                && (ENDINGS.iter().any(|end| word.ends_with(end)) || word.ends_with('/'))
        })
        .collect()
}

/// The named files that no path of `tree` ends with.
fn missing_files(named: &[String], tree: &[String]) -> Vec<String> {
    named
        .iter()
        .filter(|name| {
            let name = name.trim_start_matches("./");
            !tree.iter().any(|path| {
                let path = format!("/{path}");
                path.ends_with(&format!("/{name}")) || path.contains(&format!("/{name}"))
            })
        })
        .cloned()
        .collect()
}

/// Every file of the tree: tracked, or new and not ignored.
fn tracked_files() -> Vec<String> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_file_architecture_names_exists() {
    let architecture = fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let named = named_files(&architecture);
    assert!(named.len() > 40, "too few file names found: {named:?}");
    let missing = missing_files(&named, &tracked_files());
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names files the tree does not have (renamed or removed?): {missing:?}"
    );
}

#[test]
fn a_file_renamed_away_from_the_map_is_named() {
    let tree = tracked_files();
    let planted = "The run loop lives in `crates/runner/src/run_loop.rs` and `gone/`.";
    assert_eq!(
        missing_files(&named_files(planted), &tree),
        ["crates/runner/src/run_loop.rs", "gone/"]
    );
}
