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
    let name_str = name.to_string();
    // Each type parameter must declare itself too.
    let mut generics = input.generics.clone();
    let params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    let predicates = &mut generics.make_where_clause().predicates;
    for p in params {
        predicates.push(syn::parse_quote!(#p: #krate::declare::Declare));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
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
            let (pattern, write) = fields(krate, &s.fields)?;
            quote! {
                let #name #pattern = self;
                out.type_name(#name_str, ::core::module_path!());
                #write
            }
        }
        Data::Enum(e) => {
            let arms = e
                .variants
                .iter()
                .map(|v| {
                    let variant = &v.ident;
                    let (pattern, write) = fields(krate, &v.fields)?;
                    let path = format!("::{variant}");
                    Ok(quote! {
                        #name::#variant #pattern => {
                            out.type_name(#name_str, ::core::module_path!());
                            out.raw(#path);
                            #write
                        }
                    })
                })
                .collect::<syn::Result<Vec<_>>>()?;
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

/// The pattern binding `fields` (of a struct or a variant whose path is
/// written already) and the code writing them.
fn fields(krate: &Path, fields: &Fields) -> syn::Result<(TokenStream, TokenStream)> {
    let dyn_declare = quote!(&dyn #krate::declare::Declare);
    // A field marked `#[declare(json)]` (a type of another crate, which
    // cannot implement `Declare`) is written through its JSON.
    let values = |idents: &[proc_macro2::Ident], fields: Vec<&syn::Field>| {
        idents
            .iter()
            .zip(fields)
            .map(|(ident, field)| {
                Ok(if json_field(field)? {
                    quote!(&#krate::declare::Json(#ident) as #dyn_declare)
                } else {
                    quote!(#ident as #dyn_declare)
                })
            })
            .collect::<syn::Result<Vec<_>>>()
    };
    Ok(match fields {
        Fields::Named(named) => {
            let idents: Vec<_> = named
                .named
                .iter()
                .map(|f| f.ident.clone().unwrap())
                .collect();
            let names = idents.iter().map(|i| i.to_string());
            let values = values(&idents, named.named.iter().collect())?;
            (
                quote! { { #(#idents),* } },
                quote! {
                    out.struct_literal("", &[#((#names, #values)),*]);
                },
            )
        }
        Fields::Unnamed(unnamed) => {
            let idents: Vec<_> = (0..unnamed.unnamed.len())
                .map(|i| format_ident!("field_{i}"))
                .collect();
            let values = values(&idents, unnamed.unnamed.iter().collect())?;
            (
                quote! { ( #(#idents),* ) },
                quote! {
                    out.tuple_literal("", &[#(#values),*]);
                },
            )
        }
        Fields::Unit => (quote!(), quote!()),
    })
}

/// Whether `field` is marked `#[declare(json)]`.
fn json_field(field: &syn::Field) -> syn::Result<bool> {
    let mut json = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("declare")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("json") {
                json = true;
                Ok(())
            } else {
                Err(meta.error("unknown declare field attribute; expected `json`"))
            }
        })?;
    }
    Ok(json)
}
