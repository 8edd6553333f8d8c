//! Waiters from `x-waiters`: their acceptors as data, and one `wait_until_…` method each.

use proc_macro2::TokenStream;
use quote::quote;

use super::rust_type;
use crate::ir::{AcceptorState, Api, Comparator};
use crate::names::{const_ident, params_type, snake_ident, waiter_method};

pub fn emit(api: &Api, runtime: &syn::Path) -> TokenStream {
    let mut statics = Vec::new();
    let mut methods = Vec::new();
    for op in &api.operations {
        for waiter in &op.waiters {
            let constant = const_ident(&waiter.name);
            let name = &waiter.name;
            let op_id = &op.id;
            let description = waiter.description.clone().unwrap_or_default();
            let (min, max) = (waiter.min_delay_secs, waiter.max_delay_secs);
            let acceptors = waiter.acceptors.iter().map(|a| {
                let state = match a.state {
                    AcceptorState::Success => quote!(Success),
                    AcceptorState::Failure => quote!(Failure),
                    AcceptorState::Retry => quote!(Retry),
                };
                let comparator = match a.comparator {
                    Comparator::StringEquals => quote!(StringEquals),
                    Comparator::AnyStringEquals => quote!(AnyStringEquals),
                    Comparator::AllStringEquals => quote!(AllStringEquals),
                };
                let (path, expected) = (&a.path, &a.expected);
                quote! {
                    #runtime::Acceptor {
                        state: #runtime::AcceptorState::#state,
                        path: #path,
                        comparator: #runtime::Comparator::#comparator,
                        expected: #expected,
                    }
                }
            });
            let doc = format!(" The `{name}` waiter of `{op_id}`: {description}");
            statics.push(quote! {
                #[doc = #doc]
                pub static #constant: #runtime::WaiterSpec = #runtime::WaiterSpec {
                    name: #name,
                    operation_id: #op_id,
                    description: #description,
                    min_delay: std::time::Duration::from_secs(#min),
                    max_delay: std::time::Duration::from_secs(#max),
                    acceptors: &[#(#acceptors),*],
                };
            });

            let method = waiter_method(name);
            let poll = snake_ident(&op.id);
            let params_ty = params_type(&op.id);
            let output = op.success.ty.as_ref().map(|t| rust_type(t, false));
            let method_doc = [
                format!(" {description}"),
                String::new(),
                format!(" Polls `{op_id}` every tenth of the time waited, between {min}s and {max}s (jittered), never"),
                " longer than `max_wait`, with a last poll at the deadline.".to_owned(),
            ];
            methods.push(quote! {
                #(#[doc = #method_doc])*
                pub async fn #method(
                    &self,
                    params: &super::operations::#params_ty,
                    max_wait: std::time::Duration,
                ) -> Result<#runtime::WaiterOutcome<#output>, #runtime::WaiterError> {
                    #runtime::wait(self.transport().environment(), &#constant, max_wait, || self.#poll(params)).await
                }
            });
        }
    }
    quote! {
        //! Waiters declared by `x-waiters` in the spec.
        #(#statics)*

        impl super::Client {
            #(#methods)*
        }
    }
}
