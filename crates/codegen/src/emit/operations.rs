//! One parameter struct and one async method per operation.
//!
//! Parameters travel in a struct rather than as arguments, so no parameter name can collide
//! with a local of the generated method, and the catalogue can build the same struct from JSON.

use proc_macro2::TokenStream;
use quote::quote;

use super::{docs, option_tokens, rust_type};
use crate::ir::{Api, Operation, Param, ParamLocation, TypeRef};
use crate::names::{const_ident, params_type, snake_ident};

pub fn emit(api: &Api, runtime: &syn::Path) -> TokenStream {
    let structs = api.operations.iter().map(|op| params_struct(op, runtime));
    let methods = api.operations.iter().map(|op| method(op, runtime));
    quote! {
        //! Operation parameters and the client's operation methods.
        #(#structs)*

        impl super::Client {
            #(#methods)*
        }
    }
}

/// Parameters the caller supplies: all but the ones the client fills from its configuration.
pub(super) fn caller_params(op: &Operation) -> impl Iterator<Item = &Param> {
    op.params.iter().filter(|p| p.client_param.is_none())
}

fn params_struct(op: &Operation, runtime: &syn::Path) -> TokenStream {
    let name = params_type(&op.id);
    let doc = format!(
        " Parameters of [`{}`](super::Client::{}).",
        op.id,
        snake_ident(&op.id)
    );
    let mut fields: Vec<TokenStream> = caller_params(op)
        .map(|param| {
            let ident = snake_ident(&param.name);
            let ty = rust_type(&param.ty, false);
            let location = match param.location {
                ParamLocation::Path => "Path",
                ParamLocation::Query => "Query",
                ParamLocation::Header => "Header",
            };
            let description = format!(
                "{} parameter `{}`. {}",
                location,
                param.name,
                param.description.as_deref().unwrap_or_default()
            );
            let doc = docs(Some(description.trim_end()), Some(&param.constraints));
            if param.required {
                quote! { #doc pub #ident: #ty, }
            } else {
                quote! {
                    #doc
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub #ident: Option<#ty>,
                }
            }
        })
        .collect();
    if let Some(body) = &op.body {
        let ty = rust_type(&body.ty, false);
        let doc = docs(
            Some(
                body.description
                    .as_deref()
                    .unwrap_or(" The JSON request body."),
            ),
            None,
        );
        fields.push(if body.required {
            quote! { #doc pub body: #ty, }
        } else {
            quote! {
                #doc
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub body: Option<#ty>,
            }
        });
    }
    let checks = caller_params(op).filter_map(|param| check(param, runtime));
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct #name {
            #(#fields)*
        }

        impl #name {
            /// Checks the limits the spec sets on each parameter, before anything is sent.
            pub fn validate(&self) -> Result<(), #runtime::ApiError> {
                #(#checks)*
                Ok(())
            }
        }
    }
}

/// The client-side check of one parameter's length or range, if the spec limits it.
fn check(param: &Param, runtime: &syn::Path) -> Option<TokenStream> {
    let ident = snake_ident(&param.name);
    let name = &param.name;
    let c = &param.constraints;
    let call = match param.ty {
        TypeRef::String if c.min_length.is_some() || c.max_length.is_some() => {
            let min = option_tokens(c.min_length);
            let max = option_tokens(c.max_length);
            quote!(#runtime::check_length(#name, value, #min, #max)?;)
        }
        TypeRef::Int32 | TypeRef::Int64 | TypeRef::Number
            if c.minimum.is_some() || c.maximum.is_some() =>
        {
            let min = option_tokens(c.minimum);
            let max = option_tokens(c.maximum);
            quote!(#runtime::check_range(#name, *value as f64, #min, #max)?;)
        }
        _ => return None,
    };
    Some(if param.required {
        quote! { { let value = &self.#ident; #call } }
    } else {
        quote! { if let Some(value) = &self.#ident { #call } }
    })
}

fn method(op: &Operation, runtime: &syn::Path) -> TokenStream {
    let name = snake_ident(&op.id);
    let params_ty = params_type(&op.id);
    let meta = const_ident(&op.id);
    let response_ty = match &op.success.ty {
        Some(ty) => rust_type(ty, false),
        None => quote!(serde_json::Value),
    };
    let mut doc_lines = vec![format!(" {}", op.summary.as_deref().unwrap_or(&op.id))];
    doc_lines.push(String::new());
    doc_lines.push(format!(
        " `{} {}` ({}).",
        op.method.as_str(),
        op.path,
        op.service
    ));
    if let Some(description) = &op.description {
        doc_lines.push(String::new());
        doc_lines.extend(description.lines().map(|l| format!(" {l}")));
    }
    if !op.errors.is_empty() {
        doc_lines.push(String::new());
        doc_lines.push(" # Errors".to_owned());
        doc_lines.push(String::new());
        doc_lines.push(" `ApiError::Http` for the documented error statuses:".to_owned());
        for error in &op.errors {
            doc_lines.push(format!(" - {}: {}", error.status, error.description.trim()));
        }
        doc_lines.push(String::new());
        doc_lines.push(
            " Other `ApiError`s report transport failures and undocumented answers.".to_owned(),
        );
    }
    let setters = caller_params(op).map(|param| {
        let ident = snake_ident(&param.name);
        let wire = &param.name;
        let setter = match param.location {
            ParamLocation::Path => quote!(path_param),
            ParamLocation::Query => quote!(query_param),
            ParamLocation::Header => quote!(header_param),
        };
        if param.required {
            quote!(request.#setter(#wire, params.#ident.to_string());)
        } else {
            quote! {
                if let Some(value) = &params.#ident {
                    request.#setter(#wire, value.to_string());
                }
            }
        }
    });
    let body = op.body.as_ref().map(|body| {
        if body.required {
            quote!(request.json_body(&params.body)?;)
        } else {
            quote! {
                if let Some(body) = &params.body {
                    request.json_body(body)?;
                }
            }
        }
    });
    quote! {
        #(#[doc = #doc_lines])*
        pub async fn #name(
            &self,
            params: &#params_ty,
        ) -> Result<#runtime::ApiResponse<#response_ty>, #runtime::ApiError> {
            params.validate()?;
            let mut request = #runtime::Request::new(&super::catalogue::#meta);
            #(#setters)*
            #body
            self.transport().send(request).await
        }
    }
}
