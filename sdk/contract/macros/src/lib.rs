//! Entry-point macros of `weft-sdk`: `#[init]`, `#[call]` and `#[view]`.
//!
//! Each turns a plain function into a contract method: it keeps the function, adds a wasm export
//! `weft:<name>` that decodes the borsh tuple of arguments, calls the function and returns the
//! borsh-encoded result (an `Err` or a panic becomes a contract error with its message), and adds
//! one record describing the method to the `weft_abi` custom section. Use them through `weft-sdk`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{FnArg, ItemFn, Pat, ReturnType, Type, parse_macro_input};
use weft_types::abi::{ArgAbi, EXPORT_PREFIX, MethodAbi, MethodKind, valid_method_name};

/// Marks the method that runs once, when the contract is deployed.
#[proc_macro_attribute]
pub fn init(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry(MethodKind::Init, attr, item)
}

/// Marks a method that transactions may call; it may write storage and emit events.
#[proc_macro_attribute]
pub fn call(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry(MethodKind::Call, attr, item)
}

/// Marks a read-only method that can be queried without a transaction.
#[proc_macro_attribute]
pub fn view(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry(MethodKind::View, attr, item)
}

fn entry(kind: MethodKind, attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "this attribute takes no arguments")
            .to_compile_error()
            .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    expand(kind, func)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

fn type_string(ty: &Type) -> String {
    quote!(#ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The `T` of a return type spelled `Result<T, …>` (or `Result<T>`), if it is one.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(ok) => Some(ok),
        _ => None,
    }
}

fn expand(kind: MethodKind, func: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    let name = sig.ident.to_string();
    if !valid_method_name(&name) {
        return Err(syn::Error::new_spanned(
            &sig.ident,
            "method names use [A-Za-z0-9_] and at most 64 characters",
        ));
    }
    if let Some(t) = sig.generics.params.first() {
        return Err(syn::Error::new_spanned(
            t,
            "contract methods cannot be generic",
        ));
    }
    if sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(
            sig.asyncness,
            "contract methods cannot be async",
        ));
    }
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    let mut abi_args = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(arg) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "contract methods are free functions; state lives in storage, not in `self`",
            ));
        };
        let Pat::Ident(ident) = &*arg.pat else {
            return Err(syn::Error::new_spanned(
                &arg.pat,
                "use a plain name for each argument",
            ));
        };
        abi_args.push(ArgAbi {
            name: ident.ident.to_string(),
            ty: type_string(&arg.ty),
        });
        arg_names.push(format_ident!("__weft_arg_{}", arg_names.len()));
        arg_types.push((*arg.ty).clone());
    }
    let (returns, finish) = match &sig.output {
        ReturnType::Default => (None, quote!(::weft_sdk::__private::finish_unit(__weft_ret))),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => {
                let returns = (type_string(ok) != "()").then(|| type_string(ok));
                (
                    returns,
                    quote!(::weft_sdk::__private::finish_result(__weft_ret)),
                )
            }
            None => (
                (type_string(ty) != "()").then(|| type_string(ty)),
                quote!(::weft_sdk::__private::finish_value(&__weft_ret)),
            ),
        },
    };
    let record = MethodAbi {
        name: name.clone(),
        kind,
        args: abi_args,
        returns,
    }
    .to_record();
    let record_len = record.len();
    let ident = &sig.ident;
    let export_name = format!("{EXPORT_PREFIX}{name}");
    let export_fn = format_ident!("__weft_export_{}", ident);
    let abi_static = format_ident!("__weft_abi_{}", ident);
    Ok(quote! {
        #func

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(unsafe_code, reason = "the method's wasm export")]
        #[unsafe(export_name = #export_name)]
        pub extern "C" fn #export_fn() {
            ::weft_sdk::__private::run(#name, |__weft_input| {
                let (#(#arg_names,)*): (#(#arg_types,)*) =
                    ::weft_sdk::__private::decode_args(#name, __weft_input);
                let __weft_ret = #ident(#(#arg_names),*);
                #finish
            })
        }

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(unsafe_code, reason = "the method's ABI record in the weft_abi custom section")]
        #[allow(non_upper_case_globals, reason = "named after the method")]
        #[unsafe(link_section = "weft_abi")]
        #[used]
        static #abi_static: [u8; #record_len] = [#(#record),*];
    })
}
