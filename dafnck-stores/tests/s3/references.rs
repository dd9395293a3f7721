//! Stack references to a stack kept in S3 (moto): an app stack in another
//! store reads the network stack's exports by its `s3://` URL. The
//! backend opens the bucket with the test's SDK configuration (the one
//! `dafnck::cli::run` registers reads the AWS environment, which
//! `tests/cli_s3.rs` sets for the example it runs).

use std::sync::Arc;

#[path = "../common/references.rs"]
mod common;

use aws_config::SdkConfig;
use dafnck_core::state::{StateError, StateStore, StoreBackend, StoreBackends};
use dafnck_stores::s3::S3Store;

use super::{moto, sdk_config};

/// `s3://` URLs on the moto server.
struct MotoBackend(SdkConfig);

#[async_trait::async_trait]
impl StoreBackend for MotoBackend {
    fn scheme(&self) -> &str {
        "s3"
    }

    async fn open(&self, url: &str) -> Result<Arc<dyn StateStore>, StateError> {
        Ok(Arc::new(S3Store::with_config(url, &self.0).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_in_another_store_reads_the_exports_by_s3_url() {
    let Some(m) = moto("references").await else {
        return;
    };
    let mut backends = StoreBackends::new();
    backends.insert(Arc::new(MotoBackend(sdk_config(&m.endpoint).await)));
    common::an_app_reads_the_network_by_url(m.store().await, &m.url, backends).await;
}
