//! `report`: the DORA metrics of stacks' deployments ([`crate::dora`]).

use serde_json::json;

use super::{charts, open_store, output, Args, Command, Stages, Stores};
use crate::dora::{self, Durations, Metrics, Rollback, Window};
use crate::error::Error;
use crate::state::{self, VersionInfo};

/// One stack's history and the rollbacks its versions record.
pub(super) struct StackHistory {
    /// The stack.
    pub stack: String,
    /// Its versions, oldest first.
    pub versions: Vec<VersionInfo>,
    /// The rolled-back rollouts of its versions in the window.
    pub rollbacks: Vec<Rollback>,
}

/// The stacks `report` covers: `--of`, else the declared stages, else the
/// `--stack`.
pub(super) fn stacks_named(args: &Args, of: &[String], stages: Option<&Stages>) -> Vec<String> {
    match (of.is_empty(), stages) {
        (false, _) => of.to_vec(),
        (true, Some(s)) => s.names(),
        (true, None) => vec![args.stack.clone()],
    }
}

/// Reads each stack's history from its store, and the states of its
/// rolled-back versions in `window` for their rollouts' rollback times.
///
/// # Errors
/// A store that keeps no history; the stores' errors.
pub(super) async fn gather(
    args: &Args,
    stores: &Stores,
    named: &[String],
    window: Window,
) -> crate::Result<Vec<StackHistory>> {
    let mut histories = Vec::new();
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
        let versions = history.versions(stack).await?;
        let mut rollbacks = Vec::new();
        for v in versions.iter().filter(|v| {
            v.outcome == Some(state::RunOutcome::RolledBack)
                && v.at > window.from
                && v.at <= window.until
        }) {
            if let Some(state) = history.read_version(stack, v.version).await? {
                rollbacks.extend(dora::rollbacks(stack, v, &state));
            }
        }
        histories.push(StackHistory {
            stack: stack.clone(),
            versions,
            rollbacks,
        });
    }
    Ok(histories)
}

/// The window ending at `until` (Unix seconds; now when `None`).
pub(super) fn window_until(length: std::time::Duration, until: Option<u64>) -> Window {
    let until = until.map_or_else(state::now_millis, |s| s * 1000);
    Window {
        from: until.saturating_sub(length.as_millis() as u64),
        until,
    }
}

/// The report as one JSON document: per stack (with its rollbacks),
/// together, and day by day together (the figures the charts draw).
pub(super) fn document(histories: &[StackHistory], window: Window) -> serde_json::Value {
    let all: Vec<&[VersionInfo]> = histories.iter().map(|h| h.versions.as_slice()).collect();
    json!({
        "window": {"from": window.from, "until": window.until, "days": window.days()},
        "lead_time_source": LEAD_TIME_SOURCE,
        "stacks": histories.iter().map(|h| json!({
            "stack": h.stack,
            "metrics": dora::metrics(&[h.versions.as_slice()], window),
            "rollbacks": h.rollbacks,
        })).collect::<Vec<_>>(),
        "together": dora::metrics(&all, window),
        "daily": dora::daily(&all, window),
    })
}

/// Runs `report`: reads each stack's history from its store and prints
/// the metrics per stack and, for several, together; with `--svg DIR`,
/// also writes the charts there.
pub(super) async fn command(
    args: &Args,
    stores: &Stores,
    stages: Option<&Stages>,
) -> crate::Result<u8> {
    let Command::Report {
        stacks,
        window,
        until,
        json,
        svg,
    } = &args.command
    else {
        return Ok(1);
    };
    let named = stacks_named(args, stacks, stages);
    let window = window_until(*window, *until);
    let histories = gather(args, stores, &named, window).await?;
    let doc = document(&histories, window);
    if let Some(dir) = svg {
        let all: Vec<&[VersionInfo]> = histories.iter().map(|h| h.versions.as_slice()).collect();
        let days = dora::daily(&all, window);
        let io = |e: std::io::Error| Error::Usage(format!("report --svg {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        for chart in charts::all(&days) {
            std::fs::write(dir.join(chart.file), chart.svg).map_err(io)?;
        }
    }
    if *json {
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(0);
    }
    outln!(
        "DORA metrics from {} to {} ({:.1} days)",
        output::utc(window.from),
        output::utc(window.until),
        window.days()
    );
    let what = if stages.is_some() && stacks.is_empty() {
        "Stage"
    } else {
        "Stack"
    };
    for h in &histories {
        outln!("\n{what} {:?}", h.stack);
        print_metrics(&dora::metrics(&[h.versions.as_slice()], window));
        for r in &h.rollbacks {
            outln!(
                "  rollback of {} (version {}, attempt {}): traffic off the new version {} after {}{}",
                r.resource,
                r.version,
                r.attempt.map_or("?".into(), |a| a.to_string()),
                millis(r.rollback_ms),
                if r.aborted { "the abort" } else { "its analysis failed" },
                r.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
            );
        }
    }
    if histories.len() > 1 {
        let all: Vec<&[VersionInfo]> = histories.iter().map(|h| h.versions.as_slice()).collect();
        outln!("\nTogether");
        print_metrics(&dora::metrics(&all, window));
    }
    outln!("\nLead time: {LEAD_TIME_SOURCE}.");
    if let Some(dir) = svg {
        outln!("Wrote the charts to {}.", dir.display());
    }
    Ok(0)
}

fn millis(ms: u64) -> String {
    if ms < 10_000 {
        format!("{ms} ms")
    } else {
        seconds(ms as f64 / 1000.0)
    }
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

pub(super) fn seconds(s: f64) -> String {
    match s {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7_200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3_600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}
