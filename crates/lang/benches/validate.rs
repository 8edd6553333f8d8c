//! How long `runbook validate` spends per runbook: parse, locate and check the canonical
//! example and every broken corpus file. Run with `cargo bench -p runbook-lang --bench validate`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use runbook_lang::{parse, Source};

fn measure(label: &str, sources: &[Source]) {
    let budget = Duration::from_secs(2);
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < budget {
        for source in sources {
            std::hint::black_box(parse(std::hint::black_box(source)).is_ok());
        }
        runs += 1;
    }
    let per_file = started.elapsed() / u32::try_from(runs * sources.len() as u64).unwrap();
    println!(
        "{label}: {per_file:?} per file ({} files x {runs} rounds)",
        sources.len()
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &Path| {
        Source::new(
            path.display().to_string(),
            std::fs::read_to_string(path).unwrap(),
        )
    };
    let canonical = read(&root.join("../../runbooks/canonical.yaml"));
    measure("canonical.yaml (valid)", &[canonical]);
    let mut corpus: Vec<Source> = std::fs::read_dir(root.join("tests/corpus"))
        .unwrap()
        .map(|e| read(&e.unwrap().path()))
        .collect();
    corpus.sort_by(|a, b| a.name.cmp(&b.name));
    measure("broken corpus (parse and check, all failing)", &corpus);
}
