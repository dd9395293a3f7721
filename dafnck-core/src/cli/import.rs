//! The `import` command's arguments: `NAME ID` pairs and a bulk file.

use std::path::Path;

use crate::engine::{ImportFile, ImportSpec};
use crate::error::Error;
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
            "import needs NAME ID pairs, --file FILE or --terraform STATE naming what to adopt"
                .into(),
        ));
    }
    Ok(specs)
}

/// The import a Terraform state maps to, telling what it leaves out.
pub(super) fn from_terraform(path: &Path, types: &[TypeMapping]) -> crate::Result<Vec<ImportSpec>> {
    let origin = path.display().to_string();
    if types.is_empty() {
        return Err(Error::Usage(format!(
            "this program maps no Terraform types, so {origin} cannot be adopted; register them \
             with `Cli::terraform_types` (e.g. `dafnck_providers::aws::terraform::TYPES`)"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read the Terraform state {origin}: {e}")))?;
    let adoption = TerraformState::parse(&text, &origin)?.adoption(types);
    for address in &adoption.unmapped {
        outln!("Not imported: {address} (no mapping for its type)");
    }
    for (address, attribute) in &adoption.without_id {
        outln!("Not imported: {address} (its state has no {attribute:?})");
    }
    Ok(adoption.imports)
}
