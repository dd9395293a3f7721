//! The one walk over a resource's inputs that feeds every rule over plain
//! strings ([`Rule::strings`](super::Rule::strings)): the generic pack's
//! secrets-by-pattern, password-field and URL-credential rules read each
//! string once between them, not once each.

use super::rule::{Findings, ResourceView, StringCheck};
use crate::value::Value;

/// The path to a value inside a resource's inputs, kept on the walk's
/// stack (each step points at its parent): a map key or a list index. It
/// is rendered (`ingress[0].cidr_blocks`) only for a value that is
/// flagged, so a walk over clean inputs allocates nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The path as a field path: `a.b[2].c`.
    pub(crate) fn render(&self) -> String {
        use std::fmt::Write as _;
        match self {
            Path::Root => String::new(),
            Path::Key(parent, k) => {
                let mut path = parent.render();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                path
            }
            Path::Index(parent, i) => {
                let mut path = parent.render();
                let _ = write!(path, "[{i}]");
                path
            }
        }
    }
}

/// One plain string inside a resource's inputs, as a rule over strings
/// ([`Rule::strings`](super::Rule::strings)) meets it. Strings inside a
/// [`Value::Secret`] are not met (that is where such values belong), nor
/// are references or computed values (not strings yet).
#[derive(Clone, Copy, Debug)]
pub struct PlainString<'a> {
    /// The resource whose inputs hold it.
    pub resource: &'a ResourceView<'a>,
    /// The map key it is the value of; `None` for an item of a list (or
    /// inputs that are a bare string).
    pub key: Option<&'a str>,
    /// The string.
    pub value: &'a str,
    path: &'a Path<'a>,
}

impl PlainString<'_> {
    /// Its field path in the inputs (`env[1].value`), made on demand.
    pub fn path(&self) -> String {
        self.path.render()
    }

    /// The resource violates the rule at this string's field path.
    pub fn flag(&self, out: &mut Findings, message: impl Into<String>) {
        out.flag(self.path(), message);
    }
}

/// Walks `view`'s inputs once, calling each of `checks` on every plain
/// string met, with `found[j]` collecting what `checks[j]` flags.
pub(crate) fn strings(view: &ResourceView<'_>, checks: &[&StringCheck], found: &mut [Findings]) {
    debug_assert_eq!(checks.len(), found.len());
    fn walk(
        v: &Value,
        key: Option<&str>,
        path: &Path<'_>,
        view: &ResourceView<'_>,
        checks: &[&StringCheck],
        found: &mut [Findings],
    ) {
        match v {
            Value::String(s) => {
                let string = PlainString {
                    resource: view,
                    key,
                    value: s,
                    path,
                };
                for (check, out) in checks.iter().zip(found.iter_mut()) {
                    check(&string, out);
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, None, &Path::Index(path, i), view, checks, found);
                }
            }
            Value::Map(m) => {
                for (k, item) in m.iter() {
                    walk(item, Some(k), &Path::Key(path, k), view, checks, found);
                }
            }
            _ => {}
        }
    }
    if !checks.is_empty() {
        walk(view.inputs, None, &Path::Root, view, checks, found);
    }
}
