//! The `local` policy pack: rules over the files, directories, commands and
//! services this module manages on the machine. Enable it with
//! `cli::run(infra).policy_pack(dafnck_providers::local::policy::pack())`.

use dafnck_core::policy::controls::{
    GDPR_32_1_B, HIPAA_ACCESS, HIPAA_INTEGRITY, PCI_1_4_1, SOC2_A1_2, SOC2_CC6_1, SOC2_CC6_6,
    SOC2_CC7_1,
};
use dafnck_core::policy::{Control, Findings, Pack, Rule, Standard};

use super::{Command, Directory, File, Service};

const PCI_6_3_2: Control = Control::new(
    Standard::PciDss,
    "6.3.2",
    "Inventory of bespoke and third-party software",
);

dafnck_core::policy_rule!(
    WORLD_WRITABLE_FILE,
    "DAF-LOC-001",
    High,
    "filesystem",
    "Files are not world-writable",
    "Drop the write bit for others from `mode` (e.g. 0o644).",
    &[SOC2_CC6_1, HIPAA_INTEGRITY, GDPR_32_1_B]
);
dafnck_core::policy_rule!(
    WORLD_WRITABLE_DIR,
    "DAF-LOC-002",
    High,
    "filesystem",
    "Directories are not world-writable without the sticky bit",
    "Use 0o755, or 0o1777 for a shared scratch directory.",
    &[SOC2_CC6_1, HIPAA_INTEGRITY, GDPR_32_1_B]
);
dafnck_core::policy_rule!(
    BOUND_TO_ALL,
    "DAF-LOC-003",
    Medium,
    "networking",
    "Services listen on loopback, not on every interface",
    "Bind to 127.0.0.1 (or a specific interface) instead of 0.0.0.0 / [::].",
    &[SOC2_CC6_6, HIPAA_ACCESS, GDPR_32_1_B, PCI_1_4_1]
);
dafnck_core::policy_rule!(
    KEY_FILE_MODE,
    "DAF-LOC-004",
    High,
    "secrets",
    "Files holding private keys are readable by their owner only",
    "Set mode 0o600.",
    &[SOC2_CC6_1, HIPAA_ACCESS, GDPR_32_1_B]
);
dafnck_core::policy_rule!(
    CURL_PIPE_SHELL,
    "DAF-LOC-005",
    High,
    "supply-chain",
    "Commands do not pipe a download into a shell",
    "Download to a file, check its checksum or signature, then run it.",
    &[SOC2_CC7_1, PCI_6_3_2]
);
dafnck_core::policy_rule!(
    SERVICE_HEALTH,
    "DAF-LOC-006",
    Low,
    "reliability",
    "Services declare a health path",
    "Set `health_path` so a start is only done once the service answers.",
    &[SOC2_A1_2]
);

/// The `local` pack.
pub fn pack() -> Pack {
    Pack::new("local", "Local files, directories, commands and services")
        .rule(Rule::resource(WORLD_WRITABLE_FILE, |f: &File, out| {
            if f.mode.is_some_and(|m| m & 0o002 != 0) {
                out.flag(
                    "mode",
                    format!("{:#o} lets every user write the file", f.mode.unwrap_or(0)),
                );
            }
        }))
        .rule(Rule::resource(WORLD_WRITABLE_DIR, |d: &Directory, out| {
            if d.mode.is_some_and(|m| m & 0o002 != 0 && m & 0o1000 == 0) {
                out.flag(
                    "mode",
                    format!(
                        "{:#o} lets every user replace the directory's files",
                        d.mode.unwrap_or(0)
                    ),
                );
            }
        }))
        .rule(Rule::resource(BOUND_TO_ALL, |s: &Service, out| {
            let all = |v: &str| v.contains("0.0.0.0") || v.contains("[::]") || v == "::";
            for (i, a) in s.args.iter().enumerate() {
                if all(a) {
                    out.flag(format!("args[{i}]"), format!("{a:?} binds every interface"));
                }
            }
            for (k, v) in &s.env {
                if all(v) {
                    out.flag(format!("env.{k}"), format!("{v:?} binds every interface"));
                }
            }
        }))
        .rule(Rule::resource(KEY_FILE_MODE, |f: &File, out| {
            let key = f
                .content
                .as_value()
                .is_some_and(|c| c.contains("PRIVATE KEY-----"));
            if key && f.mode.is_none_or(|m| m & 0o077 != 0) {
                out.flag(
                    "mode",
                    match f.mode {
                        Some(m) => format!("{m:#o} lets others read a private key"),
                        None => "unset (the umask decides) for a private key".to_owned(),
                    },
                );
            }
        }))
        .rule(Rule::resource(CURL_PIPE_SHELL, |c: &Command, out| {
            pipe_to_shell(&c.create, "create", out);
            if let Some(u) = &c.update {
                pipe_to_shell(u, "update", out);
            }
        }))
        .rule(Rule::resource(SERVICE_HEALTH, |s: &Service, out| {
            if s.health_path.is_none() {
                out.flag(
                    "health_path",
                    "is not set: the service counts as started once its port opens",
                );
            }
        }))
}

fn pipe_to_shell(script: &str, field: &str, out: &mut Findings) {
    for part in script.split("&&").flat_map(|s| s.split(';')) {
        let mut stages = part.split('|').map(str::trim);
        let Some(first) = stages.next() else { continue };
        let fetches = first.starts_with("curl ") || first.starts_with("wget ");
        if fetches
            && stages.any(|s| {
                ["sh", "bash", "zsh", "sudo sh", "sudo bash"]
                    .iter()
                    .any(|sh| s == *sh || s.starts_with(&format!("{sh} ")))
            })
        {
            out.flag(
                field,
                format!("pipes a download into a shell: {}", part.trim()),
            );
        }
    }
}
