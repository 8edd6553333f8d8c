//! How long `runbook validate` spends per runbook: parse, locate and check the canonical
//! example, every broken corpus file, and generated chains of 1,000 and 2,000 `call` steps
//! (the shape of bench/journal.sh), whose two times show whether validation stays linear.
//!
//! `cargo bench -p runbook-lang --bench validate`; `cargo test --benches` runs each case once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use runbook_lang::{parse, Source};

/// A start, then `steps` status reads of its execution, each rendering one template.
fn chain(steps: usize) -> Source {
    let mut text = String::from(
        "version: 1\nname: chain\nsteps:\n  - id: start\n    aom.start: {workflow_id: wf-success}\n",
    );
    for i in 1..=steps {
        text.push_str(&format!(
            "  - id: s{i}\n    call: {{operation: SearchWorkflowExecutionDetail, params: \
             {{workflow_id: wf-success, execution_id: \"{{{{ steps.start.execution_id }}}}\"}}}}\n"
        ));
    }
    Source::new(format!("chain-{steps}.yaml"), text)
}

fn read(path: &Path) -> Source {
    Source::new(
        path.display().to_string(),
        std::fs::read_to_string(path).unwrap(),
    )
}

fn files(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let canonical = read(&root.join("../../runbooks/canonical.yaml"));
    assert!(parse(&canonical).is_ok(), "canonical.yaml must validate");
    let mut corpus: Vec<Source> = std::fs::read_dir(root.join("tests/corpus"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| read(&path))
        .collect();
    corpus.sort_by(|a, b| a.name.cmp(&b.name));

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("canonical.yaml (valid)", |b| {
        b.iter(|| parse(std::hint::black_box(&canonical)).is_ok())
    });
    // Per file, as the README's table gives it: criterion's elem/s is files per second.
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function(
        format!("broken corpus ({} files, each failing)", corpus.len()),
        |b| {
            b.iter(|| {
                for source in &corpus {
                    assert!(parse(std::hint::black_box(source)).is_err());
                }
            })
        },
    );
    group.finish();
}

fn chains(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate chain");
    // Tens of milliseconds per run: twenty samples are plenty and keep the bench short.
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for steps in [1_000, 2_000] {
        let source = chain(steps);
        assert!(parse(&source).is_ok(), "the generated chain must validate");
        // Steps per second: equal figures for both lengths mean a linear cost.
        group.throughput(Throughput::Elements(steps as u64));
        group.bench_with_input(BenchmarkId::from_parameter(steps), &source, |b, source| {
            b.iter(|| parse(std::hint::black_box(source)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, files, chains);
criterion_main!(benches);
