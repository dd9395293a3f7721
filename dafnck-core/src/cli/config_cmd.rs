//! The stack's configuration as the command line reads and writes it:
//! `dafnck.<stack>.json`, `--config KEY=VALUE`, `config set` (secret values
//! sealed with the stack's key) and where that key comes from.

use super::*;

/// The program's key, else a passphrase from the environment (a key given
/// by the program wins), else an opt-out the program made, else none.
pub(super) fn key_source(program: Option<KeySource>) -> KeySource {
    match program {
        Some(KeySource::Key(k)) => KeySource::Key(k),
        program => match std::env::var(PASSPHRASE_ENV) {
            Ok(p) if !p.is_empty() => KeySource::Passphrase(crate::Secret::new(p)),
            _ => program.unwrap_or_default(),
        },
    }
}

/// The stack's configuration: its stage's overlay when stages are
/// declared ([`Stages::config_of`]), then `dafnck.<stack>.json` if present
/// (see [`crate::config_file`]: its secret values opened with
/// `key_source`), then `--config KEY=VALUE` flags; later ones win.
pub(super) fn load_config(
    args: &Args,
    key_source: &KeySource,
    stages: Option<&Stages>,
) -> crate::Result<crate::config_file::ConfigFile> {
    let mut config = crate::config_file::ConfigFile::default();
    let file = config_path(args);
    if let Ok(text) = std::fs::read_to_string(&file) {
        config = crate::config_file::read(&text, key_source)
            .map_err(|e| Error::Usage(format!("{file}: {e}")))?;
    }
    if let Some(stages) = stages {
        for (k, v) in stages.config_of(&args.stack) {
            if !config.secrets.contains_key(&k) {
                config.plain.entry(k).or_insert(v);
            }
        }
    }
    for kv in &args.config {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--config {kv:?}: expected KEY=VALUE")))?;
        config.secrets.remove(k);
        config.plain.insert(k.to_owned(), v.to_owned());
    }
    Ok(config)
}

fn config_path(args: &Args) -> String {
    format!("dafnck.{}.json", args.stack)
}

/// `config set`: the value from stdin (asked for on a terminal), into the
/// stack's config file.
pub(super) fn set_config(
    args: &Args,
    key: &str,
    secret: bool,
    key_source: &KeySource,
) -> crate::Result<u8> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Value of {key:?} for stack {:?}: ", args.stack);
    }
    let mut value = String::new();
    stdin
        .read_line(&mut value)
        .map_err(|e| Error::Usage(format!("config set {key}: cannot read stdin: {e}")))?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(Error::Usage(format!(
            "config set {key}: no value on stdin (pipe it in: `printf %s VALUE | ... config set {key}`)"
        )));
    }
    let file = config_path(args);
    let old = std::fs::read_to_string(&file).ok();
    let text = crate::config_file::set(old.as_deref(), key, value, secret, key_source)
        .map_err(|e| Error::Usage(format!("{file}: {e}")))?;
    std::fs::write(&file, text).map_err(|e| Error::Usage(format!("{file}: cannot write: {e}")))?;
    let how = if secret { "sealed" } else { "plain" };
    outln!("Set {key:?} ({how}) in {file}.");
    Ok(0)
}
