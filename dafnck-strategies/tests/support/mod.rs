//! Scripted analyses for the rollout tests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

#[cfg(any(feature = "alb", feature = "route53"))]
pub mod moto;

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
