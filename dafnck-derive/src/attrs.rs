//! Attribute reading shared by both derives: the struct shape check, the
//! `crate = ".."` override, and the subset of serde's attributes that decides
//! a field's serialized name.
//!
//! The engine names fields the way serde writes them (the provider sees
//! serialized values), so `force_new_fields()` and `field_names()` must apply
//! the same renames serde would. Everything else in `#[serde(..)]` is skipped.

use proc_macro2::TokenTree;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Data, DeriveInput, Field, Fields, FieldsNamed, LitStr, Path, Token};

/// The named fields of `input`, or an error spanned at what makes it
/// unsupported. `derive` names the derive in messages.
pub(crate) fn named_fields<'a>(
    input: &'a DeriveInput,
    derive: &str,
) -> syn::Result<&'a FieldsNamed> {
    // Generic resources would need bounds on `'static` and serde that we
    // cannot guess well; nobody needs them yet, so refuse clearly.
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            format!("#[derive({derive})] does not support generic structs"),
        ));
    }
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Ok(named),
            Fields::Unnamed(f) => Err(syn::Error::new_spanned(
                f,
                format!("#[derive({derive})] needs named fields, not a tuple struct"),
            )),
            Fields::Unit => Err(syn::Error::new_spanned(
                &input.ident,
                format!(
                    "#[derive({derive})] needs named fields; write `struct {} {{}}` for none",
                    input.ident
                ),
            )),
        },
        Data::Enum(e) => Err(syn::Error::new(
            e.enum_token.span,
            format!("#[derive({derive})] only supports structs with named fields, not enums"),
        )),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            format!("#[derive({derive})] only supports structs with named fields, not unions"),
        )),
    }
}

/// Parses the value of `crate = ".."` (a string, like serde's) or
/// `crate = path` (a bare path) into the path of `dafnck_core`.
pub(crate) fn parse_crate_path(meta: &ParseNestedMeta) -> syn::Result<Path> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        value.parse::<LitStr>()?.parse()
    } else {
        Path::parse_mod_style(value)
    }
}

/// Rejects a value after a flag-style key such as `force_new`.
pub(crate) fn expect_flag(meta: &ParseNestedMeta, name: &str) -> syn::Result<()> {
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        Ok(())
    } else {
        Err(meta.error(format!("`{name}` takes no value")))
    }
}

/// Consumes whatever follows a serde key we do not interpret:
/// `= expr`, `(..)` or nothing.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Reads `key = "x"` or `key(serialize = "x", deserialize = "y")`, keeping
/// the serialize side: the names we report are the serialized ones.
fn serialize_side(meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    let mut found = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            found = Some(inner.value()?.parse()?);
        } else {
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(found)
}

/// Calls `f` for each key of each `#[serde(..)]` attribute in `attrs`.
fn for_each_serde_key(
    attrs: &[Attribute],
    mut f: impl FnMut(&ParseNestedMeta) -> syn::Result<bool>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            // `f` returns whether it consumed the key's value itself.
            if !f(&meta)? {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// serde's `rename_all` rules, applied to field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    const ALL: [(&'static str, RenameRule); 8] = [
        ("lowercase", RenameRule::Lower),
        ("UPPERCASE", RenameRule::Upper),
        ("PascalCase", RenameRule::Pascal),
        ("camelCase", RenameRule::Camel),
        ("snake_case", RenameRule::Snake),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("kebab-case", RenameRule::Kebab),
        ("SCREAMING-KEBAB-CASE", RenameRule::ScreamingKebab),
    ];

    fn parse(lit: &LitStr) -> syn::Result<RenameRule> {
        let s = lit.value();
        Self::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown rename_all rule `{s}`; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// Renames a Rust field name, assumed snake_case, exactly as serde does
    /// for struct fields (so `lowercase` leaves the name as is).
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
            RenameRule::Pascal | RenameRule::Camel => {
                let mut out = String::with_capacity(field.len());
                for (i, word) in field.split('_').filter(|w| !w.is_empty()).enumerate() {
                    let mut chars = word.chars();
                    if let Some(first) = chars.next() {
                        if i == 0 && self == RenameRule::Camel {
                            out.push(first.to_ascii_lowercase());
                        } else {
                            out.push(first.to_ascii_uppercase());
                        }
                        out.extend(chars);
                    }
                }
                out
            }
        }
    }
}

/// The container's `#[serde(rename_all = "..")]`, if any.
pub(crate) fn serde_rename_all(attrs: &[Attribute]) -> syn::Result<Option<RenameRule>> {
    let mut rule = None;
    for_each_serde_key(attrs, |meta| {
        if !meta.path.is_ident("rename_all") {
            return Ok(false);
        }
        if let Some(lit) = serialize_side(meta)? {
            rule = Some(RenameRule::parse(&lit)?);
        }
        Ok(true)
    })?;
    Ok(rule)
}

/// What serde's field attributes say about one field.
#[derive(Debug, Default)]
pub(crate) struct SerdeField {
    /// Its name as serialized, after `rename` / `rename_all`.
    pub name: String,
    /// `#[serde(skip)]`: neither serialized nor deserialized.
    pub skip: bool,
    /// `#[serde(skip_serializing)]`: never written.
    pub skip_serializing: bool,
    /// `#[serde(flatten)]`: its own fields are inlined, so it has no name.
    pub flatten: bool,
}

/// Reads serde's view of `field` of a struct whose container rule is `rule`.
pub(crate) fn serde_field(field: &Field, rule: Option<RenameRule>) -> syn::Result<SerdeField> {
    // Named fields always have an ident; `r#type` serializes as `type`.
    let ident = field
        .ident
        .as_ref()
        .map(|i| i.unraw().to_string())
        .unwrap_or_default();
    let mut out = SerdeField {
        name: rule.map_or_else(|| ident.clone(), |r| r.apply(&ident)),
        ..SerdeField::default()
    };
    for_each_serde_key(&field.attrs, |meta| {
        if meta.path.is_ident("rename") {
            // An explicit rename wins over the container rule, as in serde.
            if let Some(lit) = serialize_side(meta)? {
                out.name = lit.value();
            }
            return Ok(true);
        }
        if meta.path.is_ident("skip") {
            out.skip = true;
        } else if meta.path.is_ident("skip_serializing") {
            out.skip_serializing = true;
        } else if meta.path.is_ident("flatten") {
            out.flatten = true;
        }
        Ok(false)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn rename_rules_match_serde_for_fields() {
        let cases = [
            ("lowercase", "network_id"),
            ("UPPERCASE", "NETWORK_ID"),
            ("PascalCase", "NetworkId"),
            ("camelCase", "networkId"),
            ("snake_case", "network_id"),
            ("SCREAMING_SNAKE_CASE", "NETWORK_ID"),
            ("kebab-case", "network-id"),
            ("SCREAMING-KEBAB-CASE", "NETWORK-ID"),
        ];
        for (rule, want) in cases {
            let lit = LitStr::new(rule, proc_macro2::Span::call_site());
            assert_eq!(
                RenameRule::parse(&lit).unwrap().apply("network_id"),
                want,
                "{rule}"
            );
        }
        // Single words and stray underscores.
        assert_eq!(RenameRule::Camel.apply("id"), "id");
        assert_eq!(RenameRule::Pascal.apply("_a__b"), "AB");
        assert_eq!(RenameRule::Camel.apply(""), "");
    }

    #[test]
    fn unknown_rule_is_an_error_listing_the_rules() {
        let attrs: Vec<Attribute> = vec![parse_quote!(#[serde(rename_all = "Title Case")])];
        let err = serde_rename_all(&attrs).unwrap_err().to_string();
        assert!(
            err.contains("unknown rename_all rule `Title Case`"),
            "{err}"
        );
        assert!(err.contains("camelCase"), "{err}");
    }

    #[test]
    fn rename_all_reads_the_serialize_side_and_skips_other_keys() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[serde(deny_unknown_fields, bound(serialize = "T: X"))]),
            parse_quote!(#[serde(rename_all(deserialize = "snake_case", serialize = "kebab-case"))]),
            parse_quote!(#[doc = "not serde"]),
        ];
        assert_eq!(serde_rename_all(&attrs).unwrap(), Some(RenameRule::Kebab));
        assert_eq!(serde_rename_all(&[]).unwrap(), None);
    }

    #[test]
    fn field_rename_beats_rename_all_and_raw_idents_unraw() {
        let f: Field = parse_quote!(#[serde(default, rename = "ID", skip_serializing_if = "Option::is_none")] network_id: u8);
        assert_eq!(serde_field(&f, Some(RenameRule::Camel)).unwrap().name, "ID");
        let f: Field = parse_quote!(#[serde(rename(serialize = "out", deserialize = "in"))] x: u8);
        assert_eq!(serde_field(&f, None).unwrap().name, "out");
        let f: Field = parse_quote!(r#type: String);
        assert_eq!(
            serde_field(&f, Some(RenameRule::Upper)).unwrap().name,
            "TYPE"
        );
    }

    #[test]
    fn field_flags() {
        let f: Field = parse_quote!(#[serde(skip)] #[serde(flatten, with = "m")] x: u8);
        let s = serde_field(&f, None).unwrap();
        assert!(s.skip && s.flatten && !s.skip_serializing);
        let f: Field = parse_quote!(#[serde(skip_serializing)] x: u8);
        assert!(serde_field(&f, None).unwrap().skip_serializing);
    }
}
