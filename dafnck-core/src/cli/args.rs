//! The command line's grammar (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// When to color the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When the output is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The format of `graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// A program's command line.
#[derive(Clone, Debug, Parser)]
#[command(
    about = "Plan and apply this program's infrastructure",
    version,
    after_help = "Secrets are encrypted in the state with a key derived from the environment \
                  variable DAFNCK_PASSPHRASE (never a flag: command lines are visible to other \
                  users and kept in shell history). Without it, `preview` works and commands \
                  that write refuse."
)]
pub struct Args {
    /// The stack: each has its own state and config.
    #[arg(long, global = true, default_value = "dev", env = "DAFNCK_STACK")]
    pub stack: String,
    /// Where the file state store keeps stacks.
    #[arg(
        long,
        global = true,
        default_value = ".dafnck",
        env = "DAFNCK_STATE_DIR"
    )]
    pub state_dir: PathBuf,
    /// Where the stack's state is kept, as a URL: `file://PATH`, or a
    /// scheme the program registered (`postgres://...`). Without it, the
    /// program's setting for the stack, else the file store under
    /// `--state-dir`.
    #[arg(long, global = true, value_name = "URL", env = "DAFNCK_STATE")]
    pub state: Option<String>,
    /// Color the output.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// At most this many provider calls at once.
    #[arg(long, global = true, default_value_t = 10)]
    pub parallelism: usize,
    /// At most this many steps under way at once, counting those whose
    /// intent is journaled and wait for one of the `--parallelism` call
    /// slots: their intents share one fsync of the journal.
    #[arg(long, global = true, value_name = "STEPS", default_value_t = crate::apply::DEFAULT_JOURNAL_AHEAD)]
    pub journal_ahead: usize,
    /// Wait up to this many seconds for another run's lock (released, or
    /// its lease expired) instead of failing at once.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value_t = 0,
        env = "DAFNCK_LOCK_TIMEOUT"
    )]
    pub lock_timeout: u64,
    /// Which versions of the state's history to keep after each run:
    /// `last=N`, `within=DURATION` (30d, 12h), `daily=D` (the newest of
    /// each of the last D days), joined by commas; a version any rule keeps
    /// stays, and the newest always does. Default: keep every version.
    #[arg(
        long,
        global = true,
        value_name = "RULES",
        env = "DAFNCK_HISTORY_RETENTION",
        value_parser = parse_retention
    )]
    pub history_retention: Option<crate::state::Retention>,
    /// A configuration value of the stack, `KEY=VALUE` (repeatable); they
    /// override the file `dafnck.<stack>.json`.
    #[arg(long = "config", global = true, value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_retention(text: &str) -> Result<crate::state::Retention, String> {
    text.parse()
}

fn parse_window(text: &str) -> Result<std::time::Duration, String> {
    crate::state::parse_duration(text)
}

/// The commands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Show what `up` would change.
    Preview {
        /// Plan against the state as recorded, without reading the recorded
        /// objects first (by default they are read, so the plan corrects
        /// drift: a deleted object is created again, a changed one updated).
        #[arg(long)]
        no_refresh: bool,
        /// Read every recorded object first: the default, kept so that
        /// scripts written for earlier versions still run.
        #[arg(long, hide = true, conflicts_with = "no_refresh")]
        refresh: bool,
        /// Print the plan as one JSON document.
        #[arg(long)]
        json: bool,
        /// Save the plan, to apply it exactly with `up --plan FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only this resource and what it depends on (repeatable).
        #[arg(long, value_name = "NAME")]
        target: Vec<String>,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also write the policy check as SARIF 2.1.0 (for GitHub code
        /// scanning) to this file.
        #[arg(long, value_name = "FILE")]
        sarif: Option<PathBuf>,
        /// Also estimate the monthly cost of the stack before and after the
        /// change, with the prices of the program's cost model.
        #[arg(long)]
        cost: bool,
        /// With `--cost`: a price table (JSON) whose prices go over the
        /// model's own.
        #[arg(long, value_name = "FILE", requires = "cost")]
        prices: Option<PathBuf>,
    },
    /// Show the plan, ask, and apply it.
    Up {
        /// Apply without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Apply this saved plan exactly (refused if the state changed since).
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Plan against the state as recorded, without reading the recorded
        /// objects first (by default they are read, so the plan corrects
        /// drift: a deleted object is created again, a changed one updated).
        #[arg(long)]
        no_refresh: bool,
        /// Read every recorded object first: the default, kept so that
        /// scripts written for earlier versions still run.
        #[arg(long, hide = true, conflicts_with = "no_refresh")]
        refresh: bool,
        /// Only this resource and what it depends on (repeatable).
        #[arg(long, value_name = "NAME")]
        target: Vec<String>,
    },
    /// Delete everything the stack records.
    Destroy {
        /// Destroy without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Write what the cloud reports into the state.
    Refresh {
        /// Write without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Report what changed outside the program; changes nothing.
    Drift {
        /// Print the drift as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Adopt existing objects for declared resources: shows what would be
    /// recorded (and what the next `up` would change), asks, then records
    /// them. Creates, updates and deletes nothing. With `--generate`,
    /// prints the declaration of one object instead, recording nothing.
    Import {
        /// `NAME ID` pairs: the resource's name in the program, then the
        /// object's id at its provider.
        #[arg(value_name = "NAME ID")]
        pairs: Vec<String>,
        /// A bulk import file (JSON: `{"resources": [{"name", "id",
        /// "provider"?}]}`), imported with the pairs in one operation.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// A Terraform state (format version 4; a file, or `s3://BUCKET/KEY`
        /// with a reader registered): its objects of the types the program
        /// maps are imported as the resources named after them
        /// (`aws_subnet.public[0]` as `public-0`); the others are listed.
        #[arg(long, value_name = "STATE")]
        terraform: Option<String>,
        /// A Pulumi stack export (`pulumi stack export`, deployment version
        /// 3): its resources of the types the program maps are imported as
        /// the resources named after them; the others are listed.
        #[arg(long, value_name = "EXPORT")]
        pulumi: Option<String>,
        /// Print the typed declaration of the object (one `NAME ID` pair,
        /// of the type the program declares for NAME) as it is now, ready
        /// to paste; reads it only and records nothing.
        #[arg(long, conflicts_with_all = ["file", "terraform", "pulumi", "yes"])]
        generate: bool,
        /// Record without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Write a program declaring what a Terraform state or a Pulumi stack
    /// export manages, as the objects are now: DIR/src/main.rs (one typed
    /// declaration per object of a mapped type, references rebuilt where an
    /// object holds another's id) and DIR/imports.json, which the new
    /// program's `import --file` adopts. Reads only; records nothing.
    Adopt {
        /// A Terraform state (format version 4; a file, or `s3://BUCKET/KEY`
        /// with a reader registered).
        #[arg(long, value_name = "STATE", required_unless_present = "pulumi")]
        terraform: Option<String>,
        /// A Pulumi stack export (deployment version 3).
        #[arg(long, value_name = "EXPORT", conflicts_with = "terraform")]
        pulumi: Option<String>,
        /// The directory of the new program (a crate such as a copy of
        /// `templates/infra`, or a new one).
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// Replace DIR/src/main.rs if it exists (otherwise that is an error).
        #[arg(long)]
        force: bool,
    },
    /// Inspect and repair the recorded state.
    #[command(subcommand)]
    State(StateCommand),
    /// Rollouts of resources deployed by a policy (canary, blue-green).
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Print the dependency graph.
    Graph {
        /// The format.
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Policy rules and packs, and compliance reports over the program.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print the stack's exported values.
    Outputs {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the pipeline file that runs this program on a CI platform:
    /// test, a preview of every stage on pull requests, `up` of each stage
    /// in order on pushes, a scheduled drift check.
    Ci {
        /// The platform.
        #[arg(value_enum)]
        platform: super::ci::Platform,
        /// A stage (a stack), in the order changes are applied (repeatable;
        /// default: the declared stages, else the --stack).
        #[arg(long = "stage", value_name = "NAME")]
        stages: Vec<String>,
        /// A stage whose `up` waits for a person's approval (repeatable;
        /// default: the declared stages marked `approve`, else the last
        /// stage when there are two or more).
        #[arg(long, value_name = "NAME")]
        approve: Vec<String>,
        /// No stage waits for approval.
        #[arg(long, conflicts_with = "approve")]
        no_approval: bool,
        /// The branch whose pushes are applied.
        #[arg(long, default_value = "main")]
        branch: String,
        /// When drift is checked: five cron fields, UTC.
        #[arg(long, value_name = "CRON", default_value = "0 6 * * *")]
        drift_cron: String,
        /// Give the jobs AWS credentials (OIDC on GitHub and GitLab, secret
        /// variables on Jenkins and Azure DevOps).
        #[arg(long)]
        aws: bool,
        /// How the pipeline runs this program (default: `cargo run
        /// --release --locked --bin NAME --`, NAME this program's name).
        #[arg(long, value_name = "COMMAND")]
        run: Option<String>,
        /// The repository's root: the file is written under it.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// Replace an existing file that differs (otherwise it is kept and
        /// nothing is written).
        #[arg(long)]
        force: bool,
    },
    /// Apply this stage (the --stack, or --to) with the build of the
    /// program the stage --from last deployed: refused when that
    /// deployment failed or was rolled back, has soaked less than --soak,
    /// is older than --max-age, or was made by another build (the program's
    /// SHA-256 and commit, recorded by each `up`). The stage's own config
    /// (its declared overlay, `dafnck.<stage>.json`, --config) applies.
    Promote {
        /// The stage whose last deployment was verified (default: the
        /// stage declared before this one).
        #[arg(long, value_name = "STAGE")]
        from: Option<String>,
        /// The stage to apply (default: the --stack).
        #[arg(long, value_name = "STAGE")]
        to: Option<String>,
        /// How long the --from deployment must have run before it is
        /// promoted: 30m, 1h, 2d (default: the --from stage's declared
        /// soak, else none).
        #[arg(long, value_name = "DURATION", value_parser = parse_window)]
        soak: Option<std::time::Duration>,
        /// Refuse a --from deployment older than this (stale; default: the
        /// --from stage's declared max age, else no limit).
        #[arg(long, value_name = "DURATION", value_parser = parse_window)]
        max_age: Option<std::time::Duration>,
        /// Apply without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The DORA metrics of stacks' deployments (each `up`) over a window:
    /// deployment frequency, lead time for changes (from the commit time
    /// `up` recorded: DAFNCK_COMMIT_TIME, else git), change failure rate
    /// (failed or rolled back) and time to restore (failure to the next
    /// success), with the DORA performance bands, and the rollback time of
    /// each rolled-back rollout; per stack and together.
    Report {
        /// A stack to report on (repeatable; default: every declared
        /// stage, else the --stack). Each is read from its own store (the
        /// program's setting for it, or --state / --state-dir).
        #[arg(long = "of", value_name = "STACK")]
        stacks: Vec<String>,
        /// How far back from --until: 30d, 12h, ...
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_window)]
        window: std::time::Duration,
        /// The window's end, Unix seconds (default: now).
        #[arg(long, value_name = "UNIX_SECONDS")]
        until: Option<u64>,
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// Also write the charts of the stacks together, day by day, as
        /// SVG files in DIR: deployment-frequency.svg, lead-time.svg,
        /// change-failure-rate.svg, time-to-restore.svg.
        #[arg(long, value_name = "DIR")]
        svg: Option<PathBuf>,
    },
    /// Serve a read-only web page of the stacks on this machine: their
    /// resources as a graph, their history with the changes of each
    /// version, policy violations, the DORA charts, and rollouts under way
    /// (weights and analysis, updated live). Runs until stopped.
    Dashboard {
        /// The address to listen on (only this machine by default).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// The port (0: any free one; the URL is printed).
        #[arg(long, default_value_t = 8390)]
        port: u16,
        /// A stack to show (repeatable; default: every declared stage,
        /// else the --stack).
        #[arg(long = "of", value_name = "STACK")]
        stacks: Vec<String>,
        /// The DORA charts' window: 30d, 12h, ...
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_window)]
        window: std::time::Duration,
    },
    /// Change the stack's config file, `dafnck.<stack>.json`.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `config` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a config value, read from stdin (asked for on a terminal), never
    /// from the command line.
    Set {
        /// The key.
        key: String,
        /// Store the value sealed with the stack's key (from
        /// `DAFNCK_PASSPHRASE`); the program reads it as a `Secret`.
        #[arg(long)]
        secret: bool,
    },
}

/// `policy` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the registered packs and their rules (id, severity, title,
    /// enforcement, controls); disabled packs are marked.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the program and report, for one standard, each control the
    /// rules cover, the rules that cover it, and pass/fail over the stack.
    /// Exits 2 when a control fails.
    Report {
        /// The standard: soc2, hipaa, gdpr, cis-aws or pci-dss.
        #[arg(long)]
        standard: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `rollout` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show the last rollout of each resource (or of one): phase, step,
    /// traffic weight, attempt and why it stopped.
    Status {
        /// Only this resource.
        name: Option<String>,
    },
    /// Hold a rollout under way (in another process) at its current step.
    Pause {
        /// The resource.
        name: String,
    },
    /// Let a paused rollout go on.
    Resume {
        /// The resource.
        name: String,
    },
    /// Skip a rollout's remaining steps: all traffic to the new version now.
    Promote {
        /// The resource.
        name: String,
    },
    /// Roll a rollout under way back now.
    Abort {
        /// The resource.
        name: String,
    },
    /// Roll out a resource's rolled-back change again (a new attempt), or
    /// finish resetting an interrupted rollout.
    Retry {
        /// The resource.
        name: String,
        /// Retry without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `state` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum StateCommand {
    /// List recorded resources.
    List,
    /// Show one recorded resource (secrets redacted); with `--version N`,
    /// as version N of the state had it, or that version's resources when
    /// no name is given.
    Show {
        /// The resource's name.
        #[arg(required_unless_present = "version")]
        name: Option<String>,
        /// A version of the state, as `state history` numbers them.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
    /// List the state's versions: one per run that wrote it, with when,
    /// who, the command and what it did.
    History,
    /// Forget a resource without deleting its object.
    Rm {
        /// The resource's name.
        name: String,
    },
    /// Copy the stack's state to another store (`--to URL`), which must
    /// not hold state for the stack yet; both stores' locks are held.
    Migrate {
        /// The target store's URL (`postgres://...`, `file://PATH`).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Check every stored unit of the stack (the snapshot, the journal,
    /// the history and each of its versions) against its checksum; exits 1
    /// when any is damaged. Changes nothing, unless `--accept`.
    Verify {
        /// Accept a hand edit of the snapshot: show it, then write it again
        /// with a checksum of its new bytes and record who accepted it in
        /// the history.
        #[arg(long)]
        accept: bool,
        /// Accept without asking.
        #[arg(long, short = 'y', requires = "accept")]
        yes: bool,
    },
    /// Write version N of the history back as the stack's state: shows
    /// what changes, asks, and records the restore as a new version (undo
    /// it by restoring the version before). Refused while a run holds the
    /// lock.
    Restore {
        /// The version, as `state history` numbers them.
        #[arg(value_name = "N", required_unless_present = "version")]
        number: Option<u64>,
        /// The version (the same as N).
        #[arg(long, value_name = "N", conflicts_with = "number")]
        version: Option<u64>,
        /// Restore without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Drop versions of the history a retention policy does not keep.
    Prune {
        /// The rules (as `--history-retention`); default: the program's
        /// `--history-retention`.
        #[arg(long, value_name = "RULES", value_parser = parse_retention)]
        keep: Option<crate::state::Retention>,
        /// Only list the versions that would be dropped.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the stack's state and history (secrets sealed as stored) to
    /// one JSON document with a SHA-256 checksum.
    Export {
        /// The file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Read a document `state export` wrote into the stack: refused when
    /// it fails its checksum, and (unless --force) when it is of another
    /// stack or lineage or older than the stack's state.
    Import {
        /// The document.
        file: PathBuf,
        /// Import an export of another stack or lineage, or older than the
        /// stack's state.
        #[arg(long)]
        force: bool,
    },
    /// Release the stack's lock (when its holder is known to be dead).
    ForceUnlock {
        /// The lock id, as the error that refused a run printed it.
        id: String,
    },
}
