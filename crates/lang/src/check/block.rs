//! The checks of blocks (`do`), `repeat` and `as`: how a block may loop, what a block
//! refuses that its steps take, and `set` where its writes would race.

use crate::limits::{MAX_BLOCK_DEPTH, MAX_REPEAT_PASSES};
use crate::locate::{Part, Path};
use crate::model::{Step, Templated};
use crate::parse::Reporter;
use crate::template::ROOTS;

use super::is_identifier;
use super::tree::StepTree;

pub(super) fn check_block(
    reporter: &mut Reporter<'_>,
    tree: &StepTree<'_>,
    index: usize,
    step: &Step,
    path: &Path,
) {
    if let Some(name) = &step.element_name {
        check_element_name(reporter, step, name, &path.key("as"));
    }
    if step.set.is_some() {
        check_set_in_block(reporter, tree, index, path);
    }
    let Some(body) = &step.body else {
        if step.repeat.is_some() {
            reporter
                .error(
                    &path.key("repeat"),
                    Part::Key,
                    "`repeat` is for blocks (`do:`)",
                )
                .help = Some(
                "to try one step again use `retry`; to repeat steps, put them in `do:`".into(),
            );
        }
        return;
    };
    let at = path.key("do");
    if body.is_empty() {
        reporter.error(&at, Part::Value, "`do` is empty").help =
            Some("a block runs the steps listed under `do:`".into());
    }
    let depth = tree.entries.get(index).map_or(0, |entry| entry.depth);
    if depth + 1 > MAX_BLOCK_DEPTH {
        reporter.error(
            &at,
            Part::Key,
            format!(
                "blocks nest {} deep here; at most {MAX_BLOCK_DEPTH}",
                depth + 1
            ),
        );
    }
    if step.for_each.is_some() && step.repeat.is_some() {
        reporter
            .error(
                &path.key("repeat"),
                Part::Key,
                "a block loops one way: `for_each` or `repeat`, not both",
            )
            .help = Some("nest one block in the other".into());
    }
    if step.retry.is_some() {
        reporter
            .error(&path.key("retry"), Part::Key, "a block is not retried")
            .help = Some(
            "give its steps `retry`, or run the body again with `repeat: {until, max}`".into(),
        );
    }
    if step.target.is_some() {
        reporter
            .error(
                &path.key("target"),
                Part::Key,
                "a block sends no request itself",
            )
            .help = Some("put `target` on the steps in the block that call the API".into());
    }
    if let Some(repeat) = &step.repeat {
        let max = repeat.max.literal().copied();
        if max.is_some_and(|max| max == 0 || max > MAX_REPEAT_PASSES) {
            reporter.error(
                &path.key("repeat").key("max"),
                Part::Value,
                format!("`repeat.max` is from 1 to {MAX_REPEAT_PASSES} passes"),
            );
        }
    }
}

/// `as: NAME` names a `for_each` element; the name is read like `item`, so it must not hide
/// one of the names every template reads.
fn check_element_name(reporter: &mut Reporter<'_>, step: &Step, name: &str, at: &Path) {
    if step.for_each.is_none() {
        reporter.error(
            at,
            Part::Key,
            "`as` names the `for_each` element: it needs `for_each`",
        );
        return;
    }
    let reserved = ROOTS.contains(&name) || ["item", "index", "node", "result"].contains(&name);
    if !is_identifier(name) || reserved {
        reporter
            .error(at, Part::Value, format!("`{name}` cannot name the element"))
            .help = Some(format!(
            "use letters, digits and `_`, starting with a letter, and none of: {}, item, index, node, result",
            ROOTS.join(", ")
        ));
    }
}

/// Variables are the run's: a `set` in a block whose elements run at once would race, so it
/// is refused unless every `for_each` block around it runs one element at a time.
fn check_set_in_block(reporter: &mut Reporter<'_>, tree: &StepTree<'_>, index: usize, path: &Path) {
    let racing = tree.blocks_around(index).find(|&block| {
        tree.step(block).is_some_and(|block| {
            block.for_each.is_some()
                && block
                    .concurrency
                    .as_ref()
                    .is_some_and(|c| !matches!(c, Templated::Literal(1)))
        })
    });
    if let Some(block) = racing.and_then(|block| tree.step(block)) {
        reporter
            .error(
                &path.key("set"),
                Part::Key,
                format!(
                    "`set` in block `{}`, whose elements run at once: their writes would race",
                    block.id
                ),
            )
            .help = Some(
            "inside the block, read this step's values as `steps.<id>.<name>`; or give the block `concurrency: 1`".into(),
        );
    }
}
