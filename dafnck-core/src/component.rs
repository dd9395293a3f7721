//! Components: a group of resources declared under a parent name, so one
//! module of a program can be used twice without name clashes, and
//! previews and graphs show it as a group.
//!
//! A component is an ordinary Rust function over the [`Stack`] with typed
//! arguments and typed results; [`Stack::component`] runs it with every
//! resource it declares named `<component>/<name>` (`app/web`, nested
//! ones `app/db/primary`). References and `depends_on` work across
//! components as everywhere, through the typed handles.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_core::testing::resources::{Network, NetworkId, Subnet};
//!
//! /// A component's typed arguments and outputs are plain Rust types.
//! struct AppArgs { network_id: Input<NetworkId>, cidr: &'static str }
//! struct App { subnet: Handle<Subnet> }
//!
//! fn app(stack: &mut Stack, args: AppArgs) -> dafnck_core::Result<App> {
//!     let subnet = stack.add("subnet", Subnet {
//!         network_id: args.network_id,
//!         cidr: args.cidr.into(),
//!         ..Default::default()
//!     });
//!     Ok(App { subnet })
//! }
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let net = stack.add("net", Network { cidr: "10.0.0.0/16".into(), ..Default::default() });
//!     let blue = stack.component("blue", |s| {
//!         app(s, AppArgs { network_id: net.out().network_id, cidr: "10.0.1.0/24" })
//!     })?;
//!     // The second use is renamed from "app": its children move, no replacement.
//!     let green = stack.component_with("green", ComponentOptions::new().aliases(["app"]), |s| {
//!         app(s, AppArgs { network_id: net.out().network_id, cidr: "10.0.2.0/24" })
//!     })?;
//!     assert_eq!(blue.subnet.name(), "blue/subnet");
//!     assert_eq!(green.subnet.name(), "green/subnet");
//!     Ok(())
//! }
//! # fn main() { let mut s = Stack::new("dev"); infra(&mut s).unwrap(); }
//! ```

use crate::error::Diagnostic;
use crate::resource::{Location, Options};
use crate::stack::Stack;

/// Options of a component instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentOptions {
    /// Names this instance had before: each child is also known by its
    /// name under each of them, so renaming the instance moves its
    /// children instead of replacing them.
    pub aliases: Vec<String>,
}

impl ComponentOptions {
    /// No options.
    pub fn new() -> Self {
        ComponentOptions::default()
    }

    /// Earlier names of this instance.
    pub fn aliases<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.aliases.extend(names.into_iter().map(Into::into));
        self
    }
}

/// One component instance being declared.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    name: String,
    aliases: Vec<String>,
}

impl Stack {
    /// Runs `build` with every resource it declares named
    /// `<name>/<resource>`, and returns what it returns.
    ///
    /// # Errors
    /// What `build` returns; a bad component name (empty, or holding `/`)
    /// is reported with the program's other problems.
    #[track_caller]
    pub fn component<T>(
        &mut self,
        name: &str,
        build: impl FnOnce(&mut Stack) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let location = Location::caller();
        self.enter(name, ComponentOptions::new(), location, build)
    }

    /// [`Stack::component`] with options: earlier names of the instance.
    ///
    /// # Errors
    /// As [`Stack::component`].
    #[track_caller]
    pub fn component_with<T>(
        &mut self,
        name: &str,
        options: ComponentOptions,
        build: impl FnOnce(&mut Stack) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let location = Location::caller();
        self.enter(name, options, location, build)
    }

    fn enter<T>(
        &mut self,
        name: &str,
        options: ComponentOptions,
        location: Location,
        build: impl FnOnce(&mut Stack) -> crate::Result<T>,
    ) -> crate::Result<T> {
        for n in std::iter::once(name).chain(options.aliases.iter().map(String::as_str)) {
            if n.is_empty() || n.contains('/') || n.contains(char::is_control) {
                self.problem(Diagnostic {
                    resource: None,
                    location: Some(location.clone()),
                    message: format!(
                        "invalid component name {n:?} (it may not be empty or hold '/')"
                    ),
                });
            }
        }
        self.scopes_mut().push(Scope {
            name: name.to_owned(),
            aliases: options.aliases,
        });
        let result = build(self);
        self.scopes_mut().pop();
        result
    }

    /// The path of the component being declared (`app/db`), if any.
    pub fn component_path(&self) -> Option<String> {
        let scopes = self.scopes();
        (!scopes.is_empty()).then(|| {
            scopes
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// The full name of a resource declared as `name` in the current
    /// component, and its options with the names it had under the
    /// component's earlier names (and its own aliases, in the component).
    pub(crate) fn scoped(&self, name: &str, mut options: Options) -> (String, Options) {
        let scopes = self.scopes();
        if scopes.is_empty() {
            return (name.to_owned(), options);
        }
        // Every path the component has had: the current one first.
        let mut paths = vec![String::new()];
        for s in scopes {
            let mut next = Vec::new();
            for p in &paths {
                for n in std::iter::once(&s.name).chain(&s.aliases) {
                    next.push(format!("{p}{n}/"));
                }
            }
            paths = next;
        }
        let own = std::mem::take(&mut options.aliases);
        let mut aliases = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            if i > 0 {
                aliases.push(format!("{p}{name}"));
            }
            aliases.extend(own.iter().map(|a| format!("{p}{a}")));
        }
        options.aliases = aliases;
        (format!("{}{name}", paths[0]), options)
    }
}

/// The component path of a resource name: `app/db` of `app/db/primary`.
pub fn parent_of(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(parent, _)| parent)
}
