//! The template language: minijinja with strict undefined, `now()`, `uuid()`, `tojson` and a
//! `jsonpath` filter. The validator and the runner share this one engine so that what
//! validates is what runs.
//!
//! Only strings written in the runbook are rendered. Values that come from the API or the
//! command line enter the context as data and are never rendered again.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as JinjaValue};
use serde_json::Value;

use crate::limits::{MAX_EXPRESSION_DEPTH, MAX_JSONPATH_BYTES, MAX_RENDERED_BYTES, TEMPLATE_FUEL};

mod bounds;
mod filters;
pub mod preview;

/// The names a template may start from, besides the scoped ones (`item`, `node`, …).
pub const ROOTS: &[&str] = &["inputs", "steps", "vars", "run", "env"];

/// The functions the engine defines, besides minijinja's built-ins.
pub const FUNCTIONS: &[&str] = &["now", "uuid"];

/// minijinja's own global functions.
const BUILTIN_FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

/// The fields of `run`. `status` is `running` until the `finally` steps, which see how the
/// run ended (`succeeded`, `failed`, `timed_out`, `cancelled`). `failed_step` and `error`
/// describe the last failure `on_failure` routed (else null); in `finally`, the failure that
/// ended the run, if any.
pub const RUN_FIELDS: &[&str] = &["id", "name", "started_at", "status", "failed_step", "error"];

/// Where `now()` and `uuid()` get their values (injected so tests are deterministic).
#[derive(Clone)]
pub struct Sources {
    /// RFC 3339 UTC time.
    pub now: Arc<dyn Fn() -> String + Send + Sync>,
    pub uuid: Arc<dyn Fn() -> String + Send + Sync>,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sources")
    }
}

impl Sources {
    /// For parsing only: the functions exist but are never called.
    fn inert() -> Self {
        Self {
            now: Arc::new(String::new),
            uuid: Arc::new(String::new),
        }
    }
}

/// How a runbook string is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape<'a> {
    /// No template syntax: used as written.
    Literal,
    /// Exactly one `{{ expr }}`: the expression's value, type kept.
    Expression(&'a str),
    /// Text with templates in it: rendered to a string.
    Template,
}

/// Classifies a runbook string.
pub fn shape(text: &str) -> Shape<'_> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    {
        if !inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%") {
            return Shape::Expression(inner.trim().trim_start_matches('-').trim_end_matches('-'));
        }
    }
    if text.contains("{{") || text.contains("{%") || text.contains("{#") {
        Shape::Template
    } else {
        Shape::Literal
    }
}

/// Whether `value` holds no template at all: rendering it gives it back unchanged, so a
/// caller need not build a context for it.
pub fn is_literal(value: &Value) -> bool {
    match value {
        Value::String(text) => matches!(shape(text), Shape::Literal),
        Value::Array(items) => items.iter().all(is_literal),
        Value::Object(map) => map.values().all(is_literal),
        _ => true,
    }
}

/// A template problem: a syntax error, an undefined value, a failed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl From<Error> for TemplateError {
    fn from(error: Error) -> Self {
        let mut text = match error.kind() {
            ErrorKind::UndefinedError => "undefined value".to_owned(),
            ErrorKind::OutOfFuel => format!(
                "the template does more work than one render may ({TEMPLATE_FUEL} instructions)"
            ),
            _ => error.kind().to_string(),
        };
        if let Some(detail) = error.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        Self(text)
    }
}

/// The engine.
pub struct Engine {
    env: Environment<'static>,
    /// Filter and test names already looked up, with whether they exist: minijinja offers no
    /// list of them, so each is asked once by compiling a use of it.
    known_names: std::sync::Mutex<std::collections::HashMap<(NameKind, String), bool>>,
    /// What each string already checked reads (or why it does not compile): runbooks repeat
    /// their templates (`{{ steps.start.execution_id }}` in every later step, a `when` in
    /// every element), and compiling one costs more than the rest of its check.
    read_names: std::sync::Mutex<ReadNamesMemo>,
}

type ReadNames = Result<BTreeSet<String>, TemplateError>;

/// [`Engine::references`] and [`Engine::condition_references`] of the strings seen so far.
#[derive(Default)]
struct ReadNamesMemo {
    templates: std::collections::HashMap<String, ReadNames>,
    conditions: std::collections::HashMap<String, ReadNames>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NameKind {
    Filter,
    Test,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Engine")
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(Sources::inert())
    }
}

impl Engine {
    pub fn new(sources: Sources) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        filters::bound(&mut env);
        let now = sources.now;
        env.add_function("now", move || now());
        let uuid = sources.uuid;
        env.add_function("uuid", move || uuid());
        env.add_filter("jsonpath", jsonpath);
        Self {
            env,
            known_names: Default::default(),
            read_names: Default::default(),
        }
    }

    /// Refuses a filter or test the engine does not have, which minijinja would find only
    /// when the template is rendered, in the middle of a run.
    fn check_named(&self, named: &bounds::Named) -> Result<(), TemplateError> {
        let uses = named
            .filters
            .iter()
            .map(|name| (NameKind::Filter, name))
            .chain(named.tests.iter().map(|name| (NameKind::Test, name)));
        for (kind, name) in uses {
            if !self.has(kind, name) {
                let what = match kind {
                    NameKind::Filter => "filter",
                    NameKind::Test => "test",
                };
                return Err(TemplateError(format!("unknown {what} `{name}`")));
            }
        }
        Ok(())
    }

    fn has(&self, kind: NameKind, name: &str) -> bool {
        let mut known = self
            .known_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&exists) = known.get(&(kind, name.to_owned())) {
            return exists;
        }
        let probe = match kind {
            NameKind::Filter => format!("none | {name}"),
            NameKind::Test => format!("none is {name}"),
        };
        let unknown = match kind {
            NameKind::Filter => minijinja::ErrorKind::UnknownFilter,
            NameKind::Test => minijinja::ErrorKind::UnknownTest,
        };
        // Any other outcome (a missing argument, a type error) means the name was found.
        let exists = match self.env.compile_expression(&probe) {
            Ok(expression) => expression
                .eval(())
                .map_or_else(|error| error.kind() != unknown, |_| true),
            Err(error) => error.kind() != unknown,
        };
        known.insert((kind, name.to_owned()), exists);
        exists
    }

    /// Checks the syntax of a runbook string and returns the dotted names it reads
    /// (`inputs.x`, `steps.start.execution_id`, `now`).
    pub fn references(&self, text: &str) -> ReadNames {
        let expr = match shape(text) {
            Shape::Literal => return Ok(BTreeSet::new()),
            Shape::Expression(expr) => Some(expr),
            Shape::Template => None,
        };
        self.remembered(
            text,
            |memo| &mut memo.templates,
            || {
                self.check_named(&bounds::measure_template(text)?)?;
                let names = match expr {
                    Some(expr) => self
                        .env
                        .compile_expression(expr)?
                        .undeclared_variables(true),
                    None => self.env.template_from_str(text)?.undeclared_variables(true),
                };
                Ok(names.into_iter().collect())
            },
        )
    }

    /// Checks a bare expression and returns the names it reads.
    pub fn condition_references(&self, expr: &str) -> ReadNames {
        self.remembered(
            expr,
            |memo| &mut memo.conditions,
            || {
                if expr.trim_start().starts_with("{{") {
                    return Err(TemplateError(
                        "a condition is a bare expression: drop the `{{ }}`".to_owned(),
                    ));
                }
                self.check_named(&bounds::measure_expression(expr)?)?;
                Ok(self
                    .env
                    .compile_expression(expr)?
                    .undeclared_variables(true)
                    .into_iter()
                    .collect())
            },
        )
    }

    /// `read(text)`, computed once per distinct text. The memo is not held while reading:
    /// another thread may read the same text meanwhile, to the same answer.
    fn remembered(
        &self,
        text: &str,
        table: fn(&mut ReadNamesMemo) -> &mut std::collections::HashMap<String, ReadNames>,
        read: impl FnOnce() -> ReadNames,
    ) -> ReadNames {
        let memo = || {
            self.read_names
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(known) = table(&mut memo()).get(text) {
            return known.clone();
        }
        let names = read();
        table(&mut memo()).insert(text.to_owned(), names.clone());
        names
    }

    /// Renders every string in `value` (map keys excepted) against `context`. A string that
    /// is exactly one `{{ expr }}` becomes the expression's value with its type.
    pub fn render(&self, value: &Value, context: &JinjaValue) -> Result<Value, TemplateError> {
        match value {
            Value::String(text) => self.render_str(text, context),
            Value::Array(items) => items
                .iter()
                .map(|item| self.render(item, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| Ok((key.clone(), self.render(item, context)?)))
                .collect::<Result<serde_json::Map<_, _>, TemplateError>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    /// Renders one runbook string.
    pub fn render_str(&self, text: &str, context: &JinjaValue) -> Result<Value, TemplateError> {
        match shape(text) {
            Shape::Literal => Ok(Value::String(text.to_owned())),
            Shape::Expression(expr) => {
                bounds::check_template(text)?;
                let value = match read_name(expr, context) {
                    Some(value) => value,
                    None => self.env.compile_expression(expr)?.eval(context)?,
                };
                // Measured before it becomes JSON: a value that shares its parts (a map of
                // the same list twice, forty times over) is small here and huge as JSON.
                check_rendered_size(&value)?;
                to_json(&value)
            }
            Shape::Template => {
                bounds::check_template(text)?;
                let template = self.env.template_from_str(text)?;
                let mut out = CappedText::default();
                template
                    .render_captured_to(context, &mut out)
                    .map_err(|error| {
                        if out.overflowed {
                            too_large()
                        } else {
                            TemplateError::from(error)
                        }
                    })?;
                Ok(Value::String(out.text))
            }
        }
    }

    /// Renders a runbook string that must come out as text (an id, a message).
    pub fn render_text(&self, text: &str, context: &JinjaValue) -> Result<String, TemplateError> {
        match self.render_str(text, context)? {
            Value::String(text) => Ok(text),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(TemplateError(format!(
                "expected text, got {}: {}",
                json_type(&other),
                other
            ))),
        }
    }

    /// Evaluates a bare expression as a condition.
    pub fn condition(&self, expr: &str, context: &JinjaValue) -> Result<bool, TemplateError> {
        bounds::check_expression(expr)?;
        let value = self.env.compile_expression(expr)?.eval(context)?;
        if value.is_undefined() {
            return Err(TemplateError(format!("undefined value in `{expr}`")));
        }
        Ok(value.is_true())
    }
}

/// The value of an expression that is only a dotted name (`steps.start.execution_id`,
/// `item`), read by the same attribute lookups minijinja makes: most runbook expressions are
/// such names, and compiling one costs more than reading it. `None` for any other expression
/// and for a name that does not resolve to a value, which minijinja then evaluates, errors
/// included.
fn read_name(expr: &str, context: &JinjaValue) -> Option<JinjaValue> {
    // Literals that look like names.
    const CONSTANTS: &[&str] = &["true", "false", "none", "True", "False", "None"];
    let plain = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !expr.split('.').all(plain) || CONSTANTS.contains(&expr.split('.').next()?) {
        return None;
    }
    let mut value = context.clone();
    for part in expr.split('.') {
        value = value.get_attr(part).ok()?;
        if matches!(
            value.kind(),
            minijinja::value::ValueKind::Undefined | minijinja::value::ValueKind::Invalid
        ) {
            return None;
        }
    }
    Some(value)
}

fn too_large() -> TemplateError {
    TemplateError(format!(
        "renders to more than {} MiB, the most one template value may be",
        MAX_RENDERED_BYTES >> 20
    ))
}

fn check_rendered_size(value: &JinjaValue) -> Result<(), TemplateError> {
    let fits = match value.as_str() {
        Some(text) => text.len() <= MAX_RENDERED_BYTES,
        None => json_fits(value, MAX_RENDERED_BYTES),
    };
    if fits {
        Ok(())
    } else {
        Err(too_large())
    }
}

/// Whether `value` serialises to at most `limit` bytes of JSON; counting stops at the limit
/// rather than writing out a value that may be huge.
pub fn json_fits(value: &impl serde::Serialize, limit: usize) -> bool {
    struct Counter {
        left: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.left = self
                .left
                .checked_sub(bytes.len())
                .ok_or_else(|| std::io::Error::other("over the limit"))?;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Counter { left: limit }, value).is_ok()
}

/// A writer that refuses to grow past [`MAX_RENDERED_BYTES`]: fuel bounds a render's work,
/// not the size of what it writes.
#[derive(Default)]
struct CappedText {
    text: String,
    overflowed: bool,
}

impl std::io::Write for CappedText {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len().saturating_add(buf.len()) > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("rendered text too large"));
        }
        // minijinja writes whole UTF-8 fragments, so each buffer is valid text.
        self.text.push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn to_json(value: &JinjaValue) -> Result<Value, TemplateError> {
    if value.is_undefined() {
        return Err(TemplateError("undefined value".to_owned()));
    }
    serde_json::to_value(value).map_err(|error| TemplateError(error.to_string()))
}

/// `value | jsonpath("$.a[0].b")`: every match of an RFC 9535 JSONPath query, as a list.
fn jsonpath(value: JinjaValue, path: &str) -> Result<JinjaValue, Error> {
    // The query parser recurses into brackets; a query nested thousands deep would overflow
    // the stack before it could say no.
    let nesting = path
        .bytes()
        .scan(0usize, |depth, byte| {
            match byte {
                b'(' | b'[' => *depth += 1,
                b')' | b']' => *depth = depth.saturating_sub(1),
                _ => {}
            }
            Some(*depth)
        })
        .max()
        .unwrap_or(0);
    if path.len() > MAX_JSONPATH_BYTES || nesting > MAX_EXPRESSION_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "a JSONPath query is at most {MAX_JSONPATH_BYTES} bytes, nested at most \
                 {MAX_EXPRESSION_DEPTH} deep"
            ),
        ));
    }
    let query = serde_json_path::JsonPath::parse(path).map_err(|error| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`{path}` is not a JSONPath query: {error}"),
        )
    })?;
    let json = serde_json::to_value(&value)
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
    let matches: Vec<Value> = query.query(&json).all().into_iter().cloned().collect();
    Ok(to_jinja(&Value::Array(matches)))
}

/// A JSON value as template data: what minijinja's serde bridge builds, built directly
/// (every step result goes through here, and the bridge costs twice as much).
pub fn to_jinja(value: &Value) -> JinjaValue {
    match value {
        Value::Null => JinjaValue::from(()),
        Value::Bool(b) => JinjaValue::from(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => JinjaValue::from(u),
            (None, Some(i), _) => JinjaValue::from(i),
            (None, None, Some(f)) => JinjaValue::from(f),
            // No such number without serde_json's `arbitrary_precision`; the bridge knows.
            (None, None, None) => JinjaValue::from(minijinja::value::Serde(value)),
        },
        Value::String(text) => JinjaValue::from(text.as_str()),
        Value::Array(items) => {
            JinjaValue::from_object(items.iter().map(to_jinja).collect::<Vec<_>>())
        }
        Value::Object(map) => JinjaValue::from_object(
            map.iter()
                .map(|(key, item)| (JinjaValue::from(key.as_str()), to_jinja(item)))
                .collect::<indexmap::IndexMap<_, _>>(),
        ),
    }
}

/// A JSON value's type, as the schema names it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `name` (the first part of a reference) is a function the engine knows.
pub fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name) || BUILTIN_FUNCTIONS.contains(&name)
}

/// Every dotted name (`inputs.token`, `vars.x`, `item`) written inside `{{ }}` or `{% %}`,
/// string literals included: a superset of what [`Engine::references`] finds, which misses
/// some reads (a slice such as `inputs.s[2:5]`). For checks that must not miss a read.
pub fn names_written(text: &str) -> Vec<String> {
    static NAME: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*").ok()
    });
    let Some(name) = NAME.as_ref() else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = [rest.find("{{"), rest.find("{%")]
        .into_iter()
        .flatten()
        .min()
    {
        let inner = &rest[open + 2..];
        let close = inner
            .find("}}")
            .or_else(|| inner.find("%}"))
            .unwrap_or(inner.len());
        names.extend(
            name.find_iter(&inner[..close])
                .map(|m| m.as_str().split_whitespace().collect::<String>()),
        );
        rest = &inner[close..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> JinjaValue {
        to_jinja(&json!({
            "inputs": {"count": 3, "tags": {"a": 1}, "name": "x"},
            "steps": {"echo": {"output": {"text": "{{ 7 * 7 }}"}}}
        }))
    }

    #[test]
    fn json_becomes_the_template_value_minijinja_serde_bridge_builds() {
        let value = json!({
            "zeta": null, "alpha": true, "big": u64::MAX, "negative": i64::MIN,
            "float": 2.5, "text": "é \"quoted\"", "empty": {}, "none": [],
            "nested": [{"b": [1, -2, 3.0], "a": {"deep": [[null]]}}, "x", false],
        });
        let direct = to_jinja(&value);
        let bridged = JinjaValue::from(minijinja::value::Serde(&value));
        assert_eq!(direct, bridged);
        // The same kinds and key order, not only equal values.
        assert_eq!(format!("{direct:?}"), format!("{bridged:?}"));
        let engine = Engine::default();
        let ctx = to_jinja(&json!({ "v": value }));
        let bridged_ctx = JinjaValue::from(minijinja::value::Serde(&json!({ "v": value })));
        assert_eq!(engine.render_str("{{ v }}", &ctx).unwrap(), value);
        for template in [
            "{{ v | tojson }}",
            "{{ v.nested[0].b | sum }} {{ v.big + 0 }}",
        ] {
            assert_eq!(
                engine.render_str(template, &ctx).unwrap(),
                engine.render_str(template, &bridged_ctx).unwrap()
            );
        }
    }

    #[test]
    fn a_dotted_name_is_read_without_minijinja_to_the_value_and_error_minijinja_gives() {
        let engine = Engine::default();
        let ctx = to_jinja(&json!({
            "inputs": {"count": 3, "name": "x", "list": [1, 2], "nothing": null, "none": 5},
            "steps": {"start": {"execution_id": "e-1", "output": {"deep": {"x": true}}}},
            "item": {"a": 1},
            "true": "a name minijinja never reads",
        }));
        let by_minijinja = |expr: &str| {
            engine
                .env
                .compile_expression(expr)
                .map_err(TemplateError::from)
                .and_then(|compiled| compiled.eval(&ctx).map_err(TemplateError::from))
                .and_then(|value| to_json(&value))
        };
        // (expression, whether it is read without minijinja)
        let cases = [
            ("inputs.count", true),
            ("inputs.name", true),
            ("inputs.list", true),
            ("inputs.nothing", true),
            ("inputs.none", true),
            ("steps.start.execution_id", true),
            ("steps.start.output.deep", true),
            ("steps.start.output.deep.x", true),
            ("item", true),
            ("item.a", true),
            ("inputs", true),
            ("true", false),
            ("none", false),
            ("inputs.missing", false),
            ("inputs.missing.deeper", false),
            ("inputs.nothing.x", false),
            ("inputs.count.x", false),
            ("missing", false),
            ("inputs.list.0", false),
            ("inputs.list[0]", false),
            ("inputs .count", false),
            ("inputs.count + 1", false),
            ("steps.start.execution_id | upper", false),
            ("now", false),
            ("é", false),
            ("inputs.", false),
            (".inputs", false),
        ];
        for (expr, short) in cases {
            assert_eq!(read_name(expr, &ctx).is_some(), short, "{expr}");
            let text = format!("{{{{ {expr} }}}}");
            assert_eq!(engine.render_str(&text, &ctx), by_minijinja(expr), "{expr}");
        }
    }

    #[test]
    fn a_repeated_string_reads_the_same_names_and_the_same_mistake_each_time() {
        let engine = Engine::default();
        for _ in 0..2 {
            let names = engine
                .references("id: {{ steps.start.execution_id }}")
                .unwrap();
            assert!(names.contains("steps.start.execution_id"), "{names:?}");
            let mistake = engine
                .references("{{ steps.a | no_such_filter }}")
                .unwrap_err();
            assert_eq!(mistake.0, "unknown filter `no_such_filter`");
            assert!(engine.condition_references("{{ x }}").is_err());
            assert!(engine.condition_references("x > 1").unwrap().contains("x"));
        }
    }

    #[test]
    fn one_expression_keeps_its_type() {
        let engine = Engine::default();
        let ctx = context();
        assert_eq!(
            engine.render_str("{{ inputs.count }}", &ctx).unwrap(),
            json!(3)
        );
        assert_eq!(
            engine.render_str("{{ inputs.tags }}", &ctx).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            engine.render_str("n={{ inputs.count }}", &ctx).unwrap(),
            json!("n=3")
        );
        assert_eq!(engine.render_str("plain", &ctx).unwrap(), json!("plain"));
    }

    #[test]
    fn api_values_are_not_rendered_again() {
        let engine = Engine::default();
        let ctx = context();
        assert_eq!(
            engine
                .render_str("{{ steps.echo.output.text }}", &ctx)
                .unwrap(),
            json!("{{ 7 * 7 }}")
        );
        assert_eq!(
            engine
                .render_str("got {{ steps.echo.output.text }}", &ctx)
                .unwrap(),
            json!("got {{ 7 * 7 }}")
        );
    }

    #[test]
    fn undefined_is_an_error() {
        let engine = Engine::default();
        let ctx = context();
        assert!(engine.render_str("{{ inputs.missing }}", &ctx).is_err());
        assert!(engine.render_str("a {{ inputs.missing }}", &ctx).is_err());
        assert!(engine.condition("inputs.missing", &ctx).is_err());
    }

    #[test]
    fn jsonpath_finds_matches() {
        let engine = Engine::default();
        let ctx = context();
        assert_eq!(
            engine
                .render_str("{{ inputs | jsonpath('$.tags.a') | first }}", &ctx)
                .unwrap(),
            json!(1)
        );
    }

    #[test]
    fn a_render_that_works_without_end_runs_out_of_fuel() {
        let engine = Engine::default();
        let loops =
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
        let error = engine.render_str(loops, &context()).unwrap_err();
        assert!(error.0.contains("more work"), "{error}");
    }

    #[test]
    fn a_render_larger_than_a_mebibyte_is_refused() {
        let engine = Engine::default();
        let ctx = to_jinja(&json!({"inputs": {"s": "x".repeat(1000), "n": 100_000}}));
        let many = "{% for a in range(2000) %}{{ inputs.s }}{% endfor %}";
        let error = engine.render_str(many, &ctx).unwrap_err();
        assert!(error.0.contains("MiB"), "{error}");
        let error = engine
            .render_str("{{ inputs.s * 2000 }}", &ctx)
            .unwrap_err();
        assert!(error.0.contains("MiB"), "{error}");
    }

    #[test]
    fn growing_filters_are_bounded_before_they_run() {
        let engine = Engine::default();
        let ctx = context();
        for (text, expected) in [
            ("{{ '%999999999s' | format('x') }}", "width"),
            ("{{ '%*s' | format(999999999, 'x') }}", "`*`"),
            ("{{ ('a' ~ '\n') | indent(99999) }}", ""),
            ("{{ range(100000) | join('x' * 20) }}", "MiB"),
            ("{{ 'aaaa' | replace('', 'b' * 60000) }}", ""),
            ("{{ inputs | tojson(indent=100000) }}", "indents"),
        ] {
            match engine.render_str(text, &ctx) {
                Ok(value) => assert!(
                    value.to_string().len() <= MAX_RENDERED_BYTES,
                    "{text} rendered {} bytes",
                    value.to_string().len()
                ),
                Err(error) => assert!(error.0.contains(expected), "{text}: {error}"),
            }
        }
        assert_eq!(
            engine
                .render_str("{{ '%5s|' | format('ab') }}", &ctx)
                .unwrap(),
            json!("   ab|")
        );
        assert_eq!(
            engine
                .render_str("{{ 'a\nb' | indent(2, true) }}", &ctx)
                .unwrap(),
            json!("  a\n  b")
        );
    }

    #[test]
    fn a_deeply_nested_jsonpath_is_refused_before_it_is_parsed() {
        let engine = Engine::default();
        let query = format!("$[?{}@.a{}]", "(".repeat(20_000), ")".repeat(20_000));
        let ctx = to_jinja(&json!({"inputs": {"q": query}}));
        let error = engine
            .render_str("{{ inputs | jsonpath(inputs.q) }}", &ctx)
            .unwrap_err();
        assert!(error.0.contains("JSONPath"), "{error}");
    }

    #[test]
    fn bounded_filters_take_keyword_arguments_as_before() {
        let engine = Engine::default();
        let ctx = context();
        let render = |text: &str| engine.render_str(text, &ctx).unwrap();
        assert_eq!(
            render("{{ {'a': 1} | tojson(indent=2) }}"),
            json!("{\n  \"a\": 1\n}")
        );
        assert_eq!(
            render("{{ 'a\nb' | indent(width=3, first=true) }}"),
            json!("   a\n   b")
        );
        assert_eq!(render("{{ [1, 2] | join(d='-') }}"), json!("1-2"));
        assert_eq!(render("{{ 'abc' | replace('b', 'x') }}"), json!("axc"));
    }

    #[test]
    fn references_are_dotted_names() {
        let engine = Engine::default();
        let names = engine
            .references("{{ steps.start.execution_id }}-{{ inputs.name | upper }}-{{ now() }}")
            .unwrap();
        assert!(names.contains("steps.start.execution_id"), "{names:?}");
        assert!(names.contains("inputs.name"), "{names:?}");
        assert!(names.contains("now"), "{names:?}");
    }
}
