//! `dashboard`: a read-only web page of the stacks, served on this machine
//! (127.0.0.1 by default) with no external assets: the page, its style and
//! its script are inline. The script polls the JSON below every second, so
//! a rollout under way shows its weight and analysis as they change (the
//! state's handover records, with the journal replayed).
//!
//! - `GET /`: the page.
//! - `GET /api/overview`: each stack's serial, resource count, last version
//!   and rollouts.
//! - `GET /api/stack?name=S`: its resources (and their graph as SVG), its
//!   history, its rollouts and the policy violations of the program.
//! - `GET /api/diff?stack=S&version=N`: what version N changed from the
//!   version before it.
//! - `GET /api/report`: the `report --json` document over the stacks, with
//!   the DORA charts as SVG.

mod graph;
mod http;

use std::sync::Arc;

use serde_json::{json, Value as Json};

use super::{load_config, open_store, report, Args, Command, Stages, Stores};
use crate::engine::Engine;
use crate::error::Error;
use crate::provider::Providers;
use crate::stack::Stack;
use crate::state::{self, KeySource, State};
use http::{Request, Response};

/// The page, with its style and script inline.
const PAGE: &str = include_str!("page.html");

/// What the dashboard reads from, shared by its requests.
struct Source<F> {
    args: Args,
    stores: Stores,
    stages: Option<Stages>,
    stacks: Vec<String>,
    window: std::time::Duration,
    program: Arc<F>,
    policies: crate::policy::Policies,
    key_source: KeySource,
}

/// Runs `dashboard`: binds, prints the URL, and serves until stopped.
pub(super) async fn command<F>(
    args: &Args,
    stores: &Stores,
    stages: Option<&Stages>,
    program: Arc<F>,
    policies: crate::policy::Policies,
    key_source: KeySource,
) -> crate::Result<u8>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    let Command::Dashboard {
        bind,
        port,
        stacks,
        window,
    } = &args.command
    else {
        return Ok(1);
    };
    let listener = tokio::net::TcpListener::bind((*bind, *port))
        .await
        .map_err(|e| Error::Usage(format!("dashboard: cannot listen on {bind}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("dashboard: {e}")))?;
    let source = Arc::new(Source {
        stacks: report::stacks_named(args, stacks, stages),
        args: args.clone(),
        stores: stores.clone(),
        stages: stages.cloned(),
        window: *window,
        program,
        policies,
        key_source,
    });
    let host = if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    outln!(
        "Dashboard of {} at http://{host}:{}/ (read-only; stop it with Ctrl-C).",
        source.stacks.join(", "),
        addr.port()
    );
    http::serve(listener, move |request| {
        let source = source.clone();
        async move { source.answer(request).await }
    })
    .await;
    Ok(0)
}

impl<F> Source<F>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    async fn answer(&self, request: Request) -> Response {
        let result = match request.path.as_str() {
            "/" | "/index.html" => {
                return Response {
                    status: 200,
                    content_type: "text/html; charset=utf-8",
                    body: PAGE.as_bytes().to_vec(),
                }
            }
            "/api/overview" => self.overview().await,
            "/api/stack" => match self.known(request.param("name")) {
                Ok(name) => self.stack(name).await,
                Err(r) => return r,
            },
            "/api/diff" => {
                let name = match self.known(request.param("stack")) {
                    Ok(name) => name,
                    Err(r) => return r,
                };
                match request.param("version").and_then(|v| v.parse().ok()) {
                    Some(v) => self.diff(name, v).await,
                    None => return Response::error(400, "version=N is required"),
                }
            }
            "/api/report" => self.report().await,
            _ => return Response::error(404, "no such page"),
        };
        match result {
            Ok(doc) => Response::json(&doc),
            Err(e) => Response {
                status: 500,
                ..Response::json(&json!({ "error": e.to_string() }))
            },
        }
    }

    /// `name` if it is one of the stacks shown.
    fn known<'a>(&self, name: Option<&'a str>) -> Result<&'a str, Response> {
        match name {
            Some(n) if self.stacks.iter().any(|s| s == n) => Ok(n),
            Some(n) => Err(Response::error(404, &format!("stack {n:?} is not shown"))),
            None => Err(Response::error(400, "name the stack")),
        }
    }

    /// An engine of `stack` that reads: its store, its config, no provider.
    async fn engine(&self, stack: &str) -> crate::Result<Engine> {
        let store = open_store(&self.args, &self.stores, stack).await?;
        Ok(
            Engine::with_store(stack.to_owned(), store, Providers::new())
                .key_source(self.key_source.clone()),
        )
    }

    async fn overview(&self) -> crate::Result<Json> {
        let mut stacks = Vec::new();
        for name in &self.stacks {
            let engine = self.engine(name).await?;
            let entry = match engine.state().await {
                Ok(state) => {
                    let last = match engine.store().history() {
                        Some(h) => h.versions(name).await?.pop(),
                        None => None,
                    };
                    json!({
                        "name": name,
                        "serial": state.serial,
                        "resources": state.resources.len(),
                        "last": last,
                        "rollouts": rollouts(&state),
                    })
                }
                Err(e) => json!({ "name": name, "error": e.to_string() }),
            };
            stacks.push(entry);
        }
        Ok(json!({
            "stacks": stacks,
            "stages": self.stages.as_ref().map(Stages::names),
            "at": state::now_millis(),
        }))
    }

    async fn stack(&self, name: &str) -> crate::Result<Json> {
        let engine = self.engine(name).await?;
        let state = engine.state().await?;
        let history = match engine.store().history() {
            Some(h) => h.versions(name).await?,
            None => Vec::new(),
        };
        let resources: Vec<Json> = state
            .resources
            .values()
            .map(|r| {
                json!({"name": r.name, "type": r.type_name, "id": r.id,
                       "dependencies": r.dependencies})
            })
            .collect();
        Ok(json!({
            "name": name,
            "serial": state.serial,
            "resources": resources,
            "graph_svg": graph::svg(&state),
            "history": history,
            "rollouts": rollouts(&state),
            "policy": self.violations(name),
        }))
    }

    /// The policy check of the program with `name`'s config, as `preview
    /// --json` gives its violations; an error is shown in their place.
    fn violations(&self, name: &str) -> Json {
        let check = || -> crate::Result<Json> {
            let mut args = self.args.clone();
            args.stack = name.to_owned();
            let config = load_config(&args, &self.key_source, self.stages.as_ref())?;
            let engine = Engine::new(name.to_owned(), state::MemoryStore::new(), Providers::new())
                .config(config.plain)
                .secret_config(config.secrets)
                .policies(self.policies.clone());
            let policies = engine.policies_in_force()?.unwrap_or_default();
            let program = self.program.clone();
            let desired = engine.desired(move |s: &mut Stack| program(s))?;
            let report = crate::policy::check(&policies, &desired, None);
            Ok(json!({
                "rules": report.rules,
                "violations": super::policy::violations_json(Some(&report)),
            }))
        };
        check().unwrap_or_else(|e| json!({ "error": e.to_string() }))
    }

    async fn diff(&self, name: &str, version: u64) -> crate::Result<Json> {
        let engine = self.engine(name).await?;
        let history = engine
            .store()
            .history()
            .ok_or_else(|| Error::Usage(format!("the store of {name:?} keeps no history")))?;
        let read = |v: u64| history.read_version(name, v);
        let after = read(version)
            .await?
            .ok_or_else(|| Error::Usage(format!("stack {name:?} has no version {version}")))?;
        // The version before it that the history still keeps.
        let previous = history
            .versions(name)
            .await?
            .iter()
            .map(|v| v.version)
            .filter(|v| *v < version)
            .max();
        let before = match previous {
            Some(v) => read(v).await?.unwrap_or_else(|| State::empty(name)),
            None => State::empty(name),
        };
        Ok(json!({
            "stack": name,
            "version": version,
            "previous": previous,
            "lines": super::output::state_changes(&before, &after),
        }))
    }

    async fn report(&self) -> crate::Result<Json> {
        let window = report::window_until(self.window, None);
        let histories = report::gather(&self.args, &self.stores, &self.stacks, window).await?;
        let mut doc = report::document(&histories, window);
        let all: Vec<&[state::VersionInfo]> =
            histories.iter().map(|h| h.versions.as_slice()).collect();
        doc["charts"] = super::charts::all(&crate::dora::daily(&all, window))
            .into_iter()
            .map(|c| json!({"file": c.file, "svg": c.svg}))
            .collect();
        Ok(doc)
    }
}

/// Each resource's last rollout: its record as the strategy wrote it, with
/// the resource's name and whether it is under way.
fn rollouts(state: &State) -> Vec<Json> {
    state
        .handovers
        .iter()
        .map(|(name, mark)| {
            let mut r = match &mark.record {
                Json::Object(m) => Json::Object(m.clone()),
                _ => json!({}),
            };
            r["resource"] = json!(name);
            r["active"] = json!(mark.active);
            r
        })
        .collect()
}
