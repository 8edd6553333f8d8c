//! Every bound on what a runbook, an inputs file or a template may ask for, in one place.
//!
//! A runbook is code that arrives in pull requests and inputs come from wherever cron gets
//! them, so nothing they say may cost unbounded time or memory. Each limit sits well above
//! what a real runbook needs (a 2,000-step chain is about 350 KB) and well below what would
//! hurt the machine. The README's "Limits" table is written from these constants; a test
//! keeps the two in step.

use std::time::Duration;

/// The largest runbook file, in bytes.
pub const MAX_RUNBOOK_BYTES: usize = 2 << 20;

/// The largest inputs file (`--inputs`), in bytes.
pub const MAX_INPUTS_FILE_BYTES: usize = 2 << 20;

/// Steps in a runbook, `finally` and every nesting counted.
pub const MAX_STEPS: usize = 10_000;

/// Declared `inputs`, and `outputs`, each.
pub const MAX_INPUTS: usize = 1_000;
pub const MAX_OUTPUTS: usize = 1_000;

/// YAML nodes (scalars, sequences, mappings) after aliases are expanded: an alias counts as
/// everything it stands for, so a small file of many aliases of one big anchor is refused.
pub const MAX_YAML_NODES: usize = 1_000_000;

/// Bytes of scalar text after aliases are expanded.
pub const MAX_YAML_EXPANDED_BYTES: usize = 16 << 20;

/// Nesting of YAML sequences and mappings.
pub const MAX_YAML_DEPTH: usize = 64;

/// The longest step id, input, variable or output name.
pub const MAX_NAME_CHARS: usize = 128;

/// The longest runbook string that is a template.
pub const MAX_TEMPLATE_BYTES: usize = 64 << 10;

/// Nesting of `(`, `[` and `{` inside one `{{ }}` or `{% %}`.
pub const MAX_EXPRESSION_DEPTH: usize = 32;

/// Operators, filters, tests and attribute reads inside one `{{ }}` or `{% %}`: a long chain
/// becomes a deep tree that the template compiler walks recursively.
pub const MAX_EXPRESSION_OPERATORS: usize = 256;

/// The largest number a template may write: larger ones lose precision as floats, and a
/// runbook needs none.
pub const MAX_TEMPLATE_NUMBER: u64 = 1_000_000_000_000_000;

/// The longest JSONPath query given to `jsonpath` (its brackets nest at most
/// [`MAX_EXPRESSION_DEPTH`] deep).
pub const MAX_JSONPATH_BYTES: usize = 4 << 10;

/// The width a `format` filter may pad to (`'%999999999s' | format` would build a gigabyte).
pub const MAX_FORMAT_WIDTH: usize = 10_000;

/// Template instructions per render (minijinja's fuel): bounds loops and their work.
pub const TEMPLATE_FUEL: u64 = 1_000_000;

/// The largest value one render may produce, in bytes (text, or the JSON of a value).
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

/// The largest value a `set` step may store, in bytes of JSON.
pub const MAX_SET_VALUE_BYTES: usize = 1 << 20;

/// Elements a `for_each` may run over.
pub const MAX_FOR_EACH_ITEMS: usize = 10_000;

/// `concurrency` of a `for_each`.
pub const MAX_CONCURRENCY: u32 = 1_000;

/// `retry.attempts`.
pub const MAX_RETRY_ATTEMPTS: u32 = 1_000;

/// Attempts one step makes in one run, over all its `for_each` elements, retries included:
/// `MAX_FOR_EACH_ITEMS` elements of `MAX_RETRY_ATTEMPTS` each would be ten million.
pub const MAX_STEP_ATTEMPTS: u32 = 100_000;

/// `max` of a `goto` jump, and of a workflow node's `restart`.
pub const MAX_JUMPS: u32 = 10_000;

/// The longest duration a runbook may write (a timeout, poll, delay or sleep): `365d`.
/// Longer is a mistake, and time arithmetic on it (deadlines, the virtual clock) would
/// overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// Polls one wait makes (a 10,000-poll wait at the default `poll.max` of 30 s lasts about
/// three and a half days): a long wait should poll less often, not more.
pub const MAX_POLLS: u32 = 10_000;

/// The shortest poll delay: a poll loop where no time passes would spin.
pub const MIN_POLL_DELAY: Duration = Duration::from_millis(10);

/// A step `target`'s region, project id or credential prefix, as written or rendered.
pub const MAX_TARGET_FIELD_LEN: usize = 64;

/// Distinct step targets one run may reach: each holds a client and its connections.
pub const MAX_TARGETS: usize = 100;

/// Blocks inside blocks.
pub const MAX_BLOCK_DEPTH: usize = 8;

/// `repeat.max`: passes of one block's body.
pub const MAX_REPEAT_PASSES: u32 = 10_000;

/// Sub-runbooks inside sub-runbooks (`runbook:` steps), the runbook that is run counting 0.
pub const MAX_SUB_RUNBOOK_DEPTH: usize = 8;

/// Distinct files a runbook's sub-runbooks may read, all levels together.
pub const MAX_SUB_RUNBOOK_FILES: usize = 100;
