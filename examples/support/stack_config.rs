//! Reading an example's config (`--config KEY=VALUE`), shared by the AWS
//! examples: a value with a default, a number, canary steps.

use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::strategies::Step;

/// The config value `key`, or `default`.
pub fn config(stack: &Stack, key: &str, default: &str) -> String {
    stack
        .config(key)
        .map_or_else(|| default.to_owned(), str::to_owned)
}

/// The config value `key` (or `default`) as a number.
///
/// # Errors
/// It is not one; the message names the key.
#[allow(dead_code)] // Not every example reads a number.
pub fn number<T: std::str::FromStr>(stack: &Stack, key: &str, default: &str) -> Result<T, Error> {
    config(stack, key, default)
        .parse()
        .map_err(|_| Error::Usage(format!("config {key} must be a number")))
}

/// `PERCENT:SECONDS,...` (the config `canary_steps`) as canary steps.
///
/// # Errors
/// A pair that is not a percentage and a number of seconds; the message
/// names it.
pub fn steps(spec: &str) -> Result<Vec<Step>, Error> {
    spec.split(',')
        .map(|s| {
            let (w, secs) = s.trim().split_once(':').ok_or_else(|| {
                Error::Usage(format!("config canary_steps: {s:?} is not PERCENT:SECONDS"))
            })?;
            let w: u8 = w.parse().map_err(|_| {
                Error::Usage(format!("config canary_steps: {w:?} is not a percentage"))
            })?;
            let secs: f64 = secs.parse().map_err(|_| {
                Error::Usage(format!(
                    "config canary_steps: {secs:?} is not a number of seconds"
                ))
            })?;
            Ok(Step::new(w, Duration::from_secs_f64(secs)))
        })
        .collect()
}
