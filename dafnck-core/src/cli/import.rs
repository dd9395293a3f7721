//! The `import` command's arguments: `NAME ID` pairs and a bulk file.

use std::path::Path;

use crate::engine::{ImportFile, ImportSpec};
use crate::error::Error;
use crate::pulumi::PulumiExport;
use crate::terraform::{TerraformState, TypeMapping};

/// The objects `import` names: its `NAME ID` pairs, then the file's.
pub(super) fn specs(
    pairs: &[String],
    file: Option<&Path>,
    more: bool,
) -> crate::Result<Vec<ImportSpec>> {
    if !pairs.len().is_multiple_of(2) {
        return Err(Error::Usage(format!(
            "import takes NAME ID pairs; {:?} has no id",
            pairs[pairs.len() - 1]
        )));
    }
    let mut specs: Vec<ImportSpec> = pairs
        .chunks(2)
        .map(|p| ImportSpec::new(&p[0], &p[1]))
        .collect();
    if let Some(path) = file {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read the import file {origin}: {e}")))?;
        specs.extend(ImportFile::parse(&text, &origin)?.resources);
    }
    if specs.is_empty() && !more {
        return Err(Error::Usage(
            "import needs NAME ID pairs, --file FILE, --terraform STATE or --pulumi EXPORT naming what to adopt"
                .into(),
        ));
    }
    Ok(specs)
}

/// Where an adoption comes from.
#[derive(Clone, Copy)]
pub(super) enum Origin {
    /// A Terraform state (`--terraform`).
    Terraform,
    /// A Pulumi stack export (`--pulumi`).
    Pulumi,
}

/// The import a Terraform state or a Pulumi export maps to, telling what it
/// leaves out.
pub(super) fn adopted(
    path: &Path,
    origin: Origin,
    types: &[TypeMapping],
) -> crate::Result<Vec<ImportSpec>> {
    let file = path.display().to_string();
    let what = match origin {
        Origin::Terraform => "Terraform state",
        Origin::Pulumi => "Pulumi stack export",
    };
    if types.is_empty() {
        return Err(Error::Usage(format!(
            "this program maps no Terraform or Pulumi types, so {file} cannot be adopted; \
             register them with `Cli::terraform_types` (e.g. \
             `dafnck_providers::aws::terraform::TYPES`)"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read the {what} {file}: {e}")))?;
    let adoption = match origin {
        Origin::Terraform => TerraformState::parse(&text, &file)?.adoption(types),
        Origin::Pulumi => PulumiExport::parse(&text, &file)?.adoption(types),
    };
    for address in &adoption.unmapped {
        outln!("Not imported: {address} (no mapping for its type)");
    }
    for (address, attribute) in &adoption.without_id {
        outln!("Not imported: {address} (its {what} has no {attribute:?})");
    }
    Ok(adoption.imports)
}
