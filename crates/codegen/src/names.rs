//! How spec names become Rust names. One place, so the emitters agree with the validation.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::Ident;
use quote::format_ident;

/// A field or method name; Rust keywords become raw identifiers (`r#type`).
pub fn snake_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    match syn::parse_str::<Ident>(&snake) {
        Ok(ident) => ident,
        Err(_) => Ident::new_raw(&snake, proc_macro2::Span::call_site()),
    }
}

pub fn type_ident(name: &str) -> Ident {
    format_ident!("{}", name.to_upper_camel_case())
}

pub fn const_ident(name: &str) -> Ident {
    format_ident!("{}", name.to_shouty_snake_case())
}

/// The enum variant for a wire value; empty when the value has no letters or digits.
pub fn variant_name(value: &str) -> String {
    let camel = value.to_upper_camel_case();
    match camel.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("V{camel}"),
        _ => camel,
    }
}

/// The name of an operation's parameter struct.
pub fn params_type(operation_id: &str) -> Ident {
    format_ident!("{}Params", operation_id)
}

/// The method name of a waiter: `AomExecutionSucceeded` → `wait_until_aom_execution_succeeded`.
pub fn waiter_method(waiter: &str) -> Ident {
    format_ident!("wait_until_{}", waiter.to_snake_case())
}
