//! `#[derive(Resource)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr, Path, Type};

use crate::attrs::{expect_flag, named_fields, parse_crate_path, serde_field, serde_rename_all};

/// Expands `#[derive(DataSource)]` on `input`: the query's type name and
/// the type of what it finds, from `#[data_source(type = .., outputs = ..)]`.
pub(crate) fn expand_data_source(input: &DeriveInput) -> syn::Result<TokenStream> {
    named_fields(input, "DataSource")?;
    let attrs = ContainerAttrs::parse(input, "data_source", "DataSource")?;
    Ok(attrs.implement(input, quote!(DataSource), quote!()))
}

/// Expands `#[derive(Resource)]` on `input`.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = named_fields(input, "Resource")?;
    let attrs = ContainerAttrs::parse(input, "resource", "Resource")?;
    let rule = serde_rename_all(&input.attrs)?;

    let mut force_new = Vec::new();
    for field in &fields.named {
        let mut marked = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("resource")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("force_new") {
                    expect_flag(&meta, "force_new")?;
                    marked = true;
                    Ok(())
                } else {
                    Err(meta.error("unknown resource field attribute; expected `force_new`"))
                }
            })?;
        }
        if !marked {
            continue;
        }
        let serde = serde_field(field, rule)?;
        // A field serde never writes (or inlines under other names) has no
        // name the planner could compare, so marking it is a mistake.
        if serde.skip || serde.skip_serializing || serde.flatten {
            return Err(syn::Error::new_spanned(
                field.ident.as_ref(),
                "a #[resource(force_new)] field must be serialized under its own name \
                 (not serde skip, skip_serializing or flatten)",
            ));
        }
        force_new.push(serde.name);
    }

    let resource = attrs.implement(
        input,
        quote!(Resource),
        quote! {
            fn force_new_fields() -> &'static [&'static str] {
                &[#(#force_new),*]
            }
        },
    );
    // Every resource's inputs can be written as the Rust that declares them
    // (`import --generate`, a program generated from an adoption).
    let declare = crate::declare::implement(input, &attrs.krate)?;
    Ok(quote! { #resource #declare })
}

/// `#[resource(type = "..", outputs = Type, crate = "..")]` (or
/// `#[data_source(..)]`), possibly split over several attributes.
struct ContainerAttrs {
    type_name: LitStr,
    outputs: Type,
    krate: Path,
}

impl ContainerAttrs {
    /// `impl <crate>::<trait> for <input>` with the type name, the outputs
    /// type and `items`.
    fn implement(
        &self,
        input: &DeriveInput,
        trait_name: TokenStream,
        items: TokenStream,
    ) -> TokenStream {
        let name = &input.ident;
        let krate = &self.krate;
        let type_name = &self.type_name;
        let outputs = &self.outputs;
        quote! {
            #[automatically_derived]
            impl #krate::#trait_name for #name {
                const TYPE: &'static str = #type_name;
                type Outputs = #outputs;
                #items
            }
        }
    }

    fn parse(input: &DeriveInput, attr_name: &str, derive: &str) -> syn::Result<Self> {
        let mut type_name: Option<LitStr> = None;
        let mut outputs: Option<Type> = None;
        let mut krate: Option<Path> = None;
        for attr in input.attrs.iter().filter(|a| a.path().is_ident(attr_name)) {
            attr.parse_nested_meta(|meta| {
                // Duplicates are most likely copy-paste slips: refuse them
                // rather than silently keep one.
                let dup = |set: bool| {
                    if set {
                        Err(meta.error(format!("duplicate {attr_name} attribute")))
                    } else {
                        Ok(())
                    }
                };
                if meta.path.is_ident("type") {
                    dup(type_name.is_some())?;
                    let lit: LitStr = meta.value()?.parse()?;
                    check_type_name(&lit)?;
                    type_name = Some(lit);
                } else if meta.path.is_ident("outputs") {
                    dup(outputs.is_some())?;
                    outputs = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("crate") {
                    dup(krate.is_some())?;
                    krate = Some(parse_crate_path(&meta)?);
                } else {
                    return Err(meta.error(format!(
                        "unknown {attr_name} attribute; expected `type`, `outputs` or `crate`"
                    )));
                }
                Ok(())
            })?;
        }
        let missing = |what: &str| {
            syn::Error::new_spanned(
                &input.ident,
                format!("#[derive({derive})] is missing `{what}` in #[{attr_name}(..)]"),
            )
        };
        Ok(ContainerAttrs {
            type_name: type_name.ok_or_else(|| missing("type = \"package:module:Type\""))?,
            outputs: outputs.ok_or_else(|| missing("outputs = OutputsType"))?,
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::dafnck_core)),
        })
    }
}

/// The provider is chosen by the package part, so a malformed name would only
/// fail at run time; catch it at compile time instead.
fn check_type_name(lit: &LitStr) -> syn::Result<()> {
    let value = lit.value();
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!("resource type `{value}` must look like `package:module:Type`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn err(input: DeriveInput) -> String {
        expand(&input).unwrap_err().to_string()
    }

    #[test]
    fn generates_the_impl() {
        let input: DeriveInput = parse_quote! {
            #[resource(type = "aws:ec2:Vpc", outputs = VpcOutputs)]
            pub struct Vpc {
                #[resource(force_new)]
                pub cidr: Input<String>,
                pub name: Input<String>,
            }
        };
        let got = expand(&input).unwrap().to_string();
        let want = quote! {
            #[automatically_derived]
            impl ::dafnck_core::Resource for Vpc {
                const TYPE: &'static str = "aws:ec2:Vpc";
                type Outputs = VpcOutputs;
                fn force_new_fields() -> &'static [&'static str] {
                    &["cidr"]
                }
            }
        };
        assert!(got.starts_with(&want.to_string()), "{got}");
        assert!(
            got.contains("impl :: dafnck_core :: declare :: Declare for Vpc"),
            "the inputs can be declared: {got}"
        );
    }

    #[test]
    fn force_new_names_are_serialized_names() {
        let input: DeriveInput = parse_quote! {
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            #[resource(type = "a:b:C")]
            #[resource(outputs = o::Out, crate = "crate")]
            struct S {
                #[resource(force_new)] availability_zone: String,
                #[serde(rename = "ID")] #[resource(force_new)] id: String,
                #[resource(force_new)] r#type: String,
                not_marked: String,
            }
        };
        let got = expand(&input).unwrap().to_string();
        assert!(
            got.contains(r#"& ["availabilityZone" , "ID" , "type"]"#),
            "{got}"
        );
        assert!(got.contains("impl crate :: Resource for S"), "{got}");
        assert!(got.contains("type Outputs = o :: Out"), "{got}");
    }

    #[test]
    fn missing_keys_are_errors() {
        let e = err(parse_quote!(
            #[resource(outputs = O)]
            struct S {}
        ));
        assert!(
            e.contains("missing `type = \"package:module:Type\"`"),
            "{e}"
        );
        let e = err(parse_quote!(
            #[resource(type = "a:b:C")]
            struct S {}
        ));
        assert!(e.contains("missing `outputs = OutputsType`"), "{e}");
        let e = err(parse_quote!(
            struct S {}
        ));
        assert!(e.contains("missing `type"), "{e}");
    }

    #[test]
    fn bad_attributes_are_errors() {
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O, colour = 1)]
            struct S {}
        ));
        assert!(e.contains("unknown resource attribute"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", type = "a:b:D", outputs = O)]
            struct S {}
        ));
        assert!(e.contains("duplicate resource attribute"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "Vpc", outputs = O)]
            struct S {}
        ));
        assert!(e.contains("must look like `package:module:Type`"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct S {
                #[resource(forcenew)]
                x: u8,
            }
        ));
        assert!(e.contains("expected `force_new`"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct S {
                #[resource(force_new = true)]
                x: u8,
            }
        ));
        assert!(e.contains("`force_new` takes no value"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct S {
                #[serde(skip)]
                #[resource(force_new)]
                x: u8,
            }
        ));
        assert!(e.contains("must be serialized under its own name"), "{e}");
    }

    #[test]
    fn unsupported_shapes_are_errors() {
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            enum E {
                A,
            }
        ));
        assert!(e.contains("not enums"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct T(u8);
        ));
        assert!(e.contains("not a tuple struct"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct U;
        ));
        assert!(e.contains("write `struct U {}` for none"), "{e}");
        let e = err(parse_quote!(
            #[resource(type = "a:b:C", outputs = O)]
            struct G<T> {
                t: T,
            }
        ));
        assert!(e.contains("does not support generic structs"), "{e}");
    }
}
