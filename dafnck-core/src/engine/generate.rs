//! Programs written from what exists: [`Engine::declaration`] reads one
//! object and writes the Rust declaring it (`import --generate`);
//! [`Engine::program`] reads many (an adoption's) and writes a whole
//! `main.rs`, each declaration after those it refers to and an id of
//! another adopted object written as a reference to that object's output.
//! Both only read: nothing is created, changed or recorded.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{unknown_resource, Engine};
use crate::declare::{variable, Declaration};
use crate::error::{Diagnostic, Error};
use crate::provider::{Declared, Observed};
use crate::stack::Stack;
use crate::state::ResourceState;
use crate::value::Value;

use super::ImportSpec;

/// Declarations written from live objects (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// One `let var = stack.add("name", ..);` per object, each after those
    /// it refers to, as `(name, statement)`.
    pub statements: Vec<(String, String)>,
    /// The modules the declarations name types of
    /// (`dafnck_providers::aws::ec2`), for `use` lines.
    pub uses: BTreeSet<String>,
    /// The expressions making the providers of the objects
    /// (`dafnck_providers::aws::Provider::from_env()`), where the providers
    /// have standard ones.
    pub providers: BTreeSet<String>,
    /// `(object, the object it refers to)` for each reference written.
    pub references: Vec<(String, String)>,
}

impl Generated {
    /// A whole `main.rs`: the `use` lines, `infra` declaring every object,
    /// and a `main` running the command line with the providers. `notes`
    /// open the file as `//!` lines (where the objects came from, what was
    /// left out).
    pub fn main_rs(&self, notes: &[String]) -> String {
        let mut out = String::new();
        for note in notes {
            if note.is_empty() {
                out.push_str("//!\n");
            } else {
                out.push_str(&format!("//! {note}\n"));
            }
        }
        if !notes.is_empty() {
            out.push('\n');
        }
        // Not every object's variable is referred to.
        out.push_str("#![allow(unused_variables)]\n\n");
        out.push_str("use dafnck_core::prelude::*;\n");
        for module in &self.uses {
            out.push_str(&format!("use {module};\n"));
        }
        out.push_str("\nfn infra(stack: &mut Stack) -> dafnck_core::Result<()> {\n");
        for (_, statement) in &self.statements {
            for (i, line) in statement.lines().enumerate() {
                if i == 0 || !line.is_empty() {
                    out.push_str("    ");
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("    Ok(())\n}\n\n");
        out.push_str("#[tokio::main]\nasync fn main() -> std::process::ExitCode {\n");
        out.push_str("    dafnck_core::cli::run(infra)\n");
        for provider in &self.providers {
            out.push_str(&format!("        .provider({provider})\n"));
        }
        out.push_str("        .await\n}\n");
        out
    }
}

impl Engine {
    /// Reads the object `id` of the type the program declares for `name`
    /// and writes the Rust declaring it as it is: a
    /// `let var = stack.add("name", ..);` to paste over the program's own.
    /// An id of a recorded resource is written as a reference to its output.
    /// The only provider call is the read; nothing is recorded.
    ///
    /// # Errors
    /// [`Error::Program`] when the program does not declare `name`, there
    /// is no such object, or its provider cannot write it; [`Error::Read`]
    /// when the read fails.
    pub async fn declaration<F>(&self, program: F, name: &str, id: &str) -> crate::Result<Generated>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let desired = self.desired(program)?;
        let Some(i) = desired.position(name) else {
            return Err(Error::Program(vec![unknown_resource(
                name,
                "declared by the program",
            )]));
        };
        let node = &desired.nodes[i];
        let state = self.state().await?;
        let mut decl = Declaration::new();
        // Ids of what is recorded become references to it.
        let mut scratch = Declaration::new();
        for r in state.resources.values() {
            let Ok(provider) =
                self.providers
                    .for_instance(&r.name, &r.type_name, r.provider.as_deref(), None)
            else {
                continue;
            };
            let observed = Observed {
                id: r.id.clone(),
                inputs: r.inputs.clone(),
                outputs: r.outputs.clone(),
            };
            if let Ok(d) = provider.declare(&r.type_name, &observed, &mut scratch) {
                refer(&mut decl, &variable(&r.name), &r.id, &d);
            }
        }
        let probe = ResourceState {
            location: Some((*node.location).clone()),
            ..probe(name, &node.type_name, id, node.options.provider.clone())
        };
        let found = self.read_probes(std::slice::from_ref(&probe)).await?;
        let mut generated = Generated::default();
        let var = variable(name);
        let d = self.declare_one(&probe, &found[0], &mut decl)?;
        generated.add(name, &var, &d, &decl);
        Ok(generated)
    }

    /// Reads every object `objects` names (`(import, our type)`, as an
    /// [`Adoption`](crate::terraform::Adoption) lists them; batched where
    /// the provider reads in batches) and writes the program declaring them
    /// as they are: each object after those whose ids it holds, and such an
    /// id written as a reference to the other object's output where the
    /// types allow. Nothing is recorded.
    ///
    /// # Errors
    /// [`Error::Program`] naming each object that does not exist or whose
    /// provider cannot write it, and a name given twice; [`Error::Read`]
    /// when a read fails; [`Error::NoProvider`] for a type no provider
    /// serves.
    pub async fn program(&self, objects: &[(ImportSpec, &str)]) -> crate::Result<Generated> {
        let mut seen = HashSet::new();
        let twice: Vec<Diagnostic> = objects
            .iter()
            .filter(|(s, _)| !seen.insert(s.name.as_str()))
            .map(|(s, _)| problem(&s.name, "is named twice".into()))
            .collect();
        if !twice.is_empty() {
            return Err(Error::Program(twice));
        }
        let probes: Vec<ResourceState> = objects
            .iter()
            .map(|(s, t)| probe(&s.name, t, &s.id, s.provider.clone()))
            .collect();
        for p in &probes {
            self.providers
                .for_instance(&p.name, &p.type_name, p.provider.as_deref(), None)?;
        }
        let found = self.read_probes(&probes).await?;
        let order = dependency_order(&found);
        let vars = variables(objects.iter().map(|(s, _)| s.name.as_str()));
        let mut decl = Declaration::new();
        let mut generated = Generated::default();
        let mut problems = Vec::new();
        // The object holding each id.
        let owners: HashMap<&str, usize> = found
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.as_str(), i))
            .collect();
        for i in order {
            let (p, o) = (&probes[i], &found[i]);
            match self.declare_one(p, o, &mut decl) {
                Ok(d) => {
                    let before = generated.statements.len();
                    generated.add(&p.name, &vars[i], &d, &decl);
                    let written = generated.statements[before].1.clone();
                    let mut held: BTreeSet<usize> = BTreeSet::new();
                    strings(&o.inputs, &mut |s| {
                        held.extend(owners.get(s).copied().filter(|&j| j != i));
                    });
                    for j in held {
                        if written.contains(&format!("{}.out().", vars[j])) {
                            generated
                                .references
                                .push((p.name.clone(), probes[j].name.clone()));
                        }
                    }
                    refer(&mut decl, &vars[i], &o.id, &d);
                }
                Err(Error::Program(mut d)) => problems.append(&mut d),
                Err(e) => return Err(e),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Program(problems));
        }
        Ok(generated)
    }

    /// Writes the object `observed` of `probe`'s type through its provider.
    fn declare_one(
        &self,
        probe: &ResourceState,
        observed: &Observed,
        decl: &mut Declaration,
    ) -> crate::Result<Declared> {
        let provider = self.providers.for_instance(
            &probe.name,
            &probe.type_name,
            probe.provider.as_deref(),
            probe.location.as_ref(),
        )?;
        provider
            .declare(&probe.type_name, observed, decl)
            .map_err(|e| {
                Error::Program(vec![Diagnostic {
                    resource: Some(probe.name.clone()),
                    location: probe.location.clone(),
                    message: format!("cannot be written as a declaration: {e}"),
                }])
            })
    }
}

impl Generated {
    fn add(&mut self, name: &str, var: &str, d: &Declared, decl: &Declaration) {
        self.statements.push((
            name.to_owned(),
            format!("let {var} = stack.add({name:?}, {});", d.expression),
        ));
        self.uses.extend(decl.uses().iter().cloned());
        self.providers.extend(d.provider.map(str::to_owned));
    }
}

/// Lets later declarations refer to the object `id` (declared as `var`)
/// through its outputs that hold the id.
fn refer(decl: &mut Declaration, var: &str, id: &str, d: &Declared) {
    for f in &d.id_outputs {
        decl.refer_typed(id, format!("{var}.out().{}", f.rust_name), f.rust_type);
    }
}

/// The record of an object to read, before it is read.
fn probe(name: &str, type_name: &str, id: &str, provider: Option<String>) -> ResourceState {
    ResourceState {
        name: name.to_owned(),
        type_name: type_name.to_owned(),
        id: id.to_owned(),
        inputs: Value::Null,
        outputs: Value::Null,
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
        location: None,
        provider,
    }
}

fn problem(name: &str, message: String) -> Diagnostic {
    Diagnostic {
        resource: Some(name.to_owned()),
        location: None,
        message,
    }
}

/// Calls `f` with every string in `v`.
fn strings<'v>(v: &'v Value, f: &mut impl FnMut(&'v str)) {
    match v {
        Value::String(s) => f(s),
        Value::List(items) => items.iter().for_each(|i| strings(i, f)),
        Value::Map(map) => map.values().for_each(|i| strings(i, f)),
        Value::Secret(inner) => strings(inner, f),
        _ => {}
    }
}

/// The objects in an order where each comes after those whose ids its
/// inputs hold, otherwise in the order given (objects in a cycle last, in
/// the order given).
fn dependency_order(found: &[Observed]) -> Vec<usize> {
    let index: HashMap<&str, usize> = found
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i))
        .collect();
    let deps: Vec<BTreeSet<usize>> = found
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut d = BTreeSet::new();
            strings(&o.inputs, &mut |s| {
                if let Some(&j) = index.get(s).filter(|&&j| j != i) {
                    d.insert(j);
                }
            });
            d
        })
        .collect();
    let mut done = vec![false; found.len()];
    let mut order = Vec::with_capacity(found.len());
    loop {
        let next = (0..found.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        let Some(i) = next.or_else(|| (0..found.len()).find(|&i| !done[i])) else {
            break;
        };
        done[i] = true;
        order.push(i);
    }
    order
}

/// One distinct Rust variable per name (`web-0` and `web_0` both want
/// `web_0`: the second gets `web_0_2`).
fn variables<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .map(|n| {
            let base = variable(n);
            let mut var = base.clone();
            let mut k = 2;
            while !taken.insert(var.clone()) {
                var = format!("{base}_{k}");
                k += 1;
            }
            var
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(id: &str, inputs: serde_json::Value) -> Observed {
        Observed {
            id: id.into(),
            inputs: Value::from_json(inputs),
            outputs: Value::Null,
        }
    }

    #[test]
    fn objects_come_after_those_whose_ids_they_hold() {
        let found = [
            observed(
                "rtb-1",
                serde_json::json!({"vpc": "vpc-1", "routes": [{"gw": "igw-1"}]}),
            ),
            observed("igw-1", serde_json::json!({"vpc": "vpc-1"})),
            observed("vpc-1", serde_json::json!({"cidr": "10.0.0.0/16"})),
            observed("x-1", serde_json::json!({"peer": "y-1"})),
            observed("y-1", serde_json::json!({"peer": "x-1"})),
        ];
        assert_eq!(dependency_order(&found), vec![2, 1, 0, 3, 4]);
    }

    #[test]
    fn variables_are_distinct() {
        let vars = variables(["web-0", "web_0", "type", "web-0x"].into_iter());
        assert_eq!(vars, ["web_0", "web_0_2", "type_", "web_0x"]);
    }

    #[test]
    fn main_rs_indents_statements_and_lists_uses_and_providers() {
        let g = Generated {
            statements: vec![(
                "main".into(),
                "let main = stack.add(\"main\", ec2::Vpc {\n    cidr_block: \"10.0.0.0/16\".into(),\n});"
                    .into(),
            )],
            uses: BTreeSet::from(["dafnck_providers::aws::ec2".to_string()]),
            providers: BTreeSet::from(["dafnck_providers::aws::Provider::from_env()".to_string()]),
            references: Vec::new(),
        };
        let text = g.main_rs(&["Adopted.".into(), String::new(), "More.".into()]);
        assert!(text.starts_with("//! Adopted.\n//!\n//! More.\n"), "{text}");
        assert!(text.contains("use dafnck_providers::aws::ec2;\n"), "{text}");
        assert!(
            text.contains(
                "    let main = stack.add(\"main\", ec2::Vpc {\n        cidr_block: \"10.0.0.0/16\".into(),\n    });\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(".provider(dafnck_providers::aws::Provider::from_env())"),
            "{text}"
        );
    }
}
