//! Progress while applying: a live display (indicatif) on a terminal, one
//! plain line per event otherwise (CI logs, pipes).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::apply::{ApplyObserver, StepInfo, StepStatus};

/// Reports steps as they start and end.
pub struct Progress {
    bar: Option<ProgressBar>,
    running: Mutex<Vec<String>>,
}

impl Progress {
    /// A display for `total` steps: live when `live`, else plain lines on stderr.
    pub fn new(total: usize, live: bool) -> Self {
        let bar = live.then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            running: Mutex::new(Vec::new()),
        }
    }

    /// Removes the live display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, mut text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                // One write a line: stderr is unbuffered, and `writeln!`
                // would make a system call per piece (two a step, 200,000
                // for an apply of 100,000 resources).
                text.push('\n');
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }

    fn update_running(&self) {
        if let Some(bar) = &self.bar {
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            bar.set_message(format!("running: {}", running.join(", ")));
        }
    }
}

impl ApplyObserver for Progress {
    fn started(&self, step: &StepInfo) {
        let label = format!("{} {}", step.kind.as_str(), step.name);
        if self.bar.is_none() {
            self.line(format!("{label}: started"));
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(label);
        self.update_running();
    }

    fn finished(&self, step: &StepInfo, status: &StepStatus, elapsed: Duration) {
        let label = format!("{} {}", step.kind.as_str(), step.name);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| r != &label);
        let text = match status {
            StepStatus::Done => format!("{label}: done in {elapsed:.1?}"),
            StepStatus::Failed { error, .. } => {
                format!("{label}: FAILED after {elapsed:.1?}: {error}")
            }
            StepStatus::Skipped { because } => format!("{label}: skipped because {because} failed"),
        };
        self.line(text);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.update_running();
    }
}
