//! Serde models for `components/schemas`: structs for objects, open enums for string enums.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{docs, rust_type};
use crate::ir::{Api, Field, Schema, SchemaKind, TypeRef};
use crate::names::{snake_ident, type_ident, variant_name};

pub fn emit(api: &Api, _runtime: &syn::Path) -> TokenStream {
    let defaultable = defaultable_structs(api);
    let items = api.schemas.values().map(|schema| match &schema.kind {
        SchemaKind::Object { fields } => object(schema, fields, defaultable.contains(&schema.name)),
        SchemaKind::Enum { values } => open_enum(schema, values),
    });
    quote! {
        //! Request and response bodies and the enums they use, from `components/schemas`.
        #(#items)*
    }
}

/// Structs whose required fields all have a `Default`, so the struct can derive it. Enums have
/// no sensible default, so a struct that requires one does not get one either.
fn defaultable_structs(api: &Api) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    loop {
        let before = known.len();
        for schema in api.schemas.values() {
            if let SchemaKind::Object { fields } = &schema.kind {
                let all = fields
                    .iter()
                    .filter(|f| f.required)
                    .all(|f| type_has_default(&f.ty, &known));
                if all {
                    known.insert(schema.name.clone());
                }
            }
        }
        if known.len() == before {
            return known;
        }
    }
}

fn type_has_default(ty: &TypeRef, defaultable: &BTreeSet<String>) -> bool {
    match ty {
        TypeRef::Named(name) => defaultable.contains(name),
        _ => true,
    }
}

fn object(schema: &Schema, fields: &[Field], derive_default: bool) -> TokenStream {
    let name = type_ident(&schema.name);
    let doc = docs(schema.description.as_deref(), None);
    let default = derive_default.then(|| quote!(Default,));
    let fields = fields.iter().map(|field| {
        let ident = snake_ident(&field.json_name);
        let ty = rust_type(&field.ty, true);
        let doc = docs(field.description.as_deref(), Some(&field.constraints));
        let rename = (ident.to_string().trim_start_matches("r#") != field.json_name).then(|| {
            let json = &field.json_name;
            quote!(rename = #json,)
        });
        if field.required {
            let attr = rename.map(|r| quote!(#[serde(#r)]));
            quote! { #doc #attr pub #ident: #ty, }
        } else {
            quote! {
                #doc
                #[serde(#rename default, skip_serializing_if = "Option::is_none")]
                pub #ident: Option<#ty>,
            }
        }
    });
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, #default serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        pub struct #name {
            #(#fields)*
        }
    }
}

/// An enum that accepts any string: known values get a variant, others land in `Unknown`, so
/// a status the cloud adds tomorrow never breaks deserialisation.
fn open_enum(schema: &Schema, values: &[String]) -> TokenStream {
    let name = type_ident(&schema.name);
    let type_name = &schema.name;
    let doc = docs(schema.description.as_deref(), None);
    let variants: Vec<_> = values
        .iter()
        .map(|v| quote::format_ident!("{}", variant_name(v)))
        .collect();
    let variant_docs = values.iter().map(|v| format!(" `{v}`"));
    let description = schema.description.clone().unwrap_or_default();
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #name {
            #(#[doc = #variant_docs] #variants,)*
            /// A value this version of the spec does not know.
            Unknown(String),
        }

        impl #name {
            /// The values the spec documents, in its order.
            pub const KNOWN: &'static [&'static str] = &[#(#values),*];

            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#variants => #values,)*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#values => Self::#variants,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <String as serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }

        impl schemars::JsonSchema for #name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                #type_name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "enum": [#(#values),*],
                    "description": #description,
                })
            }
        }
    }
}
