//! The nginx traffic router: weights as an `upstream` block in a file of
//! its own that the nginx configuration includes, changed by a validated,
//! graceful reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;

use crate::policy::Weights;
use crate::pool::PoolRouter;
use crate::router::TrafficRouter;

/// How often the router looks at nginx's workers while a reload happens.
const RELOAD_POLL: Duration = Duration::from_millis(20);

/// Routes traffic through an nginx `upstream` block.
///
/// The router owns one file, which the nginx configuration includes inside
/// its `http {}` block, and writes into it
///
/// ```text
/// upstream app {
///     server 127.0.0.1:8081 weight=4;   # stable
///     server 127.0.0.1:8082 weight=1;   # new
/// }
/// ```
///
/// with weights proportional to the split (divided among each version's
/// backends, reduced to the smallest integers). nginx weights are at least
/// 1, so a version at 0% is not listed at all. A location then proxies to
/// it: `proxy_pass http://app;`.
///
/// # Guarantees
/// - The file is replaced atomically (written beside it, then renamed).
/// - The new file is checked with `nginx -t` before nginx is told to
///   reload; when the check fails the previous file is put back and the
///   error carries nginx's message. nginx is then never reloaded.
/// - `set_weights` returns once the reload is in effect: new worker
///   processes run and the old ones have stopped accepting connections
///   (they finish the requests they are serving). nginx's reload is
///   graceful: no request in flight is dropped.
/// - A split equal to the last one this router put in effect is not
///   reloaded again.
///
/// # Caveats
/// - On reload nginx closes the *idle* keep-alive connections of its old
///   workers. A client that sends its next request on such a connection at
///   that moment sees the connection close before any response; a GET is
///   safe to retry on a new connection, which is what browsers and most
///   HTTP clients do.
/// - Between writing the file and `nginx -t` failing, the file holds the
///   rejected configuration; a reload made by someone else in that window
///   would fail (and nginx would keep its running configuration).
/// - Waiting for the reload reads `/proc` (Linux); elsewhere the router
///   waits a fixed second after signalling nginx.
///
/// # Example
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// use dafnck_strategies::{NginxRouter, TrafficRouter, Weights};
/// let router = NginxRouter::new(
///     "/etc/nginx/nginx.conf",
///     "/etc/nginx/conf.d/app-upstream.conf",
///     "app",
///     ["127.0.0.1:8081"],
///     ["127.0.0.1:8082"],
/// )?
/// .pid_file("/run/nginx.pid");
/// router.set_weights(Weights::to_new(20)).await?;
/// # Ok(()) }
/// ```
pub struct NginxRouter {
    binary: PathBuf,
    config: PathBuf,
    prefix: Option<PathBuf>,
    pid_file: PathBuf,
    file: PathBuf,
    upstream: String,
    stable: Vec<String>,
    new: Vec<String>,
    reload_timeout: Duration,
    /// The content last put in effect; also serialises changes.
    applied: tokio::sync::Mutex<Option<String>>,
}

impl NginxRouter {
    /// A router writing upstream `upstream` into `upstream_file`, which the
    /// nginx configuration `config` includes. `stable` and `new` are each
    /// version's backends as `host:port` (or `unix:/path`).
    ///
    /// Defaults: the binary `nginx` on `PATH`, no `-p` prefix, the pid file
    /// `/run/nginx.pid` (Debian's), 10 s for a reload to take effect.
    ///
    /// # Errors
    /// No stable backend, a backend or upstream name that would break the
    /// configuration's syntax, or a backend listed for both versions.
    ///
    /// `new` may be empty: the router then only puts all traffic on the
    /// stable backends (what a program needs before any new version exists,
    /// or to reset a rollout whose new object was never created), and
    /// refuses any split that gives the new version traffic.
    pub fn new<S: Into<String>, N: Into<String>>(
        config: impl Into<PathBuf>,
        upstream_file: impl Into<PathBuf>,
        upstream: impl Into<String>,
        stable: impl IntoIterator<Item = S>,
        new: impl IntoIterator<Item = N>,
    ) -> Result<Self, String> {
        let upstream = upstream.into();
        let stable: Vec<String> = stable.into_iter().map(Into::into).collect();
        let new: Vec<String> = new.into_iter().map(Into::into).collect();
        let mut problems = Vec::new();
        if !is_token(&upstream) {
            problems.push(format!(
                "the upstream name {upstream:?} must be letters, digits, '-', '_' or '.'"
            ));
        }
        for (version, backends) in [("stable", &stable), ("new", &new)] {
            if backends.is_empty() && version == "stable" {
                problems.push(format!("the {version} version has no backends"));
            }
            for b in backends {
                if !is_address(b) {
                    problems.push(format!(
                        "the {version} backend {b:?} is not an address (host:port or unix:/path)"
                    ));
                }
            }
        }
        for b in &stable {
            if new.contains(b) {
                problems.push(format!("the backend {b} is listed for both versions"));
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "nginx upstream {upstream}: {}",
                problems.join("; ")
            ));
        }
        Ok(NginxRouter {
            binary: PathBuf::from("nginx"),
            config: config.into(),
            prefix: None,
            pid_file: PathBuf::from("/run/nginx.pid"),
            file: upstream_file.into(),
            upstream,
            stable,
            new,
            reload_timeout: Duration::from_secs(10),
            applied: tokio::sync::Mutex::new(None),
        })
    }

    /// The nginx binary to run.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = path.into();
        self
    }

    /// The prefix nginx runs with (`nginx -p`).
    pub fn prefix(mut self, path: impl Into<PathBuf>) -> Self {
        self.prefix = Some(path.into());
        self
    }

    /// Where the nginx master writes its pid (the configuration's `pid`).
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = path.into();
        self
    }

    /// How long a reload may take to come into effect.
    pub fn reload_timeout(mut self, timeout: Duration) -> Self {
        self.reload_timeout = timeout;
        self
    }

    /// The upstream file's content for `weights`.
    pub fn render(&self, weights: Weights) -> String {
        let (stable_share, new_share) =
            (u32::from(weights.stable()), u32::from(weights.new_share()));
        // With no new backends, nothing is listed for the new share.
        let (ns, nn) = (self.stable.len() as u32, (self.new.len() as u32).max(1));
        // Per backend: share / backends, scaled by both counts to stay
        // integral, then reduced.
        let ws = stable_share * nn;
        let wn = new_share * ns;
        let g = gcd(ws, wn).max(1);
        let mut out = format!(
            "# Written by dafnck's nginx router: {stable_share}% stable, {new_share}% new.\n\
             # Changes here are overwritten.\n\
             upstream {} {{\n",
            self.upstream
        );
        for (backends, w, version) in [(&self.stable, ws / g, "stable"), (&self.new, wn / g, "new")]
        {
            if w == 0 {
                continue;
            }
            for b in backends {
                out.push_str(&format!("    server {b} weight={w};  # {version}\n"));
            }
        }
        out.push_str("}\n");
        out
    }

    fn nginx(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        if let Some(prefix) = &self.prefix {
            cmd.arg("-p").arg(prefix);
        }
        cmd.arg("-c").arg(&self.config);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs nginx with `args`; its output on failure.
    async fn run_nginx(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = self.nginx();
        cmd.args(args);
        let what = format!("{} {}", self.binary.display(), args.join(" "));
        let out = tokio::time::timeout(self.reload_timeout, cmd.output())
            .await
            .map_err(|_| format!("`{what}` did not finish within {:?}", self.reload_timeout))?
            .map_err(|e| format!("cannot run `{what}`: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout.trim().is_empty() {
            text = format!("{text}\n{}", stdout.trim());
        }
        Err(format!("`{what}` failed ({}): {text}", out.status))
    }

    /// Writes the file, checks the configuration, and puts the previous
    /// file back when nginx rejects it.
    async fn write_checked(&self, content: &str) -> Result<(), String> {
        let previous = match tokio::fs::read(&self.file).await {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", self.file.display())),
        };
        write_atomically(&self.file, content.as_bytes()).await?;
        if let Err(rejected) = self.run_nginx(&["-t", "-q"]).await {
            let restored = match &previous {
                Some(bytes) => write_atomically(&self.file, bytes).await,
                None => tokio::fs::remove_file(&self.file)
                    .await
                    .map_err(|e| format!("cannot remove {}: {e}", self.file.display())),
            };
            let mut message = format!(
                "nginx rejected the new upstream {} in {}; the previous file is kept and nginx was not reloaded: {rejected}",
                self.upstream,
                self.file.display()
            );
            if let Err(e) = restored {
                message.push_str(&format!(
                    "; and the previous file could not be put back: {e}"
                ));
            }
            return Err(message);
        }
        Ok(())
    }

    /// Signals a reload and waits until it is in effect.
    async fn reload(&self) -> Result<(), String> {
        let master = read_pid(&self.pid_file).await?;
        let before = workers(master).await;
        self.run_nginx(&["-s", "reload"]).await?;
        if before.is_none() {
            // No /proc to watch: give nginx a moment.
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(());
        }
        let old: BTreeSet<u32> = before
            .unwrap_or_default()
            .into_iter()
            .map(|w| w.pid)
            .collect();
        let deadline = tokio::time::Instant::now() + self.reload_timeout;
        loop {
            let now = workers(master).await.unwrap_or_default();
            let started = now
                .iter()
                .any(|w| !old.contains(&w.pid) && !w.shutting_down);
            let old_accepting = now.iter().any(|w| old.contains(&w.pid) && !w.shutting_down);
            if started && !old_accepting {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "nginx (master pid {master}) did not replace its workers within {:?} of the reload; its error log says why (e.g. a port it cannot bind)",
                    self.reload_timeout
                ));
            }
            tokio::time::sleep(RELOAD_POLL).await;
        }
    }
}

#[async_trait]
impl TrafficRouter for NginxRouter {
    fn describe(&self) -> String {
        format!(
            "nginx upstream {} in {}",
            self.upstream,
            self.file.display()
        )
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        if self.new.is_empty() && weights.new_share() > 0 {
            return Err(format!(
                "nginx upstream {}: the new version has no backends, so it cannot get {}% of the traffic",
                self.upstream,
                weights.new_share()
            ));
        }
        self.put(self.render(weights)).await
    }
}

#[async_trait]
impl PoolRouter for NginxRouter {
    fn describe(&self) -> String {
        TrafficRouter::describe(self)
    }

    /// Writes the upstream with `backends`, all weighted alike (the router's
    /// stable and new lists are not used), and reloads nginx.
    async fn set_backends(&self, backends: &[String]) -> Result<(), String> {
        if backends.is_empty() {
            return Err(format!(
                "nginx upstream {}: an upstream needs at least one backend",
                self.upstream
            ));
        }
        if let Some(b) = backends.iter().find(|b| !is_address(b)) {
            return Err(format!(
                "nginx upstream {}: the backend {b:?} is not an address (host:port or unix:/path)",
                self.upstream
            ));
        }
        self.put(self.render_pool(backends)).await
    }
}

impl NginxRouter {
    /// The upstream block sending traffic evenly to `backends`.
    pub fn render_pool(&self, backends: &[String]) -> String {
        let mut out = format!(
            "# Written by dafnck's nginx router: {} backend(s), weighted alike.\n\
             # Changes here are overwritten.\n\
             upstream {} {{\n",
            backends.len(),
            self.upstream
        );
        for b in backends {
            out.push_str(&format!("    server {b};\n"));
        }
        out.push_str("}\n");
        out
    }

    /// Puts `content` in effect as the upstream file, unless it already is.
    async fn put(&self, content: String) -> Result<(), String> {
        let mut applied = self.applied.lock().await;
        if applied.as_deref() == Some(content.as_str()) {
            return Ok(());
        }
        // Whatever happens next, what nginx runs is no longer known.
        *applied = None;
        self.write_checked(&content).await?;
        self.reload()
            .await
            .map_err(|e| format!("nginx upstream {}: {e}", self.upstream))?;
        *applied = Some(content);
        Ok(())
    }
}

/// Whether `b` can stand as a `server` address without breaking the
/// configuration's syntax.
fn is_address(b: &str) -> bool {
    !b.is_empty()
        && !b
            .chars()
            .any(|c| c.is_whitespace() || ";{}#'\"".contains(c))
}

/// Whether `s` is a plain nginx token (an upstream name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Replaces `path` with `bytes`: written and synced beside it, then renamed
/// over it, so nginx never reads half a file.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".dafnck-tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = async {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, path).await
    };
    if let Err(e) = write.await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

async fn read_pid(pid_file: &Path) -> Result<u32, String> {
    let text = tokio::fs::read_to_string(pid_file).await.map_err(|e| {
        format!(
            "cannot read nginx's pid file {} ({e}); is nginx running with this pid file?",
            pid_file.display()
        )
    })?;
    text.trim().parse().map_err(|_| {
        format!(
            "nginx's pid file {} holds {:?}, not a pid",
            pid_file.display(),
            text.trim()
        )
    })
}

/// One nginx worker process.
#[derive(Debug)]
struct Worker {
    pid: u32,
    shutting_down: bool,
}

/// The worker processes of `master`, from `/proc`; `None` without `/proc`.
async fn workers(master: u32) -> Option<Vec<Worker>> {
    tokio::task::spawn_blocking(move || workers_blocking(master))
        .await
        .ok()
        .flatten()
}

fn workers_blocking(master: u32) -> Option<Vec<Worker>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Field 4 of stat is the parent pid; the command name before it is
        // in parentheses and may hold spaces.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(master) {
            continue;
        }
        // nginx sets its workers' titles: "nginx: worker process", and
        // "... is shutting down" once told to quit (listeners closed).
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&cmdline);
        if title.contains("worker process") {
            found.push(Worker {
                pid,
                shutting_down: title.contains("shutting down"),
            });
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(stable: &[&str], new: &[&str]) -> NginxRouter {
        NginxRouter::new(
            "/etc/nginx/nginx.conf",
            "/tmp/up.conf",
            "app",
            stable.iter().copied(),
            new.iter().copied(),
        )
        .unwrap()
    }

    fn servers(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("server "))
            .map(|l| l.split(';').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn weights_are_split_among_backends_reduced_and_a_zero_side_left_out() {
        let r = router(&["a:1"], &["b:1"]);
        assert_eq!(
            servers(&r.render(Weights::to_new(20))),
            ["a:1 weight=4", "b:1 weight=1"]
        );
        assert_eq!(servers(&r.render(Weights::to_new(0))), ["a:1 weight=1"]);
        assert_eq!(servers(&r.render(Weights::to_new(100))), ["b:1 weight=1"]);
        assert_eq!(
            servers(&r.render(Weights::to_new(5))),
            ["a:1 weight=19", "b:1 weight=1"]
        );
        // Two stable backends share 75%, one new backend has 25%: 3 + 3
        // against 2.
        let r = router(&["a:1", "a:2"], &["b:1"]);
        assert_eq!(
            servers(&r.render(Weights::to_new(25))),
            ["a:1 weight=3", "a:2 weight=3", "b:1 weight=2"]
        );
        assert!(r.render(Weights::to_new(25)).contains("upstream app {"));
    }

    #[test]
    fn bad_names_and_backends_are_refused_with_every_problem() {
        let err = NginxRouter::new(
            "c",
            "f",
            "my app",
            Vec::<String>::new(),
            ["b:1", "x; include /etc/passwd"],
        )
        .err()
        .unwrap();
        assert!(err.contains("upstream name \"my app\""), "{err}");
        assert!(err.contains("the stable version has no backends"), "{err}");
        assert!(
            err.contains("\"x; include /etc/passwd\" is not an address"),
            "{err}"
        );
        let err = NginxRouter::new("c", "f", "app", ["a:1"], ["a:1"])
            .err()
            .unwrap();
        assert!(err.contains("a:1 is listed for both versions"), "{err}");
    }

    #[tokio::test]
    async fn without_new_backends_only_the_stable_version_is_routed() {
        let r = NginxRouter::new("c", "f", "app", ["a:1", "a:2"], Vec::<String>::new()).unwrap();
        assert_eq!(
            servers(&r.render(Weights::to_new(0))),
            ["a:1 weight=1", "a:2 weight=1"]
        );
        // Refused before any file is written or nginx is run.
        let err = r.set_weights(Weights::to_new(20)).await.unwrap_err();
        assert!(
            err.contains("the new version has no backends, so it cannot get 20%"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_missing_pid_file_is_named() {
        let err = read_pid(Path::new("/nonexistent/nginx.pid"))
            .await
            .unwrap_err();
        assert!(err.contains("/nonexistent/nginx.pid"), "{err}");
    }
}
