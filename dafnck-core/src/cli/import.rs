//! The `import` command's arguments: `NAME ID` pairs and a bulk file.

use std::path::Path;

use crate::engine::{ImportFile, ImportSpec};
use crate::error::Error;

/// The objects `import` names: its `NAME ID` pairs, then the file's.
pub(super) fn specs(pairs: &[String], file: Option<&Path>) -> crate::Result<Vec<ImportSpec>> {
    if pairs.len() % 2 != 0 {
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
    if specs.is_empty() {
        return Err(Error::Usage(
            "import needs NAME ID pairs or --file FILE naming what to adopt".into(),
        ));
    }
    Ok(specs)
}
