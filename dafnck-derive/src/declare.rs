//! `#[derive(Declare)]`: the Rust expression that builds a value, field by
//! field, each field's type writing itself.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Path};

use crate::attrs::parse_crate_path;

/// Expands `#[derive(Declare)]` on `input`.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut krate: Option<Path> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("declare")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate = Some(parse_crate_path(&meta)?);
                Ok(())
            } else {
                Err(meta.error("unknown declare attribute; expected `crate`"))
            }
        })?;
    }
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::dafnck_core));
    implement(input, &krate)
}

/// `impl <krate>::declare::Declare for <input>`: `#[derive(Resource)]`
/// implements it too, so every resource type can be printed.
pub(crate) fn implement(input: &DeriveInput, krate: &Path) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // A newtype names an id when its one field does (`NetworkId(String)`).
    let as_id = match &input.data {
        Data::Struct(s) if matches!(&s.fields, Fields::Unnamed(f) if f.unnamed.len() == 1) => {
            quote! {
                fn as_id(&self) -> ::core::option::Option<&str> {
                    #krate::declare::Declare::as_id(&self.0)
                }
            }
        }
        _ => quote!(),
    };
    let body = match &input.data {
        Data::Struct(s) => {
            let (pattern, write) = fields(krate, &name.to_string(), &s.fields);
            quote! { let #name #pattern = self; #write }
        }
        Data::Enum(e) => {
            let arms = e.variants.iter().map(|v| {
                let variant = &v.ident;
                let (pattern, write) = fields(krate, &format!("{name}::{variant}"), &v.fields);
                quote! { #name::#variant #pattern => { #write } }
            });
            quote! {
                match self {
                    #(#arms)*
                }
            }
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Declare)] supports structs and enums, not unions",
            ))
        }
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::declare::Declare for #name #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn declare(&self, out: &mut #krate::declare::Declaration) {
                #body
            }
            #as_id
        }
    })
}

/// The pattern binding `fields` (of a struct or a variant written as `path`)
/// and the code writing them.
fn fields(krate: &Path, path: &str, fields: &Fields) -> (TokenStream, TokenStream) {
    let dyn_declare = quote!(&dyn #krate::declare::Declare);
    match fields {
        Fields::Named(named) => {
            let idents: Vec<_> = named
                .named
                .iter()
                .map(|f| f.ident.clone().unwrap())
                .collect();
            let names = idents.iter().map(|i| i.to_string());
            (
                quote! { { #(#idents),* } },
                quote! {
                    out.struct_literal(#path, &[#((#names, #idents as #dyn_declare)),*]);
                },
            )
        }
        Fields::Unnamed(unnamed) => {
            let idents: Vec<_> = (0..unnamed.unnamed.len())
                .map(|i| format_ident!("field_{i}"))
                .collect();
            (
                quote! { ( #(#idents),* ) },
                quote! {
                    out.tuple_literal(#path, &[#(#idents as #dyn_declare),*]);
                },
            )
        }
        Fields::Unit => (quote!(), quote! { out.raw(#path); }),
    }
}
