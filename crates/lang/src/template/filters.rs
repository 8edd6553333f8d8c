//! minijinja's filters that can make their result much larger than their input, wrapped so
//! that no one call builds more than [`MAX_RENDERED_BYTES`].
//!
//! Fuel counts instructions, not bytes: `'%999999999s' | format` is one instruction and a
//! gigabyte, and a chain of `tojson` nearly doubles its input at every link. Where the size of a
//! result can be known from the arguments it is checked before the call; every result is
//! checked after it, so each link of a chain starts from at most a mebibyte.

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::limits::{MAX_FORMAT_WIDTH, MAX_RENDERED_BYTES};

/// The widest `tojson(indent=N)`.
const MAX_JSON_INDENT: i64 = 16;

type Check = fn(&[Value]) -> Result<(), Error>;

/// Replaces the growing filters of `env` with bounded ones.
pub fn bound(env: &mut Environment<'static>) {
    let growing: [(&'static str, Value, Check); 6] = [
        (
            "format",
            Value::from_function(minijinja::filters::format),
            check_format,
        ),
        (
            "indent",
            Value::from_function(minijinja::filters::indent),
            check_indent,
        ),
        (
            "replace",
            Value::from_function(minijinja::filters::replace),
            check_replace,
        ),
        (
            "join",
            Value::from_function(minijinja::filters::join),
            check_join,
        ),
        (
            "tojson",
            Value::from_function(minijinja::filters::tojson),
            check_tojson,
        ),
        (
            "pprint",
            Value::from_function(minijinja::filters::pprint),
            no_check,
        ),
    ];
    for (name, original, check) in growing {
        env.add_filter(
            name,
            move |state: &mut State, args: Rest<Value>, keywords: Kwargs| {
                let mut args = args.0;
                if keywords.args().next().is_some() {
                    args.push(Value::from(keywords));
                }
                check(&args)?;
                let result = original.call(state, &args)?;
                check_result(name, &result)?;
                Ok::<Value, Error>(result)
            },
        );
    }
}

fn too_large(what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{what} would be larger than {} MiB, the most one template value may be",
            MAX_RENDERED_BYTES >> 20
        ),
    )
}

fn check_result(name: &str, result: &Value) -> Result<(), Error> {
    let size = result.as_str().map_or(0, str::len);
    if size > MAX_RENDERED_BYTES {
        return Err(too_large(format_args!("the result of `{name}`")));
    }
    Ok(())
}

fn no_check(_: &[Value]) -> Result<(), Error> {
    Ok(())
}

/// Argument `position` (0 is the filtered value), or the keyword argument `name`.
fn argument(args: &[Value], position: usize, name: &str) -> Option<Value> {
    let keywords = args.last().filter(|last| last.is_kwargs());
    let positional = args.len() - usize::from(keywords.is_some());
    if position < positional {
        return Some(args[position].clone());
    }
    keywords
        .and_then(|keywords| keywords.get_attr(name).ok())
        .filter(|value| !value.is_undefined())
}

fn length(value: Option<&Value>) -> usize {
    value.map_or(0, |value| match value.as_str() {
        Some(text) => text.len(),
        None => value.to_string().len(),
    })
}

fn count(value: Option<Value>) -> usize {
    value
        .and_then(|value| usize::try_from(value).ok())
        .unwrap_or(0)
}

/// A printf width or precision larger than [`MAX_FORMAT_WIDTH`], or one taken from the
/// arguments (`%*s`), which could be anything.
fn check_format(args: &[Value]) -> Result<(), Error> {
    let Some(spec) = args.first().and_then(Value::as_str) else {
        return Ok(());
    };
    let bytes = spec.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'%' {
            at += 1;
            continue;
        }
        at += 1;
        let mut number = 0usize;
        while at < bytes.len() && !bytes[at].is_ascii_alphabetic() && bytes[at] != b'%' {
            match bytes[at] {
                b'*' => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "`format` widths come from the format string (`%10s`), not `*`",
                    ))
                }
                digit @ b'0'..=b'9' => {
                    number = number
                        .saturating_mul(10)
                        .saturating_add(usize::from(digit - b'0'));
                    if number > MAX_FORMAT_WIDTH {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            format!("a `format` width or precision over {MAX_FORMAT_WIDTH}"),
                        ));
                    }
                }
                _ => number = 0,
            }
            at += 1;
        }
        at += 1;
    }
    Ok(())
}

fn check_indent(args: &[Value]) -> Result<(), Error> {
    let text = args.first();
    let lines = text
        .and_then(Value::as_str)
        .map_or(1, |text| text.bytes().filter(|b| *b == b'\n').count() + 1);
    let width = count(argument(args, 1, "width"));
    let size = lines.saturating_mul(width).saturating_add(length(text));
    if size > MAX_RENDERED_BYTES {
        return Err(too_large("the result of `indent`"));
    }
    Ok(())
}

fn check_replace(args: &[Value]) -> Result<(), Error> {
    let (Some(text), Some(from), Some(to)) = (
        args.first().and_then(Value::as_str),
        args.get(1).and_then(Value::as_str),
        args.get(2),
    ) else {
        return Ok(());
    };
    let matches = if from.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(from).count()
    };
    let size = matches
        .saturating_mul(length(Some(to)))
        .saturating_add(text.len());
    if size > MAX_RENDERED_BYTES {
        return Err(too_large("the result of `replace`"));
    }
    Ok(())
}

fn check_join(args: &[Value]) -> Result<(), Error> {
    let items = args.first().and_then(Value::len).unwrap_or(0);
    let joiner = length(argument(args, 1, "d").as_ref());
    if items.saturating_mul(joiner) > MAX_RENDERED_BYTES {
        return Err(too_large("the result of `join`"));
    }
    Ok(())
}

fn check_tojson(args: &[Value]) -> Result<(), Error> {
    let indent = argument(args, 1, "indent").and_then(|indent| indent.as_i64());
    if indent.is_some_and(|indent| indent > MAX_JSON_INDENT) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`tojson` indents at most {MAX_JSON_INDENT} spaces"),
        ));
    }
    Ok(())
}
