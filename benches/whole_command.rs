//! Whole commands as a user runs them: a program of N resources of a
//! user-written zero-latency provider, run through its command line in a
//! fresh process per command (the bench's release build runs itself as the
//! program), with the file state store.
//!
//! For each size and graph it measures `preview` on an empty state, `up`
//! (the creates), `preview` with no changes, each one's wall time, CPU time
//! (user + system, all threads) and peak resident set (`VmHWM`; both read
//! from `/proc/self` as the command's process exits), and the bytes of
//! state on disk after `up`. CPU time is the figure to compare on a loaded
//! machine: `up` waits for about one fsync per four steps, and each wait
//! is a round trip through the scheduler, which other processes lengthen. Graphs: "deep", each resource
//! referring to two of the 64 declared before it (as `common::layered`),
//! and "flat", no references.
//!
//! `cargo bench --bench whole_command` runs N = 10k and 100k;
//! `-- 1000000 flat` (sizes and graphs as arguments) runs those instead. `cargo test
//! --benches` runs it once at a tiny size (what CI checks).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Kit, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;

use common::{benchmarking, load_average, peak_rss, Rng};

/// The child-process switch: `deep:N` or `flat:N` makes this process the
/// user's program, its command line the rest of the arguments.
const PROGRAM: &str = "DAFNCK_WHOLE_PROGRAM";
/// Where the program writes its peak resident set as it exits.
const PEAK_FILE: &str = "DAFNCK_WHOLE_PEAK";

/// The user's resource: a value and up to two references to others.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "bench:graph:Item", outputs = ItemOutputs)]
pub struct Item {
    /// A value; changes in place.
    pub value: Input<String>,
    /// The ids of the items this one refers to.
    pub refs: Vec<Input<String>>,
}

/// What an [`Item`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ItemOutputs {
    /// Its id.
    pub item_id: String,
}

/// A zero-latency cloud that keeps nothing: an object's id is its create
/// token, and a read finds it as it was recorded.
struct ItemHandler;

#[async_trait]
impl ResourceHandler for ItemHandler {
    type Resource = Item;
    type Context = ();

    async fn create(&self, _: &(), req: Create<Item>) -> CreateResult<Item> {
        Ok(Made {
            id: req.token.clone(),
            outputs: ItemOutputs { item_id: req.token },
        })
    }

    async fn read(&self, _: &(), req: Read<Item>) -> ReadResult<Item> {
        let Some(id) = req.id.or(req.token) else {
            return Ok(None);
        };
        Ok(Some(Found {
            inputs: req.recorded.decode()?,
            outputs: ItemOutputs {
                item_id: id.clone(),
            },
            id,
        }))
    }

    async fn update(&self, _: &(), req: Update<Item>) -> UpdateResult<Item> {
        Ok(ItemOutputs { item_id: req.id })
    }

    async fn delete(&self, _: &(), _: Delete<Item>) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The user's program: `n` items, each referring to up to two of the 64
/// before it (`deep`) or to none.
fn declare(stack: &mut Stack, deep: bool, n: usize) {
    let mut rng = Rng::new(29);
    let mut handles: Vec<Handle<Item>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut refs: Vec<usize> = if deep && i > 0 {
            (0..2)
                .map(|_| i - 1 - (rng.next() as usize % i.min(64)))
                .collect()
        } else {
            Vec::new()
        };
        refs.sort_unstable();
        refs.dedup();
        let item = Item {
            value: "v1".into(),
            refs: refs.iter().map(|&d| handles[d].out().item_id).collect(),
        };
        handles.push(stack.add(&format!("item-{i}"), item));
    }
}

fn main() {
    if let Ok(spec) = std::env::var(PROGRAM) {
        program_child(&spec);
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let graphs: Vec<&str> = ["flat", "deep"]
        .into_iter()
        .filter(|g| std::env::args().any(|a| a == *g))
        .collect();
    let graphs = if graphs.is_empty() {
        vec!["flat", "deep"]
    } else {
        graphs
    };
    let sizes = match (benchmarking(), sizes.is_empty()) {
        (_, false) => sizes,
        (true, true) => vec![10_000, 100_000],
        (false, true) => vec![200],
    };
    println!(
        "whole commands, a fresh process each ({} build); machine load at start: {}",
        if benchmarking() { "release" } else { "test" },
        load_average()
    );
    println!(
        "\nWall time (CPU time, user + system).\n\n| N | graph | `preview`, empty state | `up` | peak RSS of `up` | per resource | `preview`, no changes | its peak RSS | state on disk | per resource |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &n in &sizes {
        for &graph in &graphs {
            let row = measure(graph, n);
            let mb = |b: u64| format!("{:.0} MB", b as f64 / 1e6);
            let per = |b: u64| format!("{:.2} KB", b as f64 / n as f64 / 1024.0);
            println!(
                "| {n} | {graph} | {} | {} | {} | {} | {} | {} | {:.1} MB | {} |",
                secs(&row.preview_empty),
                secs(&row.up),
                mb(row.up.peak),
                per(row.up.peak),
                secs(&row.preview_same),
                mb(row.preview_same.peak),
                row.state_bytes as f64 / 1e6,
                per(row.state_bytes),
            );
        }
    }
    println!("\nmachine load at end: {}", load_average());
}

/// One size and graph's figures.
struct Row {
    preview_empty: Ran,
    up: Ran,
    preview_same: Ran,
    state_bytes: u64,
}

/// What one command cost.
struct Ran {
    wall: Duration,
    /// User + system time of all its threads.
    cpu: Duration,
    /// Peak resident set, bytes.
    peak: u64,
}

fn measure(graph: &str, n: usize) -> Row {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("state");
    let preview_empty = run(dir.path(), graph, n, &["preview", "--detailed-exitcode"], 2);
    let up = run(dir.path(), graph, n, &["up", "--yes"], 0);
    let state_bytes = bytes_under(&state);
    let preview_same = run(dir.path(), graph, n, &["preview", "--detailed-exitcode"], 0);
    Row {
        preview_empty,
        up,
        preview_same,
        state_bytes,
    }
}

/// Runs one command of the program in a fresh process.
fn run(dir: &Path, graph: &str, n: usize, args: &[&str], code: i32) -> Ran {
    let peak_file = dir.join("peak");
    let start = Instant::now();
    let out = Command::new(std::env::current_exe().expect("this program"))
        .args(args)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env(PROGRAM, format!("{graph}:{n}"))
        .env(PEAK_FILE, &peak_file)
        .env("DAFNCK_PASSPHRASE", "bench")
        .output()
        .expect("the program runs");
    let took = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{graph} {n} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or(""),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&peak_file).expect("the program wrote its figures");
    let (peak, ticks) = text.trim().split_once(' ').expect("`peak ticks`");
    Ran {
        wall: took,
        cpu: Duration::from_millis(ticks.parse::<u64>().expect("ticks") * 10),
        peak: peak.parse().expect("a byte count"),
    }
}

/// The user's program, run through its command line.
fn program_child(spec: &str) {
    let (graph, n) = spec.split_once(':').expect("graph:n");
    let deep = graph == "deep";
    let n: usize = n.parse().expect("a size");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let code = rt.block_on(
        dafnck_core::cli::run(move |stack: &mut Stack| {
            declare(stack, deep, n);
            Ok(())
        })
        .provider(Kit::new("bench", ()).with(ItemHandler))
        .exit_code(),
    );
    if let Ok(path) = std::env::var(PEAK_FILE) {
        std::fs::write(path, format!("{} {}", peak_rss(), cpu_ticks()))
            .expect("the peak file is writable");
    }
    std::process::exit(i32::from(code));
}

/// User + system time of this process (all its threads, live or ended), in
/// clock ticks of 10 ms (Linux's `USER_HZ` of 100).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime, fields 14 and 15 of the line (the first after the
    // name is field 3).
    [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum()
}

/// The bytes of all files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            bytes_under(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Wall time (CPU time).
fn secs(ran: &Ran) -> String {
    format!(
        "{:.2} s ({:.2} s)",
        ran.wall.as_secs_f64(),
        ran.cpu.as_secs_f64()
    )
}
