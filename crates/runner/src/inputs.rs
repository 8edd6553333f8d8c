//! Turning what the user gave (`-i key=value`, `--inputs FILE`) into the runbook's typed
//! inputs: types, defaults, required, enum, pattern. Input values are data: never rendered.

use serde_json::{Map, Value};

use runbook_lang::{InputSpec, InputType, Runbook};

/// One input as given.
#[derive(Debug, Clone)]
pub enum Given {
    /// From `-i key=value`: read according to the input's type.
    Text(String),
    /// From an inputs file: already typed.
    Value(Value),
}

/// The typed inputs, or every problem with them. Messages never contain a secret's value.
pub fn resolve(
    runbook: &Runbook,
    given: Vec<(String, Given)>,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut problems = Vec::new();
    let mut values = Map::new();
    for (name, value) in given {
        let Some(spec) = runbook.inputs.get(&name) else {
            let declared: Vec<&str> = runbook.inputs.keys().map(String::as_str).collect();
            problems.push(format!(
                "unknown input `{name}`; the runbook declares: {}",
                if declared.is_empty() {
                    "no inputs".to_owned()
                } else {
                    declared.join(", ")
                }
            ));
            continue;
        };
        match typed(&name, spec, value) {
            Ok(value) => {
                values.insert(name, value);
            }
            Err(problem) => problems.push(problem),
        }
    }
    for (name, spec) in &runbook.inputs {
        if values.contains_key(name) {
            continue;
        }
        match &spec.default {
            Some(default) => {
                values.insert(name.clone(), default.clone());
            }
            None if spec.required => problems.push(format!(
                "input `{name}` is required: pass it with `-i {name}=VALUE` or in `--inputs FILE`"
            )),
            None => {
                values.insert(name.clone(), Value::Null);
            }
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

fn typed(name: &str, spec: &InputSpec, given: Given) -> Result<Value, String> {
    let shown = |text: &str| {
        if spec.secret {
            "the value".to_owned()
        } else {
            format!("`{text}`")
        }
    };
    let value = match given {
        Given::Value(value) => value,
        Given::Text(text) => match spec.kind {
            InputType::String => Value::String(text),
            InputType::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("input `{name}`: {} is not an integer", shown(&text)))?,
            InputType::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("input `{name}`: {} is not a number", shown(&text)))?,
            InputType::Boolean => match text.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "input `{name}`: {} is not `true` or `false`",
                        shown(&text)
                    ))
                }
            },
            InputType::Object | InputType::Array => {
                serde_json::from_str(&text).map_err(|error| {
                    format!("input `{name}`: {} is not JSON ({error})", shown(&text))
                })?
            }
        },
    };
    if !spec.kind.accepts(&value) {
        return Err(format!(
            "input `{name}` is a {}, got {}",
            spec.kind.name(),
            runbook_lang::template::json_type(&value)
        ));
    }
    if let Some(allowed) = &spec.allowed {
        if !allowed.contains(&value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(format!("input `{name}` must be one of {}", list.join(", ")));
        }
    }
    if let (Some(pattern), Some(text)) = (&spec.pattern, value.as_str()) {
        let anchored = format!("^(?:{pattern})$");
        let matches = regex::Regex::new(&anchored)
            .map(|re| re.is_match(text))
            .unwrap_or(false);
        if !matches {
            return Err(format!(
                "input `{name}`: {} does not match `{pattern}`",
                shown(text)
            ));
        }
    }
    Ok(value)
}

/// The inputs as reports show them: secret ones as `***`.
pub fn shown(runbook: &Runbook, inputs: &Map<String, Value>) -> Map<String, Value> {
    inputs
        .iter()
        .map(|(name, value)| {
            let secret = runbook.inputs.get(name).is_some_and(|spec| spec.secret);
            let shown = if secret && !value.is_null() {
                Value::String("***".into())
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}
