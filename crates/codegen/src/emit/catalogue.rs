//! The operation catalogue: every operation as data (method, path, parameters, documented
//! statuses, waiters), a JSON-in / JSON-out invoker, and the JSON Schema of each operation's
//! parameters, so callers can use any operation by its id without naming its Rust types.

use proc_macro2::TokenStream;
use quote::quote;

use super::option_tokens;
use crate::ir::{Api, HttpMethod, Operation, ParamLocation, SchemaKind, TypeRef};
use crate::names::{const_ident, params_type, snake_ident};

pub fn emit(api: &Api, runtime: &syn::Path) -> TokenStream {
    let spec_sha256 = &api.spec_sha256;
    let services = api.services.iter().map(|s| {
        let constant = quote::format_ident!("{}_SERVICE", const_ident(&s.name));
        let (name, template) = (&s.name, &s.endpoint_template);
        quote! {
            pub static #constant: #runtime::ServiceMeta = #runtime::ServiceMeta {
                name: #name,
                endpoint_template: #template,
            };
        }
    });
    let service_refs = api.services.iter().map(|s| {
        let constant = quote::format_ident!("{}_SERVICE", const_ident(&s.name));
        quote!(&#constant)
    });
    let metas = api
        .operations
        .iter()
        .map(|op| operation_meta(api, op, runtime));
    let op_refs = api.operations.iter().map(|op| {
        let c = const_ident(&op.id);
        quote!(&#c)
    });
    let operation_id = operation_id_enum(api, runtime);
    let invoke_arms = api.operations.iter().map(|op| {
        let id = &op.id;
        let params_ty = params_type(&op.id);
        let method = snake_ident(&op.id);
        quote! {
            #id => {
                let params: super::operations::#params_ty = #runtime::parse_params(#id, params)?;
                let response = client.#method(&params).await?;
                #runtime::into_json_response(#id, response)
            }
        }
    });
    let schema_arms = api.operations.iter().map(|op| {
        let id = &op.id;
        let params_ty = params_type(&op.id);
        quote!(#id => Some(schemars::schema_for!(super::operations::#params_ty)),)
    });
    let response_arms = api.operations.iter().filter_map(|op| {
        let id = &op.id;
        let ty = super::rust_type(op.success.ty.as_ref()?, false);
        Some(quote!(#id => Some(schemars::schema_for!(#ty)),))
    });
    quote! {
        //! Every operation of the spec as data, callable by operation id.
        #(#services)*

        /// The services of the spec, each with its endpoint template.
        /// The SHA-256 of the spec this catalogue was generated from (hex): a pinned plan
        /// records it, so a run refuses a plan reviewed against another API.
        pub const SPEC_SHA256: &str = #spec_sha256;
        pub static SERVICES: &[&#runtime::ServiceMeta] = &[#(#service_refs),*];

        #(#metas)*

        /// Every operation of the spec, in spec order.
        pub static OPERATIONS: &[&#runtime::OperationMeta] = &[#(#op_refs),*];

        #operation_id

        /// Looks an operation up by its `operationId`.
        pub fn operation(operation_id: &str) -> Option<&'static #runtime::OperationMeta> {
            OPERATIONS.iter().copied().find(|op| op.id == operation_id)
        }

        /// Calls an operation by id with its parameters as JSON (the shape of its `…Params`
        /// struct, see [`params_schema`]) and returns the response body as JSON.
        pub async fn invoke(
            client: &super::Client,
            operation_id: &str,
            params: serde_json::Value,
        ) -> Result<#runtime::ApiResponse<serde_json::Value>, #runtime::InvokeError> {
            match operation_id {
                #(#invoke_arms)*
                _ => Err(#runtime::InvokeError::UnknownOperation(operation_id.to_owned())),
            }
        }

        /// The JSON Schema of an operation's parameters, as [`invoke`] accepts them.
        pub fn params_schema(operation_id: &str) -> Option<schemars::Schema> {
            match operation_id {
                #(#schema_arms)*
                _ => None,
            }
        }

        /// The JSON Schema of an operation's 2xx response body, its enums closed to the values
        /// the spec lists; `None` for an unknown operation or one that answers no JSON.
        pub fn response_schema(operation_id: &str) -> Option<schemars::Schema> {
            match operation_id {
                #(#response_arms)*
                _ => None,
            }
        }
    }
}

/// `OperationId`: one variant per operation, named as its `operationId` (already PascalCase
/// ASCII, which `lower` checks). It exists so that code handling operations one by one (the
/// sandbox's dispatch) can `match` on it without a wildcard arm: an operation added to the
/// spec then fails to compile there until it is handled, instead of failing at run time.
///
/// `OperationMeta` does not carry it: the runtime type is shared by every generated client
/// (the generator's snapshot has a catalogue of its own), so it cannot name one catalogue's
/// enum. The enum leads to the metadata instead (`meta`).
fn operation_id_enum(api: &Api, runtime: &syn::Path) -> TokenStream {
    let variants: Vec<_> = api
        .operations
        .iter()
        .map(|op| quote::format_ident!("{}", op.id))
        .collect();
    let ids: Vec<&str> = api.operations.iter().map(|op| op.id.as_str()).collect();
    let metas: Vec<_> = api
        .operations
        .iter()
        .map(|op| const_ident(&op.id))
        .collect();
    let docs = api
        .operations
        .iter()
        .map(|op| format!(" `{}`: {} {}", op.id, op.method.as_str(), op.path));
    quote! {
        /// Every operation of the spec by its `operationId`, one variant each. Match on it
        /// without a wildcard arm and an operation added to the spec is a compile error
        /// until it is handled.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OperationId {
            #(#[doc = #docs] #variants,)*
        }

        impl OperationId {
            /// Every operation, in spec order (the order of [`OPERATIONS`]).
            pub const ALL: &'static [OperationId] = &[#(Self::#variants),*];

            /// The `operationId` as the spec writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Self::#variants => #ids,)*
                }
            }

            /// The operation's metadata in [`OPERATIONS`].
            pub fn meta(self) -> &'static #runtime::OperationMeta {
                match self {
                    #(Self::#variants => &#metas,)*
                }
            }
        }

        impl std::fmt::Display for OperationId {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for OperationId {
            type Err = #runtime::UnknownOperation;

            fn from_str(id: &str) -> Result<Self, Self::Err> {
                match id {
                    #(#ids => Ok(Self::#variants),)*
                    _ => Err(#runtime::UnknownOperation(id.to_owned())),
                }
            }
        }
    }
}

fn operation_meta(api: &Api, op: &Operation, runtime: &syn::Path) -> TokenStream {
    let constant = const_ident(&op.id);
    let service = quote::format_ident!("{}_SERVICE", const_ident(&op.service));
    let id = &op.id;
    let path = &op.path;
    let summary = op.summary.clone().unwrap_or_default();
    let method = match op.method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Delete => quote!(Delete),
    };
    let params = op.params.iter().map(|p| {
        let name = &p.name;
        let field = snake_ident(&p.name).to_string();
        let field = field.trim_start_matches("r#");
        let required = p.required;
        let location = match p.location {
            ParamLocation::Path => quote!(Path),
            ParamLocation::Query => quote!(Query),
            ParamLocation::Header => quote!(Header),
        };
        let client_param = option_tokens(p.client_param.as_deref());
        let kind = match &p.ty {
            TypeRef::Int32 | TypeRef::Int64 => quote!(Integer),
            TypeRef::Number => quote!(Number),
            TypeRef::Boolean => quote!(Boolean),
            TypeRef::Named(name) => match api.schemas.get(name).map(|s| &s.kind) {
                Some(SchemaKind::Enum { values }) => quote!(Enum(&[#(#values),*])),
                _ => quote!(String),
            },
            _ => quote!(String),
        };
        let c = &p.constraints;
        let (min_length, max_length) = (option_tokens(c.min_length), option_tokens(c.max_length));
        let (minimum, maximum) = (option_tokens(c.minimum), option_tokens(c.maximum));
        let pattern = option_tokens(c.pattern.as_deref());
        quote! {
            #runtime::ParamMeta {
                name: #name,
                field: #field,
                location: #runtime::ParamLocation::#location,
                required: #required,
                client_param: #client_param,
                kind: #runtime::ParamKind::#kind,
                min_length: #min_length,
                max_length: #max_length,
                minimum: #minimum,
                maximum: #maximum,
                pattern: #pattern,
            }
        }
    });
    let body = option_tokens(op.body.as_ref().map(|b| {
        let required = b.required;
        let type_name = match &b.ty {
            TypeRef::Named(name) => name.clone(),
            _ => "object".to_owned(),
        };
        quote!(#runtime::BodyMeta { required: #required, type_name: #type_name })
    }));
    let success = op.success.status;
    let success_is_object = matches!(
        &op.success.ty,
        Some(TypeRef::Named(name)) if matches!(api.schemas.get(name).map(|s| &s.kind), Some(SchemaKind::Object { .. }))
    );
    let success_is_string = op.success.ty == Some(TypeRef::String);
    let success_fields: Vec<&str> = match &op.success.ty {
        Some(TypeRef::Named(name)) => match api.schemas.get(name).map(|s| &s.kind) {
            Some(SchemaKind::Object { fields }) => {
                fields.iter().map(|f| f.json_name.as_str()).collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let errors = op.errors.iter().map(|e| e.status);
    let waiters = op.waiters.iter().map(|w| {
        let c = const_ident(&w.name);
        quote!(&super::waiters::#c)
    });
    let doc = format!(" `{}`: {} {}", op.id, op.method.as_str(), op.path);
    quote! {
        #[doc = #doc]
        pub static #constant: #runtime::OperationMeta = #runtime::OperationMeta {
            id: #id,
            service: &#service,
            method: #runtime::HttpMethod::#method,
            path: #path,
            summary: #summary,
            params: &[#(#params),*],
            body: #body,
            success_status: #success,
            success_is_object: #success_is_object,
            success_is_string: #success_is_string,
            success_fields: &[#(#success_fields),*],
            error_statuses: &[#(#errors),*],
            waiters: &[#(#waiters),*],
        };
    }
}
