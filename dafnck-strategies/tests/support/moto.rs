//! What every test against moto needs: its URL (or a skip), an SDK
//! configuration for it, and names no other test uses.

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
// One type, re-exported by every SDK crate: whichever is built.
#[cfg(feature = "alb")]
use aws_sdk_elasticloadbalancingv2::config::Credentials;
#[cfg(all(not(feature = "alb"), feature = "route53"))]
use aws_sdk_route53::config::Credentials;

/// A name no other test or run uses (load balancer and target group names
/// are unique per account, at most 32 characters).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{:x}-{:x}-{n}",
        std::process::id() & 0xffff,
        nanos >> 8
    )
}

/// moto's URL, or `None` (the test is skipped).
pub fn moto_url(test: &str) -> Option<String> {
    match std::env::var("DAFNCK_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            let why = "DAFNCK_MOTO_URL is not set (eval \"$(scripts/servers/moto.sh start)\", or scripts/test.sh)";
            if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
            }
            // Straight to standard error, past the harness's capture.
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        }
    }
}

/// An SDK configuration for the endpoint `url`: explicit region and
/// credentials, so nothing is read from this process's environment.
pub async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}
