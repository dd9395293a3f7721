//! Scripted analyses for the rollout tests, and moto for the AWS ones.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

/// The moto helpers under the name the Route 53 and Auto Scaling tests use.
#[allow(unused_imports)]
pub mod moto {
    #[cfg(any(
        feature = "alb",
        feature = "lambda",
        feature = "cloudwatch",
        feature = "route53"
    ))]
    pub use super::sdk_config;
    pub use super::{moto_url, unique};
}

use async_trait::async_trait;
use dafnck_strategies::{Analysis, Verdict};

/// An analysis answering from a script, then `rest` forever; counts runs.
#[derive(Clone)]
pub struct Script {
    answers: Arc<Mutex<Vec<Verdict>>>,
    rest: Verdict,
    runs: Arc<Mutex<u32>>,
}

impl Script {
    pub fn new(answers: Vec<Verdict>, rest: Verdict) -> Self {
        Script {
            answers: Arc::new(Mutex::new(answers)),
            rest,
            runs: Arc::new(Mutex::new(0)),
        }
    }

    pub fn always(v: Verdict) -> Self {
        Script::new(Vec::new(), v)
    }

    pub fn runs(&self) -> u32 {
        *self.runs.lock().unwrap()
    }
}

#[async_trait]
impl Analysis for Script {
    fn name(&self) -> &str {
        "script"
    }
    async fn run(&self) -> Verdict {
        *self.runs.lock().unwrap() += 1;
        let mut a = self.answers.lock().unwrap();
        if a.is_empty() {
            self.rest.clone()
        } else {
            a.remove(0)
        }
    }
}

pub fn fail(why: &str) -> Verdict {
    Verdict::Fail(why.into())
}

pub fn unsure(why: &str) -> Verdict {
    Verdict::Inconclusive(why.into())
}

/// Seconds of virtual time since `start`.
pub fn secs_since(start: tokio::time::Instant) -> u64 {
    start.elapsed().as_secs()
}

/// `prefix` and a suffix no other test or run uses (letters, digits and
/// `-`).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{:x}-{nanos:x}-{n}", std::process::id())
}

/// moto's URL, or `None` (the test is skipped: it says so, unless
/// `DAFNCK_REQUIRE_SERVERS=1`, when it fails).
pub fn moto_url(test: &str) -> Option<String> {
    use std::io::Write as _;
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

/// An SDK configuration for the endpoint `url`: explicit region and test
/// credentials, so nothing is read from this process's environment.
#[cfg(any(
    feature = "alb",
    feature = "lambda",
    feature = "cloudwatch",
    feature = "route53"
))]
pub async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .test_credentials()
        .load()
        .await
}
