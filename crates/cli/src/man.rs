//! Man pages, made from the same clap definition as `--help`: `man/runbook.1` and one page per
//! subcommand (`runbook-run.1`, `runbook-sandbox-serve.1`, …), checked in so that packagers
//! and `man -l` need no build. The test below writes them fresh and fails when they were
//! stale, so `cargo test` twice refreshes them and the diff shows what changed.

use std::path::Path;

use clap::CommandFactory;

/// Writes every page into `dir`.
pub fn write_pages(dir: &Path) -> std::io::Result<()> {
    // The package version only: with the commit in it, every commit would change every page.
    let command = crate::Cli::command().version(env!("CARGO_PKG_VERSION"));
    clap_mangen::generate_to(command, dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::fs;
    use std::path::PathBuf;

    use super::*;

    fn pages_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "1"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, fs::read(&path).unwrap())
            })
            .collect()
    }

    #[test]
    fn the_checked_in_man_pages_are_fresh() {
        let checked_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../man");
        let fresh_dir = tempfile::tempdir().unwrap();
        write_pages(fresh_dir.path()).unwrap();
        let fresh = pages_in(fresh_dir.path());
        assert!(fresh.contains_key("runbook.1") && fresh.contains_key("runbook-run.1"));
        let old = pages_in(&checked_in);
        if old == fresh {
            return;
        }
        fs::create_dir_all(&checked_in).unwrap();
        for name in old.keys().filter(|name| !fresh.contains_key(*name)) {
            fs::remove_file(checked_in.join(name)).unwrap();
        }
        for (name, text) in &fresh {
            fs::write(checked_in.join(name), text).unwrap();
        }
        let changed: std::collections::BTreeSet<&String> = fresh
            .keys()
            .chain(old.keys())
            .filter(|name| old.get(*name) != fresh.get(*name))
            .collect();
        panic!("man/ was stale and has been rewritten ({changed:?}); commit the change");
    }
}
