//! `ci`: the pipeline files that run a program on a CI platform.
//!
//! One [`Pipeline`] describes what every platform's file does, in the same
//! order:
//! - **test**: `cargo test --locked` on every change (not on the schedule);
//! - **preview** on every pull/merge request, once per stage: the plan as
//!   text and as a comment-ready markdown file, kept as an artifact under
//!   `dafnck-plans/` (the job fails only when the preview fails, not when
//!   it has changes);
//! - **up** per stage, in order, on a push to the main branch; each stage
//!   runs alone (the platform's concurrency control) and the stages in
//!   [`Pipeline::approve`] wait for a person (GitHub and Azure DevOps:
//!   required reviewers or approvals set on the environment of that name;
//!   GitLab: a manual job; Jenkins: an `input` step);
//! - **drift** on a schedule, once per stage, failing when anything changed
//!   outside the program (`drift` exits 2).
//!
//! Secrets never appear in the files: the state passphrase
//! (`DAFNCK_PASSPHRASE`) and the state URL (`DAFNCK_STATE`, which may hold
//! a database password) come from the platform's secret store, and AWS
//! credentials from OIDC where the platform has it (GitHub, GitLab).

mod azure;
mod github;
mod gitlab;
mod jenkins;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// A CI platform `ci` writes a pipeline for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Platform {
    /// GitHub Actions: `.github/workflows/dafnck.yml`.
    Github,
    /// GitLab CI/CD: `.gitlab-ci.yml`.
    Gitlab,
    /// Jenkins, a declarative pipeline: `Jenkinsfile`.
    Jenkins,
    /// Azure Pipelines (Azure DevOps): `azure-pipelines.yml`.
    Azure,
}

impl Platform {
    /// Where the platform expects its pipeline file, from the repository's
    /// root.
    pub fn path(self) -> &'static str {
        match self {
            Platform::Github => ".github/workflows/dafnck.yml",
            Platform::Gitlab => ".gitlab-ci.yml",
            Platform::Jenkins => "Jenkinsfile",
            Platform::Azure => "azure-pipelines.yml",
        }
    }
}

/// What a pipeline does, on any [`Platform`].
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The command that runs the program, ready for its arguments
    /// (`cargo run --release --locked --bin infra --`).
    pub run: String,
    /// The stages (stacks), in the order changes are applied.
    pub stages: Vec<String>,
    /// The stages whose `up` waits for a person's approval.
    pub approve: Vec<String>,
    /// The branch whose pushes are applied.
    pub branch: String,
    /// When drift is checked, as a five-field cron expression (UTC).
    pub drift_cron: String,
    /// Whether the jobs get AWS credentials (OIDC on GitHub and GitLab;
    /// secret variables on Jenkins and Azure DevOps).
    pub aws: bool,
}

impl Pipeline {
    /// A pipeline for `stages` of the program run by `run`: `main` is
    /// applied, the last stage waits for approval when there are two or
    /// more, drift is checked daily at 06:00 UTC, no cloud credentials.
    pub fn new(run: impl Into<String>, stages: Vec<String>) -> Pipeline {
        let approve = match stages.as_slice() {
            [_, .., last] => vec![last.clone()],
            _ => Vec::new(),
        };
        Pipeline {
            run: run.into(),
            stages,
            approve,
            branch: "main".into(),
            drift_cron: "0 6 * * *".into(),
            aws: false,
        }
    }

    /// Checks what goes into the files: names the platforms use as job ids
    /// and shell words, a branch name and a cron expression.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the bad value and what is allowed.
    pub fn check(&self) -> crate::Result<()> {
        if self.stages.is_empty() {
            return Err(usage("a pipeline needs at least one stage (--stage NAME)"));
        }
        for s in &self.stages {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                return Err(usage(&format!(
                    "stage {s:?}: use lowercase letters, digits, '-' and '_' (it names jobs and stacks)"
                )));
            }
        }
        if let Some(s) = self
            .stages
            .iter()
            .enumerate()
            .find_map(|(i, s)| self.stages[..i].contains(s).then_some(s))
        {
            return Err(usage(&format!("stage {s:?} is given twice")));
        }
        if let Some(a) = self.approve.iter().find(|a| !self.stages.contains(a)) {
            return Err(usage(&format!(
                "--approve {a:?} is not one of the stages ({})",
                self.stages.join(", ")
            )));
        }
        let branch_ok = !self.branch.is_empty()
            && self
                .branch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
        if !branch_ok {
            return Err(usage(&format!(
                "branch {:?}: use letters, digits, '.', '_', '/' and '-'",
                self.branch
            )));
        }
        let fields = self.drift_cron.split_whitespace().count();
        let cron_ok = fields == 5
            && self
                .drift_cron
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " */,-".contains(c));
        if !cron_ok {
            return Err(usage(&format!(
                "--drift-cron {:?}: expected five cron fields (minute hour day month weekday)",
                self.drift_cron
            )));
        }
        if self.run.trim().is_empty() || self.run.contains(['\'', '"', '\\', '\n', '$', '`']) {
            return Err(usage(&format!(
                "--run {:?}: expected a plain command (no quotes, '$', '`' or backslashes)",
                self.run
            )));
        }
        Ok(())
    }

    /// The pipeline file of `platform`: its path from the repository's root
    /// and its text.
    ///
    /// # Errors
    /// What [`Pipeline::check`] finds.
    pub fn file(&self, platform: Platform) -> crate::Result<(PathBuf, String)> {
        self.check()?;
        let text = match platform {
            Platform::Github => github::workflow(self),
            Platform::Gitlab => gitlab::pipeline(self),
            Platform::Jenkins => jenkins::jenkinsfile(self),
            Platform::Azure => azure::pipeline(self),
        };
        Ok((PathBuf::from(platform.path()), text))
    }

    /// Writes the file of `platform` under `root`, making its directories.
    /// A different file already there is kept unless `force`: nothing a
    /// person wrote is lost. Returns the path written, or `None` when the
    /// file already holds exactly this text.
    ///
    /// # Errors
    /// What [`Pipeline::check`] finds; a different existing file without
    /// `force`; the file system's errors, naming the path.
    pub fn write(
        &self,
        platform: Platform,
        root: &Path,
        force: bool,
    ) -> crate::Result<Option<PathBuf>> {
        let (relative, text) = self.file(platform)?;
        let path = root.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(old) if old == text => return Ok(None),
            Ok(_) if !force => {
                return Err(usage(&format!(
                    "{} exists and differs from the pipeline this would write; \
                     nothing was written (pass --force to replace it)",
                    path.display()
                )))
            }
            _ => {}
        }
        let io = |e: std::io::Error| usage(&format!("cannot write {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, text).map_err(io)?;
        Ok(Some(path))
    }

    fn approves(&self, stage: &str) -> bool {
        self.approve.iter().any(|a| a == stage)
    }

    /// Each stage with the stage applied before it.
    fn stages_after(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.stages.iter().enumerate().map(|(i, s)| {
            let before = i.checked_sub(1).map(|j| self.stages[j].as_str());
            (s.as_str(), before)
        })
    }

    /// The POSIX shell lines that preview `$STAGE`: the plan as text and as
    /// markdown under `dafnck-plans/`; failing only when the preview fails
    /// (`--detailed-exitcode`: 2 means changes).
    fn preview_script(&self) -> String {
        let run = &self.run;
        format!(
            "mkdir -p dafnck-plans\n\
             set +e\n\
             {run} --stack \"$STAGE\" --color never preview --detailed-exitcode > \"dafnck-plans/$STAGE.txt\" 2>&1\n\
             code=$?\n\
             set -e\n\
             cat \"dafnck-plans/$STAGE.txt\"\n\
             {{ echo '### dafnck preview of `'\"$STAGE\"'`'; echo; echo '```'; cat \"dafnck-plans/$STAGE.txt\"; echo '```'; }} > \"dafnck-plans/$STAGE.md\"\n\
             test \"$code\" -ne 1\n"
        )
    }

    /// The shell line that applies `$STAGE`.
    fn up_script(&self) -> String {
        format!("{} --stack \"$STAGE\" --color never up --yes\n", self.run)
    }

    /// The shell line that checks `$STAGE` for drift (exit 2 on drift).
    fn drift_script(&self) -> String {
        format!("{} --stack \"$STAGE\" --color never drift\n", self.run)
    }
}

fn usage(text: &str) -> Error {
    Error::Usage(format!("ci: {text}"))
}

/// `text` with every line indented by `n` spaces (blank lines stay empty).
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}

/// The header every file starts with, as comment lines after `mark`.
fn header(p: &Pipeline, mark: &str, how_approved: &str) -> String {
    let approve = if p.approve.is_empty() {
        "no stage waits for approval".to_owned()
    } else {
        format!(
            "{} wait(s) for approval ({how_approved})",
            p.approve.join(", ")
        )
    };
    let lines = [
        "Written by the program's `ci` command (dafnck); run it again to update.".to_owned(),
        format!(
            "Pull requests: test, then preview every stage ({}); the plans are kept",
            p.stages.join(", ")
        ),
        "as artifacts (dafnck-plans/<stage>.txt and a comment-ready <stage>.md).".to_owned(),
        format!(
            "Pushes to {}: test, then up of each stage in order; {approve}.",
            p.branch
        ),
        format!(
            "Schedule ({} UTC): drift of every stage; a job fails on drift.",
            p.drift_cron
        ),
        "Secrets: DAFNCK_PASSPHRASE (the state's key) and DAFNCK_STATE (the state".to_owned(),
        "store's URL) come from the platform's secret store, never from this file.".to_owned(),
    ];
    lines.iter().map(|l| format!("{mark} {l}\n")).collect()
}

/// `ci`: writes the pipeline file of a platform, for the `--stage`s given,
/// else the declared stages, else the `--stack`.
pub(super) fn command(
    args: &super::args::Args,
    declared: Option<&super::Stages>,
) -> crate::Result<u8> {
    use super::args::Command;
    let Command::Ci {
        platform,
        stages,
        approve,
        no_approval,
        branch,
        drift_cron,
        aws,
        run,
        out,
        force,
    } = &args.command
    else {
        unreachable!("ci::command is called for `ci` only")
    };
    let from_declaration = stages.is_empty() && declared.is_some();
    let stages = match (stages.is_empty(), declared) {
        (false, _) => stages.clone(),
        (true, Some(d)) => d.names(),
        (true, None) => vec![args.stack.clone()],
    };
    let run = match run {
        Some(run) => run.clone(),
        None => {
            let exe = std::env::current_exe()
                .map_err(|e| Error::Usage(format!("ci: cannot tell this program's name: {e}")))?;
            let name = exe.file_stem().unwrap_or_default().to_string_lossy();
            format!("cargo run --release --locked --bin {name} --")
        }
    };
    let mut pipeline = Pipeline::new(run, stages);
    if let (true, Some(d)) = (from_declaration, declared) {
        pipeline.approve = d
            .list()
            .iter()
            .filter(|s| s.approve)
            .map(|s| s.name.clone())
            .collect();
    }
    if *no_approval {
        pipeline.approve.clear();
    } else if !approve.is_empty() {
        pipeline.approve = approve.clone();
    }
    pipeline.branch = branch.clone();
    pipeline.drift_cron = drift_cron.clone();
    pipeline.aws = *aws;
    match pipeline.write(*platform, out, *force)? {
        Some(path) => outln!("Wrote {}.", path.display()),
        None => outln!("{} is up to date.", out.join(platform.path()).display()),
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
