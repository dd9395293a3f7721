//! `report`: the DORA metrics of stacks' deployments ([`crate::dora`]).

use serde_json::json;

use super::{open_store, output, Args, Command, Stores};
use crate::dora::{self, Durations, Metrics, Window};
use crate::error::Error;
use crate::state::{self, VersionInfo};

/// Runs `report`: reads each stack's history from its store and prints
/// the metrics per stack and, for several, together.
pub(super) async fn command(args: &Args, stores: &Stores) -> crate::Result<u8> {
    let Command::Report {
        stacks,
        window,
        until,
        json,
    } = &args.command
    else {
        return Ok(1);
    };
    let named = if stacks.is_empty() {
        std::slice::from_ref(&args.stack)
    } else {
        stacks.as_slice()
    };
    let mut histories: Vec<(String, Vec<VersionInfo>)> = Vec::new();
    for stack in named {
        let store = open_store(args, stores, stack).await?;
        let history = store.history().ok_or_else(|| {
            Error::from(state::StateError::Unsupported {
                store: store.describe(),
                missing: format!(
                    "keeps no history of state versions, which `report` reads (stack {stack:?})"
                ),
            })
        })?;
        histories.push((stack.clone(), history.versions(stack).await?));
    }
    let until = until.map_or_else(state::now_millis, |s| s * 1000);
    let window = Window {
        from: until.saturating_sub(window.as_millis() as u64),
        until,
    };
    let per_stack: Vec<(&str, Metrics)> = histories
        .iter()
        .map(|(s, h)| (s.as_str(), dora::metrics(&[h.as_slice()], window)))
        .collect();
    let all: Vec<&[VersionInfo]> = histories.iter().map(|(_, h)| h.as_slice()).collect();
    let together = dora::metrics(&all, window);
    if *json {
        let doc = json!({
            "window": {"from": window.from, "until": window.until, "days": window.days()},
            "lead_time_source": LEAD_TIME_SOURCE,
            "stacks": per_stack.iter().map(|(s, m)| json!({"stack": s, "metrics": m})).collect::<Vec<_>>(),
            "together": together,
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(0);
    }
    outln!(
        "DORA metrics from {} to {} ({:.1} days)",
        output::utc(window.from),
        output::utc(window.until),
        window.days()
    );
    for (stack, m) in &per_stack {
        outln!("\nStack {stack:?}");
        print_metrics(m);
    }
    if per_stack.len() > 1 {
        outln!("\nTogether");
        print_metrics(&together);
    }
    outln!("\nLead time: {LEAD_TIME_SOURCE}.");
    Ok(0)
}

const LEAD_TIME_SOURCE: &str = "from the commit time each `up` recorded (DAFNCK_COMMIT_TIME, else `git log -1` where it ran) to the end of a successful deployment";

fn print_metrics(m: &Metrics) {
    outln!(
        "  deployments           {} ({} succeeded, {} failed, {} rolled back{})",
        m.deployments,
        m.succeeded,
        m.failed,
        m.rolled_back,
        if m.unknown > 0 {
            format!(", {} of unknown outcome", m.unknown)
        } else {
            String::new()
        }
    );
    outln!(
        "  deployment frequency  {:.2} a day ({})",
        m.deployment_frequency_per_day,
        m.deployment_frequency_band
    );
    outln!(
        "  lead time             {}",
        durations(
            &m.lead_time,
            m.lead_time_band,
            "deployment(s) with a commit time"
        )
    );
    match (m.change_failure_rate, m.change_failure_rate_band) {
        (Some(rate), Some(band)) => {
            outln!("  change failure rate   {:.1} % ({band})", rate * 100.0)
        }
        _ => outln!("  change failure rate   - (no deployment of known outcome)"),
    }
    let mut restore = durations(&m.time_to_restore, m.time_to_restore_band, "restore(s)");
    if m.unrestored > 0 {
        restore.push_str(&format!("; {} failure(s) not restored yet", m.unrestored));
    }
    outln!("  time to restore       {restore}");
}

fn durations(d: &Durations, band: Option<dora::Band>, what: &str) -> String {
    match (d.median_seconds, band) {
        (Some(median), Some(band)) => format!(
            "median {} ({band}), over {} {what}",
            seconds(median),
            d.count
        ),
        _ => format!("- (no {what})"),
    }
}

fn seconds(s: f64) -> String {
    match s {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7_200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3_600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}
