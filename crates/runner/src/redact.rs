//! Secrets are replaced in values, where they are made, never in printed text.
//!
//! A run's [`Redactor`] knows its secrets: the credentials, the secret inputs (every string,
//! number and boolean inside them), and every value a template computed from a secret (the
//! runner adds those as it renders them; see `Run::render`). Observed values — events, the run
//! state, errors — pass through [`Redactor::value`] or [`Redactor::text`]:
//!
//! - a string that *is* a secret becomes `***`, whatever its length;
//! - a secret of [`MIN_SCRUB_LEN`] characters or more is also replaced where it appears inside
//!   a longer string, as written, JSON-escaped or percent-encoded (as in a URL of a transport
//!   error). Shorter secrets are replaced only as whole values, so a secret `e` cannot turn
//!   `exit_code` into `***xit_cod***`.
//!
//! Keys, statuses, ids and timestamps the program generates are never passed through it.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value;

pub const MASK: &str = "***";

/// Secrets shorter than this are replaced only where they are a whole value.
pub const MIN_SCRUB_LEN: usize = 4;

/// The secrets of one run; clones share them, and secrets added later apply to every clone.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Secrets>>,
}

#[derive(Debug, Default)]
struct Secrets {
    whole: BTreeSet<String>,
    /// Whether a whole secret reads as a JSON number or boolean: only then can a number or a
    /// boolean be one, and the check (which writes each out) is worth making.
    scalars: bool,
    /// The forms searched for inside longer text, longest first so a secret containing
    /// another is replaced whole.
    inside: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let redactor = Self::default();
        for secret in secrets {
            redactor.add(&secret);
        }
        redactor
    }

    /// Adds one secret string.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        if !secrets.whole.insert(secret.to_owned()) {
            return;
        }
        secrets.scalars |= matches!(
            serde_json::from_str::<Value>(secret),
            Ok(Value::Number(_) | Value::Bool(_))
        );
        if secret.chars().count() < MIN_SCRUB_LEN {
            return;
        }
        let mut forms = vec![secret.to_owned(), hwc_client::runtime::url_encoded(secret)];
        if let Ok(quoted) = serde_json::to_string(secret) {
            forms.push(quoted[1..quoted.len() - 1].to_owned());
        }
        for form in forms {
            if !secrets.inside.contains(&form) {
                secrets.inside.push(form);
            }
        }
        secrets
            .inside
            .sort_by_key(|form| std::cmp::Reverse(form.len()));
    }

    /// Adds every string, number and boolean inside `value` (and, for a string, the string).
    pub fn add_value(&self, value: &Value) {
        match value {
            Value::Null => {}
            Value::String(text) => self.add(text),
            Value::Number(_) | Value::Bool(_) => self.add(&value.to_string()),
            Value::Array(items) => items.iter().for_each(|item| self.add_value(item)),
            Value::Object(map) => map.values().for_each(|item| self.add_value(item)),
        }
    }

    /// Grows whenever a secret is added: a judgement of a value made at one generation
    /// holds until the next.
    pub fn generation(&self) -> usize {
        self.secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .whole
            .len()
    }

    /// Whether the run has no secret at all (then nothing can be computed from one).
    pub fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .whole
            .is_empty()
    }

    /// Whether `value` holds a secret: a leaf that is one, or a string with one inside.
    pub fn touches(&self, value: &Value) -> bool {
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        touches(&secrets, value)
    }

    /// `value` with every secret replaced; keys are kept. Replaced where it stands: a large
    /// value with nothing to hide is not copied.
    pub fn value(&self, mut value: Value) -> Value {
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        if !secrets.whole.is_empty() {
            redact_value(&secrets, &mut value);
        }
        value
    }

    /// `text` with every secret replaced: whole, or inside it when long enough.
    pub fn text(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = text.to_owned();
        redact_text(&secrets, &mut text);
        text
    }

    pub fn optional_text(&self, text: Option<&str>) -> Option<String> {
        text.map(|text| self.text(text))
    }
}

fn redact_text(secrets: &Secrets, text: &mut String) {
    if secrets.whole.contains(text.as_str()) {
        MASK.clone_into(text);
        return;
    }
    for form in &secrets.inside {
        if text.contains(form.as_str()) {
            *text = text.replace(form.as_str(), MASK);
        }
    }
}

fn redact_value(secrets: &Secrets, value: &mut Value) {
    match value {
        Value::String(text) => redact_text(secrets, text),
        Value::Number(_) | Value::Bool(_) if scalar_is_secret(secrets, value) => {
            *value = Value::String(MASK.to_owned());
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_value(secrets, item)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|item| redact_value(secrets, item)),
        Value::Null | Value::Number(_) | Value::Bool(_) => {}
    }
}

fn scalar_is_secret(secrets: &Secrets, value: &Value) -> bool {
    secrets.scalars && secrets.whole.contains(&value.to_string())
}

fn touches(secrets: &Secrets, value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => {
            secrets.whole.contains(text)
                || secrets
                    .inside
                    .iter()
                    .any(|form| text.contains(form.as_str()))
        }
        Value::Number(_) | Value::Bool(_) => scalar_is_secret(secrets, value),
        Value::Array(items) => items.iter().any(|item| touches(secrets, item)),
        Value::Object(map) => map.values().any(|item| touches(secrets, item)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_secrets_are_replaced_only_as_whole_values() {
        let redactor = Redactor::new(["e".to_owned(), ":".to_owned()]);
        assert_eq!(redactor.text("exit_code: 1"), "exit_code: 1");
        assert_eq!(redactor.text("e"), MASK);
        assert_eq!(
            redactor.value(json!({"exit_code": "e", "k": ":", "n": "e:"})),
            json!({"exit_code": MASK, "k": MASK, "n": "e:"})
        );
    }

    #[test]
    fn long_secrets_are_replaced_inside_text_in_every_form() {
        let redactor = Redactor::new(["s3cr\"et/x".to_owned()]);
        assert_eq!(redactor.text("a s3cr\"et/x b"), "a *** b");
        let json = json!({"v": "s3cr\"et/x"}).to_string();
        assert!(
            !redactor.text(&json).contains("s3cr"),
            "{}",
            redactor.text(&json)
        );
        let url = "http://h/v1/p/cms/workflow/s3cr%22et%2Fx/executions";
        assert_eq!(
            redactor.text(url),
            "http://h/v1/p/cms/workflow/***/executions"
        );
    }

    #[test]
    fn secrets_added_later_apply_to_every_clone() {
        let redactor = Redactor::default();
        let clone = redactor.clone();
        redactor.add_value(&json!({"user": "bob", "pin": 1234}));
        assert!(clone.touches(&json!(["x", 1234])));
        assert_eq!(clone.value(json!([1234, "bob"])), json!([MASK, MASK]));
    }
}
