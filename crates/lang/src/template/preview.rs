//! Rendering for a plan: what the inputs decide is filled in; a plain reference to what only
//! the run will know (a step's result, a variable) is shown as `<steps.deploy.execution_id>`;
//! anything else that depends on the run is kept as written, never guessed.

use std::collections::BTreeMap;

use minijinja::Value as JinjaValue;
use serde_json::{Map, Value};

use super::{shape, to_jinja, Engine, Shape};

/// Renders runbook values as far as the inputs decide them.
pub struct Preview {
    engine: Engine,
    context: JinjaValue,
}

impl Preview {
    /// `inputs` as they may be shown: a secret one already masked, so nothing computed from
    /// it can reveal it.
    pub fn new(inputs: &Map<String, Value>) -> Self {
        let context = BTreeMap::from([("inputs", to_jinja(&Value::Object(inputs.clone())))]);
        Self {
            engine: Engine::default(),
            context: JinjaValue::from_object(context),
        }
    }

    /// `value` with every string shown as far as the inputs decide it.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => self.text(text),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), self.value(item)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn text(&self, text: &str) -> Value {
        let kept = || Value::String(text.to_owned());
        match shape(text) {
            Shape::Literal => kept(),
            Shape::Expression(expr) => self.expression(text, expr).unwrap_or_else(kept),
            Shape::Template if text.contains("{%") || text.contains("{#") => {
                self.by_inputs(text).unwrap_or_else(kept)
            }
            Shape::Template => self.blocks(text).map_or_else(kept, Value::String),
        }
    }

    /// A template of text and `{{ }}` blocks, each block shown on its own.
    fn blocks(&self, text: &str) -> Option<String> {
        let mut shown = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            shown.push_str(&rest[..open]);
            let close = open + rest[open..].find("}}")? + 2;
            let block = &rest[open..close];
            let expr = block[2..block.len() - 2].trim().trim_matches('-').trim();
            match self.expression(block, expr)? {
                Value::String(part) => shown.push_str(&part),
                other => shown.push_str(&other.to_string()),
            }
            rest = &rest[close..];
        }
        shown.push_str(rest);
        Some(shown)
    }

    /// One `{{ expr }}` (written as `text`): rendered when it reads only inputs, a
    /// placeholder when it is a plain path into what the run will know.
    fn expression(&self, text: &str, expr: &str) -> Option<Value> {
        if is_plain_path(expr) && !expr.starts_with("inputs.") && expr != "inputs" {
            return Some(Value::String(format!("<{expr}>")));
        }
        self.by_inputs(text)
    }

    fn by_inputs(&self, text: &str) -> Option<Value> {
        let names = self.engine.references(text).ok()?;
        if !names
            .iter()
            .all(|name| name == "inputs" || name.starts_with("inputs."))
        {
            return None;
        }
        self.engine.render_str(text, &self.context).ok()
    }
}

/// `steps.deploy.execution_id`, `item`, `steps.hosts[0].name`: names and indexes only.
fn is_plain_path(expr: &str) -> bool {
    let mut parts = expr.split('.');
    let word = |part: &str| {
        let name = part.split('[').next().unwrap_or_default();
        let indexes = &part[name.len()..];
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        starts_well
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && indexes.split_terminator(']').all(|index| {
                index
                    .strip_prefix('[')
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            })
    };
    parts.all(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_are_filled_in_and_run_time_paths_stay_placeholders() {
        let inputs = json!({"env": "prod", "token": "***", "hosts": ["a", "b"]});
        let preview = Preview::new(inputs.as_object().unwrap());
        let shown = preview.value(&json!({
            "workflow_id": "deploy-{{ inputs.env }}",
            "execution_id": "{{ steps.start.execution_id }}",
            "mixed": "{{ inputs.env }}/{{ steps.start.execution_id }}",
            "secret": "{{ inputs.token | upper }}",
            "list": "{{ inputs.hosts }}",
            "item": "{{ item }} of {{ steps.hosts[0].name }}",
            "when": "{{ now() }}",
            "filtered": "{{ steps.start.execution_id | upper }}",
            "statement": "{% if vars.x %}a{% endif %}",
            "n": 3
        }));
        assert_eq!(shown["workflow_id"], "deploy-prod");
        assert_eq!(shown["execution_id"], "<steps.start.execution_id>");
        assert_eq!(shown["mixed"], "prod/<steps.start.execution_id>");
        assert_eq!(shown["secret"], "***");
        assert_eq!(shown["list"], json!(["a", "b"]));
        assert_eq!(shown["item"], "<item> of <steps.hosts[0].name>");
        assert_eq!(shown["when"], "{{ now() }}");
        assert_eq!(shown["filtered"], "{{ steps.start.execution_id | upper }}");
        assert_eq!(shown["statement"], "{% if vars.x %}a{% endif %}");
        assert_eq!(shown["n"], 3);
    }
}
