//! `#[derive(Module)]` for wgrad (re-exported as `wgrad::nn::Module`'s derive): registers
//! a struct's fields as its submodules, parameters and buffers under the field names,
//! so a custom model gets `parameters()`, `named_parameters()`, `state_dict()`,
//! `train()`/`eval()`, `save`/`load` and `to(&device)` with no hand-written code.
//!
//! - A field of type `Parameter` or `Buffer` is the module's own parameter or buffer
//!   (`Option<Parameter>` one that may be absent, as a bias; `Vec<Parameter>` a list,
//!   named `field.0`, `field.1`, ...).
//! - Any other field is a child: a module, or a `Vec`/`Option`/array of them (a `Vec`'s
//!   entries are named `field.0`, `field.1`, ..., as PyTorch names a `ModuleList`'s).
//! - `#[module(skip)]` leaves out a field that holds no module (a size, a flag).
//! - `#[module(rename = "LayerNorm")]` registers a field under another name, for state
//!   dicts whose names are not Rust field names (Hugging Face's `LayerNorm`, `self`).
//! - `forward` calls the struct's own `fn forward(&self, x: &Tensor) -> Tensor`;
//!   `#[module(forward = method)]` names another method, and `#[module(no_forward)]`
//!   is for models whose forward takes other inputs (calling `Module::forward` on such
//!   a model panics, saying so).

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, Ident, Type};

/// Derives `wgrad::nn::Module` from a struct's named fields; see the crate docs.
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// What `#[module(...)]` on the struct asks for its forward.
enum Forward {
    Method(Ident),
    None,
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(name, "#[derive(Module)] needs a struct with named fields"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(name, "#[derive(Module)] needs a struct with named fields"));
    };
    let mut forward = Forward::Method(Ident::new("forward", name.span()));
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("no_forward") {
                forward = Forward::None;
                Ok(())
            } else if meta.path.is_ident("forward") {
                forward = Forward::Method(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("expected `forward = method` or `no_forward`"))
            }
        })?;
    }
    let (mut params, mut buffers, mut children) = (Vec::new(), Vec::new(), Vec::new());
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named fields have names");
        let mut skip = false;
        let mut label = ident.to_string();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("module")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else if meta.path.is_ident("rename") {
                    label = meta.value()?.parse::<syn::LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("expected `skip` or `rename = \"name\"`"))
                }
            })?;
        }
        if skip {
            continue;
        }
        let (wrapper, inner) = match generic_argument(&field.ty) {
            Some((wrapper, inner)) => (Some(wrapper), inner),
            None => (None, &field.ty),
        };
        let cells = match last_segment(inner).as_deref() {
            Some("Parameter") => &mut params,
            Some("Buffer") => &mut buffers,
            _ => {
                children.push(quote! { ::wgrad::nn::ModuleField::collect(&self.#ident, #label, &mut out); });
                continue;
            }
        };
        cells.push(match wrapper.as_deref() {
            None => quote! { out.push((#label.to_string(), self.#ident.clone())); },
            Some("Option") => quote! {
                if let Some(cell) = &self.#ident {
                    out.push((#label.to_string(), cell.clone()));
                }
            },
            Some(_) => quote! {
                for (i, cell) in self.#ident.iter().enumerate() {
                    out.push((format!("{}.{}", #label, i), cell.clone()));
                }
            },
        });
    }
    let forward_body = match forward {
        Forward::Method(method) => quote! { Self::#method(self, x) },
        Forward::None => {
            let msg = format!(
                "{name} takes other inputs than one tensor (#[module(no_forward)]): call its own forward method"
            );
            quote! { let _ = x; panic!(#msg) }
        }
    };
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::wgrad::nn::Module for #name #ty_generics #where_clause {
            // A missing inherent `forward` would make this call itself: a compile error.
            #[deny(unconditional_recursion)]
            fn forward(&self, x: &::wgrad::Tensor) -> ::wgrad::Tensor {
                #forward_body
            }
            fn own_parameters(&self) -> ::std::vec::Vec<(::std::string::String, ::wgrad::nn::Parameter)> {
                let mut out = ::std::vec::Vec::new();
                #(#params)*
                out
            }
            fn own_buffers(&self) -> ::std::vec::Vec<(::std::string::String, ::wgrad::nn::Buffer)> {
                let mut out = ::std::vec::Vec::new();
                #(#buffers)*
                out
            }
            fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn ::wgrad::nn::Module)> {
                let mut out = ::std::vec::Vec::new();
                #(#children)*
                out
            }
        }
    })
}

/// For `Option<T>` or `Vec<T>`: ("Option" or "Vec", T).
fn generic_argument(ty: &Type) -> Option<(String, &Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let wrapper = last.ident.to_string();
    if wrapper != "Option" && wrapper != "Vec" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) => Some((wrapper, inner)),
        _ => None,
    }
}

/// The last path segment of a type (`Parameter` for `nn::Parameter`), if it is a path.
fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
