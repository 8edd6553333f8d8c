//! Replacing secrets with `***` in any text before it leaves the process.

/// The secrets of one run: credentials and secret inputs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

pub const MASK: &str = "***";

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = Vec::new();
        for secret in secrets {
            if secret.is_empty() {
                continue;
            }
            // The same secret inside JSON text is escaped.
            if let Ok(quoted) = serde_json::to_string(&secret) {
                let escaped = quoted[1..quoted.len() - 1].to_owned();
                if escaped != secret {
                    all.push(escaped);
                }
            }
            all.push(secret);
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all.dedup();
        Self { secrets: all }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_plain_and_json_escaped_forms() {
        let redactor = Redactor::new(["s3cr\"et".to_owned(), "token".to_owned(), String::new()]);
        assert_eq!(redactor.redact("a s3cr\"et b token"), "a *** b ***");
        let json = serde_json::json!({"v": "s3cr\"et"}).to_string();
        assert!(!redactor.redact(&json).contains("s3cr"));
    }
}
