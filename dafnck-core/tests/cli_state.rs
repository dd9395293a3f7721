//! Where the command line keeps a stack's state: `--state URL` /
//! `DAFNCK_STATE`, the program's per-stack setting, the default file store
//! under `--state-dir`, and backends the program registers.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::cli;
use dafnck_core::prelude::*;
use dafnck_core::state::{self, FileStore, MemoryStore, StateError, StateStore, StoreBackend};
use dafnck_core::testing::resources::Network;
use dafnck_core::testing::FakeCloud;

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add(
        "net",
        Network {
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        },
    );
    Ok(())
}

/// `memory://`: one shared in-memory store, to see which store a run used.
struct Memory(MemoryStore);

#[async_trait]
impl StoreBackend for Memory {
    fn scheme(&self) -> &str {
        "memory"
    }
    async fn open(&self, _url: &str) -> Result<Arc<dyn StateStore>, StateError> {
        Ok(Arc::new(self.0.clone()))
    }
}

async fn resources(store: &dyn StateStore, stack: &str) -> usize {
    state::load(store, stack).await.unwrap().resources.len()
}

fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "prog".to_owned(),
        "--state-dir".to_owned(),
        dir.join("default").display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test]
async fn state_is_kept_where_the_flag_then_the_program_then_the_default_says() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryStore::new();
    let per_stack = format!("file://{}", dir.path().join("prod-state").display());
    let cli = |extra: &[&str]| {
        cli::run(infra)
            .provider(FakeCloud::new())
            .state_backend(Memory(memory.clone()))
            .stack_state("prod", per_stack.clone())
            .args(args(dir.path(), extra))
    };

    // Default: the file store under --state-dir.
    assert_eq!(cli(&["up", "--yes"]).exit_code().await, 0);
    let default = FileStore::new(dir.path().join("default"));
    assert_eq!(resources(&default, "dev").await, 1);

    // The program's per-stack URL.
    assert_eq!(
        cli(&["--stack", "prod", "up", "--yes"]).exit_code().await,
        0
    );
    let prod = FileStore::new(dir.path().join("prod-state"));
    assert_eq!(resources(&prod, "prod").await, 1);
    assert_eq!(resources(&default, "prod").await, 0);

    // --state wins over both, with a registered scheme.
    assert_eq!(
        cli(&["--stack", "prod", "--state", "memory://x", "up", "--yes"])
            .exit_code()
            .await,
        0
    );
    assert_eq!(resources(&memory, "prod").await, 1);

    // An unknown scheme is an error, and nothing is written.
    assert_eq!(
        cli(&["--stack", "qa", "--state", "s3://bucket", "up", "--yes"])
            .exit_code()
            .await,
        1
    );
    assert_eq!(resources(&default, "qa").await, 0);

    // migrate copies the default store's stack into the memory store.
    assert_eq!(
        cli(&["state", "migrate", "--to", "memory://x"])
            .exit_code()
            .await,
        0
    );
    assert_eq!(
        state::load(&memory, "dev").await.unwrap(),
        state::load(&default, "dev").await.unwrap()
    );
    // Again: the target has state now, so it is refused.
    assert_eq!(
        cli(&["state", "migrate", "--to", "memory://x"])
            .exit_code()
            .await,
        1
    );
}
