//! This repository's infrastructure, declared as a program: a directory
//! and a page in it, made on this machine by dafnck's `local` provider, so
//! it runs without a cloud account.
//!
//! ```text
//! cargo run -- preview                          # what `up` would do
//! cargo run -- up --yes                         # makes public/index.html
//! cargo run -- up --yes --config greeting=hi    # updates the page in place
//! cargo run -- destroy --yes                    # removes both
//! cargo test                                    # the program's unit tests
//! ```

use std::process::ExitCode;

use dafnck_core::prelude::*;
use dafnck_providers::local::{self, Directory, File};

/// The program: reads the stack's config and declares the resources.
fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let greeting = stack.config("greeting").unwrap_or("hello").to_owned();
    site(stack, &greeting)
}

/// A directory `public` and an `index.html` in it that says `greeting`.
fn site(stack: &mut Stack, greeting: &str) -> dafnck_core::Result<()> {
    let public = stack.add(
        "public",
        Directory {
            path: "public".into(),
            ..Default::default()
        },
    );
    let index = stack.add_with(
        "index",
        File {
            path: "public/index.html".into(),
            content: format!("<h1>{greeting}</h1>\n").into(),
            mode: Some(0o644),
        },
        // The file goes in the directory: created after it, deleted before.
        Options::new().depends_on(&public),
    );
    stack.export("index", index.out().path);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // `preview`, `up`, `destroy`, `drift`, `state ...`: `cargo run -- --help`.
    dafnck_core::cli::run(infra)
        .provider(local::Provider::default())
        .await
}

/// Unit tests of the program: the engine's fake cloud stands in for the
/// `local` provider, so they touch no file and need no server.
#[cfg(test)]
mod tests {
    use super::*;
    use dafnck_core::testing::{FakeCloud, TestStack};
    use dafnck_core::{Action, Value};

    /// A stack whose `local:*` resources live in a fake cloud.
    fn test_stack() -> TestStack {
        TestStack::with_cloud("dev", FakeCloud::with_package("local"))
    }

    #[tokio::test]
    async fn the_first_preview_creates_the_directory_and_the_page() {
        let t = test_stack();
        let plan = t.preview(infra).await.unwrap();
        assert_eq!(plan.action("public"), Some(Action::Create));
        assert_eq!(plan.action("index"), Some(Action::Create));
        let page = plan.change("index").unwrap().after.as_ref().unwrap();
        assert_eq!(page.get("content"), Some(&Value::from("<h1>hello</h1>\n")));
        assert!(t.cloud().objects().is_empty(), "a preview creates nothing");
    }

    #[tokio::test]
    async fn a_new_greeting_updates_the_page_in_place() {
        let t = test_stack();
        assert!(t.up(infra).await.unwrap().is_success());
        assert!(!t.preview(infra).await.unwrap().has_changes());

        let plan = t.preview(|s: &mut Stack| site(s, "hi")).await.unwrap();
        assert_eq!(plan.action("index"), Some(Action::Update));
        assert_eq!(plan.action("public"), Some(Action::NoOp));
    }

    #[tokio::test]
    async fn destroy_removes_everything() {
        let t = test_stack();
        t.up(infra).await.unwrap();
        assert_eq!(t.cloud().objects().len(), 2);
        assert!(t.destroy().await.unwrap().is_success());
        assert!(t.cloud().objects().is_empty());
    }
}
