//! Progress while applying: a live display (indicatif) on a terminal, one
//! plain line per event otherwise (CI logs, pipes).

use std::io::Write;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::apply::{ApplyObserver, StepInfo, StepStatus};

/// Reports steps as they start and end.
pub struct Progress {
    bar: Option<ProgressBar>,
    running: Mutex<Vec<String>>,
    /// Without the live display: where the lines go.
    plain: Plain,
}

/// Plain lines on stderr, written by a thread of their own: the executor
/// (which tells of every step, in order, from one task) only hands a line
/// over, and the thread writes what came in the last [`Plain::EVERY`] in
/// one system call. A line each was a system call each (two a step, on
/// the executor's task), and one wake-up each of whatever reads a pipe.
struct Plain {
    lines: Mutex<Option<mpsc::Sender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Plain {
    /// How long the writer gathers lines after writing some.
    const EVERY: Duration = Duration::from_millis(20);

    /// Lines to `out` (stderr) by a thread of their own.
    fn start(mut out: impl Write + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<String>();
        let writer = std::thread::Builder::new()
            .name("dafnck-progress".into())
            .spawn(move || {
                let mut batch = Vec::new();
                // Blocks for the first line; ends once every sender is gone
                // and every line written.
                while let Ok(line) = rx.recv() {
                    batch.clear();
                    batch.extend_from_slice(line.as_bytes());
                    batch.push(b'\n');
                    while let Ok(line) = rx.try_recv() {
                        batch.extend_from_slice(line.as_bytes());
                        batch.push(b'\n');
                    }
                    let _ = out.write_all(&batch);
                    let _ = out.flush();
                    // Woken early by `finish`.
                    std::thread::park_timeout(Self::EVERY);
                }
            });
        match writer {
            Ok(writer) => Plain {
                lines: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
            },
            // No thread to be had: each line is written as it comes.
            Err(_) => Plain {
                lines: Mutex::new(None),
                writer: Mutex::new(None),
            },
        }
    }

    fn line(&self, text: String) {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let text = match &*lines {
            Some(tx) => match tx.send(text) {
                Ok(()) => return,
                Err(mpsc::SendError(text)) => text,
            },
            None => text,
        };
        // One write a line: stderr is unbuffered, and `writeln!` would make
        // a system call per piece.
        let _ = std::io::stderr().write_all(format!("{text}\n").as_bytes());
    }

    /// Writes every line handed over and stops the writer.
    fn finish(&self) {
        drop(self.lines.lock().unwrap_or_else(|p| p.into_inner()).take());
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            writer.thread().unpark();
            let _ = writer.join();
        }
    }
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
        let plain = if live {
            Plain {
                lines: Mutex::new(None),
                writer: Mutex::new(None),
            }
        } else {
            Plain::start(std::io::stderr())
        };
        Progress {
            bar,
            running: Mutex::new(Vec::new()),
            plain,
        }
    }

    /// Removes the live display, or writes the plain lines not yet written.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.plain.finish();
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => self.plain.line(text),
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
            return;
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(label);
        self.update_running();
    }

    fn finished(&self, step: &StepInfo, status: &StepStatus, elapsed: Duration) {
        let label = format!("{} {}", step.kind.as_str(), step.name);
        if self.bar.is_some() {
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|r| r != &label);
        }
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

impl Drop for Progress {
    fn drop(&mut self) {
        // Lines handed over are written even when `finish` was not called.
        self.plain.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer that keeps what it is given, and counts the writes.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut kept = self.0.lock().unwrap();
            kept.0.extend_from_slice(buf);
            kept.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_are_all_written_in_order_by_far_fewer_writes_than_lines() {
        let kept = Kept::default();
        let plain = Plain::start(kept.clone());
        let lines: Vec<String> = (0..10_000)
            .map(|i| format!("create item-{i}: done"))
            .collect();
        for line in &lines {
            plain.line(line.clone());
        }
        plain.finish();
        let (written, writes) = kept.0.lock().unwrap().clone();
        let expected: String = lines.iter().map(|l| format!("{l}\n")).collect();
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        assert!(writes < 1_000, "{writes} writes for 10,000 lines");
        // After the stop, a line is still written (straight to stderr).
        plain.line("late".into());
    }
}
