//! The command line every program gets: `preview`, `up`, `destroy`,
//! `refresh`, `drift`, `import`, `state`, `graph`, `outputs`.
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! # fn infra(_: &mut Stack) -> dafnck_core::Result<()> { Ok(()) }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     dafnck_core::cli::run(infra)
//!         .provider(dafnck_core::testing::FakeCloud::new())
//!         .await
//! }
//! ```
//!
//! Exit codes: 0 success; 1 error; with `preview --detailed-exitcode` and
//! with `drift`, 2 means changes (drift) were found.
//!
//! The state is kept where `--state URL` (or `DAFNCK_STATE`) says, else
//! where the program set for the stack ([`Cli::stack_state`]), else in the
//! file store under `--state-dir`. `file://` URLs are built in; other
//! schemes come from the backends the program registers with
//! [`Cli::state_backend`] (e.g. `dafnck_stores::postgres::backend()`).
//!
//! Secrets are encrypted in the state (and in saved plans) with a key
//! derived from the environment variable `DAFNCK_PASSPHRASE`, or with a key
//! the program supplies ([`Cli::secrets_key`]). The passphrase is never a
//! flag: a command line is visible to every user of the machine (`ps`,
//! `/proc/<pid>/cmdline`) and is kept in shell history and CI logs. Without
//! it, `preview` still works (recorded secrets show as `(secret)` and may
//! change); commands that write refuse with an error saying it is needed.

/// `println!` for the command's output: a closed standard output (the
/// reader of a pipe gone, as with `| head`) loses the rest of the output
/// but never panics nor stops the command, so an `up` piped into a pager
/// that quits still finishes (and releases its lock).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` for the command's output; see `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout();
        let _ = write!(stdout, $($arg)*);
        let _ = stdout.flush();
    }};
}

mod args;
mod charts;
pub mod ci;
mod commit;
mod config_cmd;
mod dashboard;
mod import;
pub mod output;
mod policy;
mod progress;
mod promote;
mod report;
mod show;
pub mod stages;
mod state_cmd;

pub use args::{
    Args, ColorChoice, Command, ConfigCommand, GraphFormat, PolicyCommand, RolloutCommand,
    StateCommand,
};
pub use stages::{Stage, Stages};

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::{Future, IntoFuture};
use std::io::{BufRead, IsTerminal, Write};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::engine::{Engine, Preview};
use crate::error::Error;
use crate::plan::{Action, Plan};
use crate::provider::{Provider, Providers};
use crate::stack::Stack;
use crate::state::{
    self, FileStore, KeySource, SecretsKey, StateStore, StoreBackend, StoreBackends,
};

use config_cmd::{key_source, load_config, set_config};
use progress::Progress;
use show::{confirm, print_preview, print_report, up_command, with_progress};

/// Starts building a program's command line; `.await` runs it.
pub fn run<F>(program: F) -> Cli<F>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    Cli {
        program,
        providers: Providers::new(),
        stores: Stores::default(),
        args: None,
        key_source: None,
        terraform: &[],
        state_readers: Vec::new(),
        policies: crate::policy::Policies::new().pack(crate::policy::generic_pack(&[])),
        cost: None,
        stages: None,
    }
}

/// Where stacks' states may be kept: the registered backends, and the URL
/// the program set per stack.
#[derive(Clone, Debug, Default)]
struct Stores {
    backends: StoreBackends,
    per_stack: BTreeMap<String, String>,
}

/// The environment variable holding the passphrase of the state's secrets.
pub const PASSPHRASE_ENV: &str = "DAFNCK_PASSPHRASE";

/// A program's command line, ready to run: add providers, then `.await` it
/// (or call [`Cli::exit_code`]).
pub struct Cli<F> {
    program: F,
    providers: Providers,
    stores: Stores,
    args: Option<Vec<OsString>>,
    /// Set by the program; otherwise `DAFNCK_PASSPHRASE`, if set.
    key_source: Option<KeySource>,
    /// How Terraform's types map to the providers', for `import --terraform`.
    terraform: &'static [crate::terraform::TypeMapping],
    /// Readers of Terraform states kept elsewhere than in files.
    state_readers: Vec<Arc<dyn crate::terraform::StateReader>>,
    policies: crate::policy::Policies,
    cost: Option<crate::cost::CostModel>,
    stages: Option<Stages>,
}

impl<F> Cli<F>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    /// Adds a provider.
    pub fn provider(mut self, provider: impl Provider) -> Self {
        self.providers.insert(Arc::new(provider));
        self
    }

    /// Adds a provider as the named instance `name` of its package (see
    /// [`Options::provider`](crate::Options::provider)).
    pub fn named_provider(mut self, name: impl Into<String>, provider: impl Provider) -> Self {
        self.providers.insert_named(name, Arc::new(provider));
        self
    }

    /// Adds several providers.
    pub fn providers(mut self, providers: Providers) -> Self {
        self.providers = providers;
        self
    }

    /// Lets `import --terraform STATE` and `import --pulumi EXPORT` adopt
    /// the objects of a Terraform state or a Pulumi stack export whose types
    /// `types` maps (`dafnck_providers::aws::terraform::TYPES`).
    pub fn terraform_types(mut self, types: &'static [crate::terraform::TypeMapping]) -> Self {
        self.terraform = types;
        self
    }

    /// Lets `import --terraform` and `adopt --terraform` read Terraform
    /// states at locations of `reader`'s scheme (`s3://BUCKET/KEY` with
    /// `dafnck_providers::aws::terraform::S3StateReader`).
    pub fn state_reader(mut self, reader: impl crate::terraform::StateReader) -> Self {
        self.state_readers.push(Arc::new(reader));
        self
    }

    /// Registers a state store backend, so `--state` accepts URLs of its
    /// scheme (`file://` is built in).
    pub fn state_backend(mut self, backend: impl StoreBackend) -> Self {
        self.stores.backends.insert(Arc::new(backend));
        self
    }

    /// Keeps `stack`'s state at `url` (e.g. `prod` in PostgreSQL while
    /// `dev` stays in files); `--state` / `DAFNCK_STATE` still override it.
    /// The URL's scheme must be built in or registered with
    /// [`Cli::state_backend`].
    pub fn stack_state(mut self, stack: impl Into<String>, url: impl Into<String>) -> Self {
        self.stores.per_stack.insert(stack.into(), url.into());
        self
    }

    /// Encrypts the state's secrets with this key instead of one derived
    /// from `DAFNCK_PASSPHRASE`.
    pub fn secrets_key(mut self, key: SecretsKey) -> Self {
        self.key_source = Some(KeySource::Key(key));
        self
    }

    /// Writes secrets to the state in plain text when `DAFNCK_PASSPHRASE`
    /// is not set, instead of refusing. For throwaway stacks only.
    pub fn insecure_plaintext_secrets(mut self) -> Self {
        self.key_source = Some(KeySource::InsecurePlaintext);
        self
    }

    /// Checks the program against these policies (by default: the
    /// `generic` pack, advisory). See [`crate::policy`].
    pub fn policies(mut self, policies: crate::policy::Policies) -> Self {
        self.policies = policies;
        self
    }

    /// Adds a policy pack (such as `dafnck_providers::aws::policy::pack()`)
    /// to those the program is checked against.
    pub fn policy_pack(mut self, pack: crate::policy::Pack) -> Self {
        self.policies = self.policies.pack(pack);
        self
    }

    /// Prices the program with this cost model (such as
    /// `dafnck_providers::aws::cost::model()`) for `preview --cost`, and
    /// enables the `cost.budget` configuration value: a monthly budget
    /// checked as the mandatory policy rule DAF-COST-001. Models given
    /// twice are combined.
    pub fn cost_model(mut self, model: crate::cost::CostModel) -> Self {
        self.cost = Some(match self.cost.take() {
            Some(m) => m.with(model),
            None => model,
        });
        self
    }

    /// Declares the stages a change goes through, in order (see
    /// [`stages`]): `ci` writes their jobs, `promote` promotes from the
    /// stage before, `report` covers them all, and each stage's config
    /// overlay applies under its own config file. Without it, they may be
    /// declared in `dafnck.stages.json`.
    pub fn stages(mut self, stages: Stages) -> Self {
        self.stages = Some(stages);
        self
    }

    /// Uses these arguments (the first is the program's name) instead of
    /// the process's.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Runs the command; returns the exit code (0, 1, or 2 for changes).
    pub async fn exit_code(self) -> u8 {
        init_tracing();
        let argv = self.args.unwrap_or_else(|| std::env::args_os().collect());
        let mut args = match Args::try_parse_from(argv) {
            Ok(a) => a,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() { 1 } else { 0 };
            }
        };
        // `promote --to STAGE` is `--stack STAGE promote`.
        if let Command::Promote { to: Some(to), .. } = &args.command {
            args.stack.clone_from(to);
        }
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        let program = Arc::new(self.program);
        let key_source = key_source(self.key_source);
        let stages = match Stages::resolve(self.stages) {
            Ok(stages) => stages,
            Err(e) => {
                let _ = write!(std::io::stderr(), "{}", output::error_text(&e));
                return 1;
            }
        };
        // `promote --to STAGE` with no --from promotes the stage before it.
        if let (
            Command::Promote {
                from: from @ None, ..
            },
            Some(stages),
        ) = (&mut args.command, &stages)
        {
            *from = stages.before(&args.stack).map(|s| s.name.clone());
        }
        let given = Given {
            stages: stages.as_ref(),
            providers: self.providers,
            stores: &self.stores,
            key_source,
            policies: self.policies,
            terraform: self.terraform,
            state_readers: &self.state_readers,
            cost: self.cost,
        };
        match dispatch(&args, program, given, color).await {
            Ok(code) => code,
            Err(e) => {
                let text = output::error_text(&e);
                let text = if color {
                    text.replacen("error:", "\x1b[1;31merror:\x1b[0m", 1)
                } else {
                    text
                };
                let _ = write!(std::io::stderr(), "{text}");
                1
            }
        }
    }
}

impl<F> IntoFuture for Cli<F>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    type Output = ExitCode;
    type IntoFuture = Pin<Box<dyn Future<Output = ExitCode> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { ExitCode::from(self.exit_code().await) })
    }
}

/// Logs to stderr at the level `RUST_LOG` names (`error`, `warn`, `info`,
/// `debug`, `trace`; a `target=level` list uses its most verbose level).
/// Nothing is logged when it is unset.
fn init_tracing() {
    let Ok(spec) = std::env::var("RUST_LOG") else {
        return;
    };
    let level = spec
        .split(',')
        .filter_map(|part| part.rsplit('=').next())
        .filter_map(|l| l.trim().parse::<tracing::Level>().ok())
        .max();
    if let Some(level) = level {
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// What the program gave its command line, besides the program itself.
struct Given<'a> {
    providers: Providers,
    stores: &'a Stores,
    key_source: KeySource,
    policies: crate::policy::Policies,
    terraform: &'a [crate::terraform::TypeMapping],
    state_readers: &'a [Arc<dyn crate::terraform::StateReader>],
    cost: Option<crate::cost::CostModel>,
    stages: Option<&'a Stages>,
}

/// The store of `stack`: `--state`, else the program's setting for the
/// stack, else the file store under `--state-dir`.
async fn open_store(
    args: &Args,
    stores: &Stores,
    stack: &str,
) -> crate::Result<Arc<dyn StateStore>> {
    Ok(
        match args.state.as_ref().or_else(|| stores.per_stack.get(stack)) {
            Some(url) => stores.backends.open(url).await?,
            None => Arc::new(FileStore::new(&args.state_dir)),
        },
    )
}

async fn dispatch<F>(
    args: &Args,
    program: Arc<F>,
    given: Given<'_>,
    color: bool,
) -> crate::Result<u8>
where
    F: Fn(&mut Stack) -> crate::Result<()> + Send + Sync + 'static,
{
    let Given {
        providers,
        stores,
        key_source,
        policies,
        terraform,
        state_readers,
        cost,
        stages,
    } = given;
    if let Command::Ci { .. } = &args.command {
        return ci::command(args, stages);
    }
    // Reads histories only: no config, no engine.
    if let Command::Report { .. } = &args.command {
        return report::command(args, stores, stages).await;
    }
    // Setting a value must work when the file holds secrets this run
    // cannot open.
    let config = match &args.command {
        Command::Config(_) => crate::config_file::ConfigFile::default(),
        _ => load_config(args, &key_source, stages)?,
    };
    let policies = match (&cost, config.plain.get("cost.budget")) {
        (_, None) => policies,
        (None, Some(_)) => {
            return Err(Error::Usage(
                "config cost.budget is set, but this program has no cost model to price it \
                 (`Cli::cost_model`)"
                    .into(),
            ))
        }
        (Some(model), Some(limit)) => {
            let limit: f64 = limit
                .parse()
                .ok()
                .filter(|l: &f64| l.is_finite() && *l >= 0.0)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "config cost.budget is {limit:?}; expected a monthly amount such as 250"
                    ))
                })?;
            let rule = Arc::new(model.clone()).budget_rule(crate::cost::BUDGET, limit);
            policies
                .pack(
                    crate::policy::Pack::new("budget", "The stack's monthly budget (cost.budget)")
                        .rule(rule),
                )
                .enforce("budget", crate::policy::Enforcement::Mandatory)
        }
    };
    if let Command::Dashboard { .. } = &args.command {
        return dashboard::command(args, stores, stages, program, policies, key_source).await;
    }
    let store = open_store(args, stores, &args.stack).await?;
    let engine = Engine::with_store(args.stack.clone(), store, providers)
        .config(config.plain)
        .secret_config(config.secrets)
        .parallelism(args.parallelism)
        .journal_ahead(args.journal_ahead)
        .lock_timeout(std::time::Duration::from_secs(args.lock_timeout))
        .retention(args.history_retention.unwrap_or_default())
        .commit(
            matches!(
                args.command,
                Command::Up { .. } | Command::Destroy { .. } | Command::Promote { .. }
            )
            .then(commit::detect),
        )
        .key_source(key_source.clone())
        .reference_backends(stores.backends.clone())
        .policies(policies);
    let prog = || {
        let p = program.clone();
        move |s: &mut Stack| p(s)
    };
    match &args.command {
        Command::Preview {
            no_refresh,
            json,
            out,
            target,
            detailed_exitcode,
            sarif,
            cost: with_cost,
            prices,
            ..
        } => {
            let mut engine = engine.targets(target.clone());
            if *with_cost {
                let model = cost.clone().ok_or_else(|| {
                    Error::Usage(
                        "this program has no cost model: it gives one with `Cli::cost_model` \
                         (such as dafnck_providers::aws::cost::model())"
                            .into(),
                    )
                })?;
                let model = match prices {
                    Some(path) => model
                        .with_prices(crate::cost::PriceTable::load(path).map_err(Error::Usage)?),
                    None => model,
                };
                engine = engine.cost_model(Arc::new(model));
            }
            let preview = engine.preview(prog(), !*no_refresh).await?;
            if *json {
                let mut doc = output::plan_json(&preview.plan);
                doc["violations"] = policy::violations_json(preview.policy.as_ref());
                if let Some(report) = &preview.cost {
                    doc["cost"] = serde_json::to_value(report).unwrap_or_default();
                }
                outln!("{doc}");
            } else {
                print_preview(&preview, color);
                if let Some(report) = &preview.cost {
                    out!("{}", report.render());
                }
            }
            if let Some(path) = sarif {
                policy::write_sarif(&engine, preview.policy.as_ref(), path)?;
            }
            if let Some(path) = out {
                engine.save_plan(&preview.plan, path)?;
                if !*json {
                    outln!(
                        "Saved the plan to {}; apply it with `up --plan {}`.",
                        path.display(),
                        path.display()
                    );
                }
            }
            let code = if *detailed_exitcode && preview.plan.has_changes() {
                2
            } else {
                0
            };
            let size = preview.plan.changes.len();
            crate::engine::drop_aside(preview, size);
            Ok(code)
        }
        Command::Up {
            yes,
            plan: Some(path),
            ..
        } => {
            let plan = engine.load_plan(path)?;
            if plan.stack != args.stack {
                return Err(Error::PlanStack {
                    plan: plan.stack,
                    stack: args.stack.clone(),
                });
            }
            out!("{}", plan.render_styled(color));
            engine.check_secrets_writable(Some(&plan)).await?;
            if !confirm(*yes, "apply this saved plan")? {
                outln!("Apply cancelled.");
                return Ok(1);
            }
            let (engine, progress) = with_progress(engine, &plan);
            // The program runs for its deployment policies (handovers),
            // which must still be those the plan shows.
            let report = engine.apply_plan_with(&plan, prog()).await;
            progress.finish();
            print_report(&report?);
            Ok(0)
        }
        Command::Promote {
            from,
            soak,
            max_age,
            yes,
            ..
        } => {
            let (from, soak, max_age) =
                promote::source(stages, from, &args.stack, *soak, *max_age)?;
            let source = open_store(args, stores, &from).await?;
            let verified = promote::check(&*source, &from, &args.stack, soak, max_age).await?;
            outln!("{verified}");
            up_command(engine, &program, *yes, false, color).await
        }
        Command::Up {
            yes,
            plan: None,
            no_refresh,
            target,
            ..
        } => {
            up_command(
                engine.targets(target.clone()),
                &program,
                *yes,
                *no_refresh,
                color,
            )
            .await
        }
        Command::Destroy { yes } => {
            engine.existing_state().await?;
            let plan = engine.preview_destroy().await?;
            out!("{}", plan.render_styled(color));
            if !plan.has_changes() {
                return Ok(0);
            }
            engine.check_secrets_writable(None).await?;
            if !confirm(*yes, "destroy every resource of this stack")? {
                outln!("Destroy cancelled.");
                return Ok(1);
            }
            let (engine, progress) = with_progress(engine, &plan);
            let report = engine.destroy().await;
            progress.finish();
            let report = report?;
            outln!(
                "Destroy complete: {} step(s) in {:.1?}.",
                report.steps.len(),
                report.elapsed
            );
            Ok(0)
        }
        Command::Refresh { yes } => {
            engine.existing_state().await?;
            let drift = engine.drift().await?;
            out!("{}", drift.render());
            if !confirm(*yes, "write what was read into the state")? {
                outln!("Refresh cancelled.");
                return Ok(1);
            }
            engine.refresh().await?;
            outln!("The state now records what the providers reported.");
            Ok(0)
        }
        Command::Drift { json } => {
            engine.existing_state().await?;
            let drift = engine.drift().await?;
            if *json {
                outln!("{}", output::drift_json(&drift));
            } else {
                out!("{}", drift.render());
            }
            Ok(if drift.has_drift() { 2 } else { 0 })
        }
        Command::Import { .. } | Command::Adopt { .. } => {
            let sources = import::Sources {
                types: terraform,
                readers: state_readers,
            };
            import::command(&args.command, &engine, prog(), sources, color).await
        }
        Command::State(cmd) => {
            state_cmd::command(&engine, cmd, &stores.backends, &args.history_retention).await
        }
        Command::Rollout(RolloutCommand::Status { name }) => {
            let state = engine.existing_state().await?;
            let shown = output::rollouts(&state, name.as_deref());
            if shown.is_empty() {
                outln!(
                    "No rollouts recorded{}.",
                    name.as_deref()
                        .map(|n| format!(" for {n}"))
                        .unwrap_or_default()
                );
            }
            for line in shown {
                outln!("{line}");
            }
            Ok(0)
        }
        Command::Rollout(
            cmd @ (RolloutCommand::Pause { name }
            | RolloutCommand::Resume { name }
            | RolloutCommand::Promote { name }
            | RolloutCommand::Abort { name }),
        ) => {
            use crate::deploy::RolloutControl as C;
            let (control, verb) = match cmd {
                RolloutCommand::Pause { .. } => (C::Pause, "pause"),
                RolloutCommand::Resume { .. } => (C::Resume, "resume"),
                RolloutCommand::Promote { .. } => (C::Promote, "promote"),
                _ => (C::Abort, "abort"),
            };
            let lock = engine.send_rollout_control(name, control).await?;
            outln!(
                "Sent {verb} to the rollout of {name} (run {}: {} by {}@{}, pid {}).",
                lock.id,
                lock.operation,
                lock.owner,
                lock.host,
                lock.pid
            );
            Ok(0)
        }
        Command::Rollout(RolloutCommand::Retry { name, yes }) => {
            let state = engine.existing_state().await?;
            if !state.handovers.contains_key(name) {
                return Err(Error::Usage(format!(
                    "stack {:?} records no rollout of {name:?}; `rollout status` lists them",
                    engine.stack()
                )));
            }
            let engine = engine.targets(vec![name.clone()]);
            let preview = engine.preview(prog(), false).await?;
            print_preview(&preview, color);
            if !preview.plan.has_changes() && preview.interrupted.is_empty() {
                outln!("{name} has nothing left to roll out.");
                return Ok(0);
            }
            if !confirm(*yes, "roll it out again")? {
                outln!("Retry cancelled.");
                return Ok(1);
            }
            let (engine, progress) = with_progress(engine, &preview.plan);
            let report = engine.up(prog(), false).await;
            progress.finish();
            print_report(&report?);
            Ok(0)
        }
        Command::Graph { format } => {
            let desired = engine.desired(prog())?;
            out!(
                "{}",
                output::graph(&desired, *format == GraphFormat::Mermaid)
            );
            Ok(0)
        }
        // Answered before the engine is made (it needs no state).
        Command::Ci { .. } => ci::command(args, stages),
        Command::Report { .. } => report::command(args, stores, stages).await,
        Command::Dashboard { .. } => Err(Error::Usage(
            "dashboard is answered before the stack's engine is made".into(),
        )),
        Command::Config(ConfigCommand::Set { key, secret }) => {
            set_config(args, key, *secret, &key_source)
        }
        Command::Policy(command) => policy::command(&engine, prog(), command),
        Command::Outputs { json } => {
            let state = engine.existing_state().await?;
            if *json {
                let map: serde_json::Map<String, serde_json::Value> = state
                    .outputs
                    .iter()
                    .map(|(k, v)| (k.clone(), output::redacted_json(v)))
                    .collect();
                outln!("{}", serde_json::Value::Object(map));
            } else {
                for (k, v) in &state.outputs {
                    outln!("{k} = {v}");
                }
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_keeps_strings_and_the_json_text_of_other_values() {
        let text = r#"{"name": "web", "port": 8080, "zones": ["a", "b"]}"#;
        let config = crate::config_file::read(text, &KeySource::None)
            .unwrap()
            .plain;
        assert_eq!(config["name"], "web");
        assert_eq!(config["port"], "8080");
        assert_eq!(config["zones"], r#"["a","b"]"#);
        let stack = Stack::with_config("dev", config);
        assert_eq!(stack.config_as::<u16>("port").unwrap(), 8080);
        assert_eq!(stack.config_as::<Vec<String>>("zones").unwrap(), ["a", "b"]);
        assert!(crate::config_file::read("[1]", &KeySource::None)
            .unwrap_err()
            .starts_with("expected a JSON object"));
    }
}
