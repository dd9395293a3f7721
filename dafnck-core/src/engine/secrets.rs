//! The engine's side of secrets at rest: saved plans sealed with the
//! stack's key, the records that start an encrypted state, and refusing to
//! write secrets that cannot be sealed.

use std::path::Path;

use super::Engine;
use crate::error::Error;
use crate::plan::Plan;
use crate::saved_plan;
use crate::stack::Desired;
use crate::state::encryption::{self, KeySource};
use crate::state::{self, Entry, State, StateError};
use crate::value::Value;

impl Engine {
    /// Saves a plan to a file, its secrets sealed with this engine's key
    /// (under a fresh salt of its own); a plan without secrets is saved as
    /// [`saved_plan::save`] does.
    ///
    /// # Errors
    /// [`Error::PlanFile`] when the file cannot be written, and
    /// [`state::StateError::Secrets`] when the plan holds secrets and no key
    /// was given (unless plain text was allowed).
    pub fn save_plan(&self, plan: &Plan, path: &Path) -> crate::Result<()> {
        if !saved_plan::holds_secrets(plan) {
            return saved_plan::save(plan, path);
        }
        let Some(header) = self.sealing.new_header(&self.stack)? else {
            if matches!(self.sealing.key_source(), KeySource::InsecurePlaintext) {
                return saved_plan::save(plan, path);
            }
            return Err(self.secrets_error(format!(
                "the plan holds secrets, which would be saved to {} in plain text: set \
                 DAFNCK_PASSPHRASE (or give the program's key with `secrets_key`)",
                path.display()
            )));
        };
        let cipher = self
            .sealing
            .cipher(&self.stack, Some(&header))?
            .expect("a key made the header");
        saved_plan::save(&saved_plan::sealed(plan, header, &cipher), path)
    }

    /// Loads a plan saved by [`Engine::save_plan`] (or [`saved_plan::save`]),
    /// opening its secrets with this engine's key.
    ///
    /// # Errors
    /// [`Error::PlanFile`] when the file cannot be read or a sealed value
    /// does not open; [`state::StateError::WrongKey`] for a wrong key;
    /// [`state::StateError::Secrets`] when its secrets are sealed and no key
    /// was given.
    pub fn load_plan(&self, path: &Path) -> crate::Result<Plan> {
        let mut plan = saved_plan::load(path)?;
        let Some(header) = plan.encryption.clone() else {
            return Ok(plan);
        };
        let Some(cipher) = self.sealing.cipher(&self.stack, Some(&header))? else {
            return Err(self.secrets_error(format!(
                "the saved plan {} holds encrypted secrets and no key was given: set \
                 DAFNCK_PASSPHRASE (or give the program's key with `secrets_key`)",
                path.display()
            )));
        };
        saved_plan::open(&mut plan, &cipher, path)?;
        Ok(plan)
    }

    /// Checks, writing nothing, that an operation that writes (applying
    /// `plan`, if given) can write the stack's secrets: the key is given, or
    /// there are no secrets (or plain text was allowed). The command line
    /// calls it before asking for confirmation.
    ///
    /// # Errors
    /// [`state::StateError::Secrets`] naming what is needed; state errors.
    pub async fn check_secrets_writable(&self, plan: Option<&Plan>) -> crate::Result<()> {
        if self.sealing.key_source().has_key() {
            return Ok(());
        }
        let state = self.state().await?;
        let operation = if plan.is_some_and(|p| !p.destroy) {
            "up"
        } else {
            "destroy"
        };
        self.require_key(
            operation,
            &state,
            plan.is_some_and(saved_plan::holds_secrets),
        )
    }
}

impl Engine {
    /// The records a write starts with: a lineage for a new state, and the
    /// encryption header when a key is given and the state has none yet (a
    /// new state, or one written before its secrets were encrypted: this
    /// write seals them).
    pub(super) fn opening_entries(&self, state: &State) -> crate::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        if state.lineage.is_empty() {
            entries.push(Entry::Init {
                lineage: state::new_id(),
            });
        }
        if state.encryption.is_none() {
            if let Some(header) = self.sealing.new_header(&self.stack)? {
                entries.push(Entry::Encryption { header });
            }
        }
        Ok(entries)
    }

    /// Refuses an operation that writes when secrets cannot be written
    /// sealed: the state holds sealed secrets and no key was given, or
    /// secrets (in the state or from the program) would be written in plain
    /// text without the program having allowed it. Nothing has been
    /// written yet when this refuses.
    pub(super) fn require_key(
        &self,
        operation: &str,
        state: &State,
        new_secrets: bool,
    ) -> crate::Result<()> {
        match self.sealing.key_source() {
            KeySource::Passphrase(_) | KeySource::Key(_) => Ok(()),
            source => {
                if encryption::holds_sealed_secrets(state) {
                    return Err(self.secrets_error(format!(
                        "this state's secrets are encrypted and no key was given, so `{operation}` \
                         is refused: set DAFNCK_PASSPHRASE (or give the program's key with \
                         `secrets_key`); `preview` works without it, showing secrets as (secret)"
                    )));
                }
                let plaintext = new_secrets || encryption::holds_plaintext_secrets(state);
                if plaintext && matches!(source, KeySource::None) {
                    return Err(self.secrets_error(format!(
                        "`{operation}` would write secrets to the state in plain text, and no key \
                         was given: set DAFNCK_PASSPHRASE (or give the program's key with \
                         `secrets_key`; `insecure_plaintext_secrets` opts out of encryption)"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Refuses to compare recorded secrets with what providers report (drift,
    /// refresh) when they are sealed: every one would look changed. With a
    /// key and the state's encryption header, none is (the store's read
    /// opened every sealed value or failed), and the state is not searched.
    pub(super) fn require_key_to_compare(
        &self,
        operation: &str,
        state: &State,
    ) -> crate::Result<()> {
        let opened = state.encryption.is_some()
            && matches!(
                self.sealing.key_source(),
                KeySource::Passphrase(_) | KeySource::Key(_)
            );
        if opened {
            return Ok(());
        }
        if encryption::holds_sealed_secrets(state) {
            return Err(self.secrets_error(format!(
                "`{operation}` compares the recorded secrets with what providers report, so it \
                 needs the key: set DAFNCK_PASSPHRASE (or give the program's key with \
                 `secrets_key`); `preview --no-refresh` works without it"
            )));
        }
        Ok(())
    }

    pub(super) fn secrets_error(&self, message: String) -> Error {
        Error::State(StateError::Secrets {
            location: format!("{}, stack {:?}", self.store.describe(), self.stack),
            message,
        })
    }
}

/// Whether the program declares a secret (in inputs or exports).
pub(super) fn desired_holds_secrets(desired: &Desired) -> bool {
    desired.nodes.iter().any(|n| n.inputs.contains_secret())
        || desired.exports.values().any(Value::contains_secret)
}
