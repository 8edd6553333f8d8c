//! Reading a YAML document within the limits, for runbooks and inputs files alike.
//!
//! serde_yaml expands an alias by replaying its anchor's events, and only stops a document
//! whose replays outnumber its events a hundredfold — so a 100 KB file of aliases to one big
//! anchor still asks for gigabytes. Here the value is built by a visitor that counts what it
//! builds, aliases included, and stops at the first limit passed, before the memory is spent.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};

use crate::limits::{MAX_YAML_DEPTH, MAX_YAML_EXPANDED_BYTES, MAX_YAML_NODES};

/// Why a document was not read, and where (1-based line and column), when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub location: Option<(usize, usize)>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_yaml::Error> for Error {
    fn from(error: serde_yaml::Error) -> Self {
        Self {
            location: error.location().map(|at| (at.line(), at.column())),
            message: error.to_string(),
        }
    }
}

/// Parses one YAML document, refusing one that expands past the limits.
pub fn from_str(text: &str) -> Result<Value, Error> {
    if let Some(location) = flow_too_deep(text) {
        return Err(Error {
            message: format!(
                "brackets (`[`, `{{`) nested deeper than {MAX_YAML_DEPTH} levels (those in \
                 quoted text count too)"
            ),
            location: Some(location),
        });
    }
    let mut budget = Budget::default();
    let deserializer = serde_yaml::Deserializer::from_str(text);
    Ok(Bounded {
        budget: &mut budget,
        depth: 0,
    }
    .deserialize(deserializer)?)
}

/// Where flow collections first nest deeper than the limit, by a linear count of brackets
/// outside comments, before the YAML library sees the text: its scanner revisits every open
/// flow level at each token, so 100,000 nested `[` take it minutes. Quoted text is not told
/// apart (that takes a YAML scanner); a document with dozens of unclosed brackets in its
/// strings is refused, never one the library would be slow on.
fn flow_too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (index, line) in text.split('\n').enumerate() {
        let mut previous = ' ';
        for (column, c) in line.chars().enumerate() {
            match c {
                '#' if previous.is_whitespace() => break,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_YAML_DEPTH {
                        return Some((index + 1, column + 1));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            previous = c;
        }
    }
    None
}

/// What the document has built so far.
#[derive(Default)]
struct Budget {
    nodes: usize,
    bytes: usize,
}

impl Budget {
    fn node<E: de::Error>(&mut self, text_bytes: usize) -> Result<(), E> {
        self.nodes += 1;
        self.bytes = self.bytes.saturating_add(text_bytes);
        if self.nodes > MAX_YAML_NODES {
            return Err(E::custom(format!(
                "the document expands to more than {MAX_YAML_NODES} values (aliases count as \
                 everything they stand for)"
            )));
        }
        if self.bytes > MAX_YAML_EXPANDED_BYTES {
            return Err(E::custom(format!(
                "the document expands to more than {} MiB of text (aliases count as everything \
                 they stand for)",
                MAX_YAML_EXPANDED_BYTES >> 20
            )));
        }
        Ok(())
    }
}

/// Builds a [`Value`] one level down, charging every node to the budget.
struct Bounded<'b> {
    budget: &'b mut Budget,
    depth: usize,
}

impl Bounded<'_> {
    fn deeper(&mut self) -> Bounded<'_> {
        Bounded {
            budget: self.budget,
            depth: self.depth + 1,
        }
    }

    fn nest<E: de::Error>(&mut self) -> Result<(), E> {
        if self.depth >= MAX_YAML_DEPTH {
            return Err(E::custom(format!(
                "nesting deeper than {MAX_YAML_DEPTH} levels"
            )));
        }
        self.budget.node(0)
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.node(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.node(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.node(0)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.node(0)?;
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.node(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.budget.node(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.budget.node(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        self.nest()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.deeper())? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        self.nest()?;
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self.deeper())? {
            if mapping.contains_key(&key) {
                return Err(de::Error::custom(duplicate(&key)));
            }
            let value = map.next_value_seed(self.deeper())?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(mut self, data: A) -> Result<Value, A::Error> {
        use de::VariantAccess;
        self.nest()?;
        let (tag, variant) = data.variant::<String>()?;
        let value = variant.newtype_variant_seed(self.deeper())?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// serde_yaml's own words for a key written twice.
fn duplicate(key: &Value) -> String {
    match key {
        Value::Null => "duplicate entry with null key".to_owned(),
        Value::Bool(boolean) => format!("duplicate entry with key `{boolean}`"),
        Value::Number(number) => format!("duplicate entry with key {number}"),
        Value::String(string) => format!("duplicate entry with key {string:?}"),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => {
            "duplicate entry in YAML map".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_document_reads_as_serde_yaml_reads_it() {
        let text = "a: [1, -2, 3.5, true, null, 'x']\nb: &anchor {c: d}\ne: *anchor\nf: !tag 1\n";
        let expected: Value = serde_yaml::from_str(text).unwrap();
        assert_eq!(from_str(text).unwrap(), expected);
    }

    #[test]
    fn a_flat_alias_bomb_is_refused_by_what_it_expands_to() {
        let big = "x".repeat(100_000);
        let aliases = "  - *big\n".repeat(2_000);
        let text = format!("anchor: &big {big}\nmany:\n{aliases}");
        let error = from_str(&text).unwrap_err().to_string();
        assert!(error.contains("MiB of text"), "{error}");
    }

    #[test]
    fn many_aliases_of_a_long_list_are_refused_by_their_node_count() {
        let list = vec!["1"; 1_000].join(", ");
        let aliases = "  - *list\n".repeat(2_000);
        let text = format!("anchor: &list [{list}]\nmany:\n{aliases}");
        let error = from_str(&text).unwrap_err().to_string();
        assert!(error.contains("values"), "{error}");
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_the_yaml_library_reads_it() {
        let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let error = from_str(&text).unwrap_err();
        assert_eq!(error.location, Some((1, 4 + MAX_YAML_DEPTH)));
        let commented = format!("# {}\na: [[1]]\n", "[".repeat(100));
        assert!(from_str(&commented).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_with_a_location() {
        let text = "a:\n".to_owned()
            + &(1..100)
                .map(|level| format!("{}- \n", "  ".repeat(level)))
                .collect::<String>();
        let error = from_str(&text).unwrap_err();
        assert!(error.to_string().contains("nesting deeper"), "{error}");
        assert!(error.location.is_some(), "{error}");
    }
}
