//! Values as Rust source: the [`Declare`] trait renders a value as the Rust
//! expression that builds it, so a live object read by a provider can be
//! printed as a declaration ready to paste into a program.
//!
//! Every field type renders itself: strings as `"..".into()`, numbers and
//! bools as literals, `Option`, `Vec` and maps by their contents, structs and
//! enums by `#[derive(Declare)]`, and an [`Input`] as its value, or as a
//! reference to another resource's output (`vpc.out().id`) when the value is
//! an id the [`Declaration`] knows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use crate::resource::Input;

/// A value that can write the Rust expression building it.
///
/// Implement it with `#[derive(Declare)]` (from the prelude) on structs with
/// named fields and on enums; it is implemented here for the primitive types,
/// `String`, `Option`, `Vec`, `BTreeMap`, `HashMap`, `Box` and [`Input`].
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_core::declare::Declaration;
///
/// #[derive(Declare)]
/// struct Network {
///     cidr: Input<String>,
///     ports: Vec<u16>,
/// }
///
/// let net = Network { cidr: "10.0.0.0/16".into(), ports: vec![80] };
/// let code = Declaration::new().expression(&net);
/// assert_eq!(code, "Network {\n    cidr: \"10.0.0.0/16\".into(),\n    ports: vec![80],\n}");
/// ```
pub trait Declare {
    /// Writes the expression building `self` to `out`.
    fn declare(&self, out: &mut Declaration);

    /// The id this value names, if it is a string: an [`Input`] holding an id
    /// the declaration knows is written as a reference to its owner.
    fn as_id(&self) -> Option<&str> {
        None
    }

    /// Writes `self` as the value of an [`Input`]: `Input::value(..)`, or
    /// for a string the shorter `"..".into()`.
    fn declare_input(&self, out: &mut Declaration) {
        out.raw("Input::value(");
        self.declare(out);
        out.raw(")");
    }
}

/// Rust source being written: the text, the indentation of the current
/// line, the ids of resources already declared, with the expressions
/// referring to each (`vpc.out().id`), and where the types it names are.
#[derive(Debug, Default, Clone)]
pub struct Declaration {
    text: String,
    depth: usize,
    ids: BTreeMap<String, Vec<Reference>>,
    modules: Option<fn(&str) -> Option<String>>,
    uses: BTreeSet<String>,
}

/// An expression referring to a resource's output that holds an id.
#[derive(Debug, Clone)]
struct Reference {
    expression: String,
    /// The Rust type of the output (`std::any::type_name`), when known: the
    /// reference is then written only where an `Input` of that type is.
    of_type: Option<&'static str>,
}

impl Declaration {
    /// An empty declaration that knows no ids.
    pub fn new() -> Self {
        Declaration::default()
    }

    /// Writes an [`Input`] whose value is `id` as `reference` (an expression
    /// of type `Input<String>`, such as `vpc.out().id`).
    pub fn refer(&mut self, id: impl Into<String>, reference: impl Into<String>) -> &mut Self {
        self.ids.entry(id.into()).or_default().push(Reference {
            expression: reference.into(),
            of_type: None,
        });
        self
    }

    /// Writes an `Input<T>` whose value is `id` as `reference` only where
    /// `T` is the type `of_type` names (as [`std::any::type_name`] writes
    /// it): the output `vpc.out().vpc_id` is an `Input<VpcId>`, so it
    /// stands for the id in a field of that type and nowhere else. An id
    /// may have several such references, one per type.
    pub fn refer_typed(
        &mut self,
        id: impl Into<String>,
        reference: impl Into<String>,
        of_type: &'static str,
    ) -> &mut Self {
        self.ids.entry(id.into()).or_default().push(Reference {
            expression: reference.into(),
            of_type: Some(of_type),
        });
        self
    }

    /// Names types by the public module each is in: `modules` maps the
    /// module a type is defined in (as `module_path!()` writes it) to the
    /// one a program imports it from (`dafnck_providers::aws::ec2`), and
    /// the type is then written as `ec2::Vpc`, its module recorded in
    /// [`Declaration::uses`]. A type `modules` does not place is written by
    /// its bare name, as is every type after `qualify(None)`.
    pub fn qualify(&mut self, modules: Option<fn(&str) -> Option<String>>) -> &mut Self {
        self.modules = modules;
        self
    }

    /// The modules of the types written qualified so far (see
    /// [`Declaration::qualify`]), for the program's `use` lines.
    pub fn uses(&self) -> &BTreeSet<String> {
        &self.uses
    }

    /// Writes the name of the type `name` defined in module `module` (what
    /// `#[derive(Declare)]` calls): qualified by its module's last part when
    /// [`Declaration::qualify`] places the module, else bare.
    pub fn type_name(&mut self, name: &str, module: &str) {
        if let Some(public) = self.modules.and_then(|m| m(module)) {
            let last = public.rsplit("::").next().unwrap_or(&public).to_owned();
            self.uses.insert(public);
            self.text.push_str(&last);
            self.text.push_str("::");
        }
        self.text.push_str(name);
    }

    /// The expression building `value`, starting at indentation zero.
    pub fn expression(&mut self, value: &(impl Declare + ?Sized)) -> String {
        self.text.clear();
        self.depth = 0;
        value.declare(self);
        std::mem::take(&mut self.text)
    }

    /// `let var = stack.add("name", <value>);` for the resource `name`,
    /// where `var` is [`variable`] of `name`.
    pub fn statement(&mut self, name: &str, value: &(impl Declare + ?Sized)) -> String {
        let expr = self.expression(value);
        format!("let {} = stack.add({name:?}, {expr});", variable(name))
    }

    /// Appends `code` as it is.
    pub fn raw(&mut self, code: &str) {
        self.text.push_str(code);
    }

    /// Appends a string literal of `s` (escaped as Rust's `{:?}` does).
    pub fn string(&mut self, s: &str) {
        let _ = write!(self.text, "{s:?}");
    }

    /// Writes a struct literal `path { field: value, .. }`, one field a line.
    pub fn struct_literal(&mut self, path: &str, fields: &[(&str, &dyn Declare)]) {
        self.raw(path);
        if fields.is_empty() {
            self.raw(" {}");
            return;
        }
        self.raw(" {");
        self.depth += 1;
        for (name, value) in fields {
            self.newline();
            self.raw(name);
            self.raw(": ");
            value.declare(self);
            self.raw(",");
        }
        self.depth -= 1;
        self.newline();
        self.raw("}");
    }

    /// Writes a call-like literal `path(a, b)` (a tuple struct or variant).
    pub fn tuple_literal(&mut self, path: &str, items: &[&dyn Declare]) {
        self.raw(path);
        self.raw("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.raw(", ");
            }
            item.declare(self);
        }
        self.raw(")");
    }

    /// Writes `open item, item close`, one item a line when there are any.
    fn list(&mut self, open: &str, close: &str, items: &[&dyn Declare]) {
        self.raw(open);
        self.depth += 1;
        for item in items {
            self.newline();
            item.declare(self);
            self.raw(",");
        }
        self.depth -= 1;
        if !items.is_empty() {
            self.newline();
        }
        self.raw(close);
    }

    fn newline(&mut self) {
        self.text.push('\n');
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
    }
}

/// The Rust variable for the resource `name`: its characters that cannot be
/// in an identifier become `_` (so `web-0` is `web_0`), one that starts
/// with a digit gets a `_` in front, and a keyword (or `stack`) one behind.
pub fn variable(name: &str) -> String {
    let mut var: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) {
        var.insert(0, '_');
    }
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while", "yield", "stack",
    ];
    if KEYWORDS.contains(&var.as_str()) || var == "_" {
        var.push('_');
    }
    var
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl Declare for $t {
            fn declare(&self, out: &mut Declaration) {
                out.raw(&self.to_string());
            }
        }
    )*};
}
literal!(bool, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Declare for $t {
            fn declare(&self, out: &mut Declaration) {
                if self.is_finite() {
                    // `{:?}` keeps a `.0`, so the literal stays a float.
                    out.raw(&format!("{self:?}"));
                } else if self.is_nan() {
                    out.raw(concat!(stringify!($t), "::NAN"));
                } else if *self > 0.0 {
                    out.raw(concat!(stringify!($t), "::INFINITY"));
                } else {
                    out.raw(concat!(stringify!($t), "::NEG_INFINITY"));
                }
            }
        }
    )*};
}
float!(f32, f64);

impl Declare for char {
    fn declare(&self, out: &mut Declaration) {
        out.raw(&format!("{self:?}"));
    }
}

impl Declare for String {
    fn declare(&self, out: &mut Declaration) {
        out.string(self);
        out.raw(".into()");
    }

    fn as_id(&self) -> Option<&str> {
        Some(self)
    }

    fn declare_input(&self, out: &mut Declaration) {
        self.declare(out);
    }
}

impl<T: Declare + ?Sized> Declare for Box<T> {
    fn declare(&self, out: &mut Declaration) {
        out.raw("Box::new(");
        (**self).declare(out);
        out.raw(")");
    }
}

impl<T: Declare> Declare for Option<T> {
    fn declare(&self, out: &mut Declaration) {
        match self {
            None => out.raw("None"),
            Some(v) => out.tuple_literal("Some", &[v]),
        }
    }
}

impl<T: Declare> Declare for Vec<T> {
    fn declare(&self, out: &mut Declaration) {
        let items: Vec<&dyn Declare> = self.iter().map(|v| v as &dyn Declare).collect();
        // Short lists of numbers and the like stay on one line.
        let mut one_line = Declaration {
            ids: std::mem::take(&mut out.ids),
            modules: out.modules,
            ..Declaration::default()
        };
        one_line.raw("vec!");
        one_line.tuple_literal("", &items);
        one_line.text.replace_range(4..5, "[");
        one_line.text.pop();
        one_line.raw("]");
        out.ids = std::mem::take(&mut one_line.ids);
        if one_line.text.len() <= 60 && !one_line.text.contains('\n') {
            out.uses.append(&mut one_line.uses);
            out.raw(&one_line.text);
        } else {
            out.list("vec![", "]", &items);
        }
    }
}

/// A map entry, written as the tuple `(key, value)`.
struct Entry<'a, K, V>(&'a K, &'a V);

impl<K: Declare, V: Declare> Declare for Entry<'_, K, V> {
    fn declare(&self, out: &mut Declaration) {
        out.tuple_literal("", &[self.0, self.1]);
    }
}

/// Writes a map as `Path::from([(k, v), ..])`.
fn map<K: Declare, V: Declare>(out: &mut Declaration, path: &str, entries: &[Entry<'_, K, V>]) {
    let items: Vec<&dyn Declare> = entries.iter().map(|e| e as &dyn Declare).collect();
    out.raw(path);
    out.raw("::from(");
    out.list("[", "]", &items);
    out.raw(")");
}

impl<K: Declare, V: Declare> Declare for BTreeMap<K, V> {
    fn declare(&self, out: &mut Declaration) {
        if self.is_empty() {
            return out.raw("Default::default()");
        }
        let entries: Vec<_> = self.iter().map(|(k, v)| Entry(k, v)).collect();
        map(out, "std::collections::BTreeMap", &entries);
    }
}

impl<K: Declare, V: Declare, S> Declare for HashMap<K, V, S> {
    fn declare(&self, out: &mut Declaration) {
        if self.is_empty() {
            return out.raw("Default::default()");
        }
        // Sorted by the rendered key, so the text does not change run to run.
        let mut entries: Vec<(String, &K, &V)> = self
            .iter()
            .map(|(k, v)| (Declaration::new().expression(k), k, v))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let entries: Vec<_> = entries.into_iter().map(|(_, k, v)| Entry(k, v)).collect();
        map(out, "std::collections::HashMap", &entries);
    }
}

impl<T> Declare for crate::Secret<T> {
    /// A secret is never printed: the declaration holds a default value the
    /// user replaces (from config or a secret store), and says so.
    fn declare(&self, out: &mut Declaration) {
        out.raw("Secret::new(Default::default() /* a secret: not printed, set it */)");
    }
}

impl<T: Declare> Declare for std::collections::BTreeSet<T> {
    fn declare(&self, out: &mut Declaration) {
        if self.is_empty() {
            return out.raw("Default::default()");
        }
        let items: Vec<&dyn Declare> = self.iter().map(|v| v as &dyn Declare).collect();
        out.raw("std::collections::BTreeSet::from(");
        out.list("[", "]", &items);
        out.raw(")");
    }
}

impl Declare for std::time::Duration {
    fn declare(&self, out: &mut Declaration) {
        let (secs, nanos) = (self.as_secs(), self.subsec_nanos());
        if nanos == 0 {
            out.raw(&format!("std::time::Duration::from_secs({secs})"));
        } else if nanos % 1_000_000 == 0 {
            out.raw(&format!(
                "std::time::Duration::from_millis({})",
                self.as_millis()
            ));
        } else {
            out.raw(&format!("std::time::Duration::new({secs}, {nanos})"));
        }
    }
}

impl Declare for std::path::PathBuf {
    fn declare(&self, out: &mut Declaration) {
        out.raw("std::path::PathBuf::from(");
        out.string(&self.to_string_lossy());
        out.raw(")");
    }
}

/// JSON (a policy document, a manifest) is written as `serde_json::json!`
/// of the same JSON, so the program depends on `serde_json`.
impl Declare for serde_json::Value {
    fn declare(&self, out: &mut Declaration) {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        out.raw("serde_json::json!(");
        let mut first = true;
        for line in text.lines() {
            if !first {
                out.newline();
            }
            first = false;
            out.raw(line);
        }
        out.raw(")");
    }
}

/// A value of a type that cannot implement [`Declare`] (one of another
/// crate), written through its JSON as
/// `serde_json::from_value(serde_json::json!(..)).unwrap()`: what
/// `#[declare(json)]` on a field uses.
pub struct Json<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> Declare for Json<'_, T> {
    fn declare(&self, out: &mut Declaration) {
        match serde_json::to_value(self.0) {
            Ok(v) => {
                out.raw("serde_json::from_value(");
                v.declare(out);
                out.raw(").unwrap()");
            }
            Err(e) => out.raw(&format!("Default::default() /* not serializable: {e} */")),
        }
    }
}

impl<T: Declare> Declare for Input<T> {
    fn declare(&self, out: &mut Declaration) {
        if let Some(v) = self.as_value() {
            let of_type = std::any::type_name::<T>();
            let reference = v.as_id().and_then(|id| out.ids.get(id)).and_then(|refs| {
                refs.iter()
                    .find(|r| r.of_type.is_none_or(|t| t == of_type))
                    .map(|r| r.expression.clone())
            });
            if let Some(reference) = reference {
                return out.raw(&reference);
            }
            return v.declare_input(out);
        }
        if let Some(o) = self.as_output() {
            return out.raw(&format!("{}.out().{}", variable(&o.resource), o.field));
        }
        // A value computed from outputs when the program runs: nothing a
        // read returns, but say so rather than print a wrong value.
        out.raw("Default::default() /* computed when the program runs */");
    }
}
