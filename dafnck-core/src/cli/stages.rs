//! The stages a change goes through (dev → staging → prod), declared once:
//! in the program ([`Cli::stages`](super::Cli::stages)) or in the file
//! `dafnck.stages.json` beside the stacks' config files. `ci` writes a job
//! per stage in this order, `promote --to STAGE` takes the stage before it
//! as the one verified (with that stage's soak time), `report` reports on
//! every stage, and each stage's config overlay is under the stack's own
//! config (`dafnck.<stage>.json`, then `--config`, win over it).
//!
//! ```json
//! {"config": {"region": "eu-west-1"},
//!  "stages": [{"name": "dev"},
//!             {"name": "staging", "soak": "30m"},
//!             {"name": "prod", "approve": true, "config": {"replicas": 3}}]}
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Error;

/// The file the stages may be declared in, when the program declares none.
pub const STAGES_FILE: &str = "dafnck.stages.json";

/// One stage: a stack, with how it is promoted and its config overlay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// The stack's name.
    pub name: String,
    /// Whether its `up` waits for a person's approval in the pipelines
    /// `ci` writes.
    pub approve: bool,
    /// How long its deployment must have run before `promote` takes it to
    /// the next stage.
    pub soak: Option<Duration>,
    /// How old its deployment may be when `promote` takes it to the next
    /// stage.
    pub max_age: Option<Duration>,
    /// Config values of this stage, over the declaration's shared ones.
    pub config: BTreeMap<String, String>,
}

impl Stage {
    /// A stage named `name`: no approval, no soak, no overlay.
    pub fn new(name: impl Into<String>) -> Stage {
        Stage {
            name: name.into(),
            approve: false,
            soak: None,
            max_age: None,
            config: BTreeMap::new(),
        }
    }

    /// Its `up` waits for approval in the pipelines.
    pub fn approve(mut self) -> Stage {
        self.approve = true;
        self
    }

    /// Its deployment must run `soak` before it is promoted.
    pub fn soak(mut self, soak: Duration) -> Stage {
        self.soak = Some(soak);
        self
    }

    /// Its deployment is not promoted once older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Stage {
        self.max_age = Some(max_age);
        self
    }

    /// A config value of this stage.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Stage {
        self.config.insert(key.into(), value.into());
        self
    }
}

/// The stages, in the order a change goes through them, and the config
/// values they share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stages {
    stages: Vec<Stage>,
    config: BTreeMap<String, String>,
}

impl Stages {
    /// No stages yet.
    pub fn new() -> Stages {
        Stages::default()
    }

    /// Adds the next stage.
    pub fn stage(mut self, stage: Stage) -> Stages {
        self.stages.push(stage);
        self
    }

    /// A config value every stage shares (a stage's own value wins).
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Stages {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The stages in order.
    pub fn list(&self) -> &[Stage] {
        &self.stages
    }

    /// Their names in order.
    pub fn names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name.clone()).collect()
    }

    /// The stage named `name`.
    pub fn get(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stage before `name`, the one `promote --to name` promotes from.
    pub fn before(&self, name: &str) -> Option<&Stage> {
        let i = self.stages.iter().position(|s| s.name == name)?;
        i.checked_sub(1).map(|j| &self.stages[j])
    }

    /// The config of stack `name`: the shared values, then its stage's
    /// (none when it is no stage).
    pub fn config_of(&self, name: &str) -> BTreeMap<String, String> {
        let mut config = self.config.clone();
        if let Some(stage) = self.get(name) {
            config.extend(stage.config.clone());
        }
        config
    }

    /// Checks the declaration: at least one stage, each named once with a
    /// name fit for a stack and a job.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the bad stage.
    pub fn check(&self) -> crate::Result<()> {
        if self.stages.is_empty() {
            return Err(usage("declare at least one stage"));
        }
        for (i, s) in self.stages.iter().enumerate() {
            let ok = !s.name.is_empty()
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                return Err(usage(&format!(
                    "stage {:?}: use lowercase letters, digits, '-' and '_'",
                    s.name
                )));
            }
            if self.stages[..i].iter().any(|o| o.name == s.name) {
                return Err(usage(&format!("stage {:?} is declared twice", s.name)));
            }
        }
        Ok(())
    }

    /// Reads a declaration in the form of [`STAGES_FILE`].
    ///
    /// # Errors
    /// [`Error::Usage`] naming `origin` and what is wrong.
    pub fn parse(text: &str, origin: &str) -> crate::Result<Stages> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            config: serde_json::Map<String, serde_json::Value>,
            stages: Vec<FileStage>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileStage {
            name: String,
            #[serde(default)]
            approve: bool,
            soak: Option<String>,
            max_age: Option<String>,
            #[serde(default)]
            config: serde_json::Map<String, serde_json::Value>,
        }
        let bad = |e: String| Error::Usage(format!("{origin}: {e}"));
        let file: File = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let duration = |stage: &str, key: &str, text: Option<String>| {
            text.map(|t| {
                crate::state::parse_duration(&t)
                    .map_err(|e| bad(format!("stage {stage:?}: {key}: {e}")))
            })
            .transpose()
        };
        let mut stages = Stages {
            stages: Vec::new(),
            config: flat(file.config),
        };
        for s in file.stages {
            stages.stages.push(Stage {
                soak: duration(&s.name, "soak", s.soak)?,
                max_age: duration(&s.name, "max_age", s.max_age)?,
                approve: s.approve,
                config: flat(s.config),
                name: s.name,
            });
        }
        stages.check().map_err(|e| bad(e.to_string()))?;
        Ok(stages)
    }

    /// The program's declaration, else the one in [`STAGES_FILE`] in the
    /// working directory, else none.
    ///
    /// # Errors
    /// Both are given (declared twice), or either is invalid.
    pub(super) fn resolve(program: Option<Stages>) -> crate::Result<Option<Stages>> {
        let file = std::fs::read_to_string(STAGES_FILE).ok();
        match (program, file) {
            (Some(_), Some(_)) => Err(usage(&format!(
                "the program declares its stages and {STAGES_FILE} declares them too; keep one"
            ))),
            (Some(p), None) => p.check().map(|()| Some(p)),
            (None, Some(text)) => Stages::parse(&text, STAGES_FILE).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// Strings as they are, other JSON values as their JSON text (as the
/// config files keep them).
fn flat(map: serde_json::Map<String, serde_json::Value>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

fn usage(text: &str) -> Error {
    Error::Usage(format!("stages: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_declares_stages_with_overlays_over_shared_config() {
        let s = Stages::parse(
            r#"{"config": {"region": "eu", "replicas": 1},
                "stages": [{"name": "dev"}, {"name": "staging", "soak": "30m"},
                           {"name": "prod", "approve": true, "max_age": "2d", "config": {"replicas": 3}}]}"#,
            "f.json",
        )
        .unwrap();
        assert_eq!(s.names(), ["dev", "staging", "prod"]);
        assert_eq!(s.before("prod").unwrap().name, "staging");
        assert!(s.before("dev").is_none());
        assert_eq!(
            s.get("staging").unwrap().soak,
            Some(Duration::from_secs(1800))
        );
        assert!(s.get("prod").unwrap().approve);
        assert_eq!(s.config_of("prod")["replicas"], "3");
        assert_eq!(s.config_of("dev")["replicas"], "1");
        assert_eq!(s.config_of("prod")["region"], "eu");
        let same = Stages::new()
            .config("region", "eu")
            .config("replicas", "1")
            .stage(Stage::new("dev"))
            .stage(Stage::new("staging").soak(Duration::from_secs(1800)))
            .stage(
                Stage::new("prod")
                    .approve()
                    .max_age(Duration::from_secs(2 * 86_400))
                    .config("replicas", "3"),
            );
        assert_eq!(s, same);
    }

    #[test]
    fn bad_declarations_name_what_is_wrong() {
        let err = |text: &str| Stages::parse(text, "f.json").unwrap_err().to_string();
        assert!(err(r#"{"stages": []}"#).contains("at least one stage"));
        assert!(err(r#"{"stages": [{"name": "a"}, {"name": "a"}]}"#)
            .contains("\"a\" is declared twice"));
        assert!(err(r#"{"stages": [{"name": "Prod"}]}"#).contains("stage \"Prod\""));
        assert!(err(r#"{"stages": [{"name": "a", "soak": "1y"}]}"#).contains("stage \"a\": soak"));
        assert!(err(r#"{"stages": [{"name": "a", "aprove": true}]}"#).contains("aprove"));
        assert!(err("[").starts_with("f.json: "));
    }
}
