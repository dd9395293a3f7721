//! The `import` command (`NAME ID` pairs, a bulk file, a Terraform state
//! or a Pulumi export; `--generate` for one object's declaration) and the
//! `adopt` command (a program written from a Terraform state or a Pulumi
//! export).

use std::path::Path;
use std::sync::Arc;

use crate::engine::{Engine, ImportFile, ImportSpec};
use crate::error::Error;
use crate::pulumi::PulumiExport;
use crate::stack::Stack;
use crate::terraform::{Adoption, StateReader, TerraformState, TypeMapping};

use super::args::Command;
use super::show::confirm;

/// What `import` and `adopt` read Terraform and Pulumi documents with.
pub(super) struct Sources<'a> {
    /// How their types map to ours.
    pub types: &'a [TypeMapping],
    /// Readers of states kept elsewhere than in files.
    pub readers: &'a [Arc<dyn StateReader>],
}

/// Runs `import` (any form) or `adopt`.
pub(super) async fn command<P>(
    command: &Command,
    engine: &Engine,
    program: P,
    sources: Sources<'_>,
    color: bool,
) -> crate::Result<u8>
where
    P: FnOnce(&mut Stack) -> crate::Result<()>,
{
    match command {
        Command::Import {
            pairs,
            generate: true,
            ..
        } => {
            let [name, id] = pairs.as_slice() else {
                return Err(Error::Usage(
                    "import --generate takes one NAME ID pair: the resource the program \
                     declares, and the id of the object to write"
                        .into(),
                ));
            };
            let generated = engine.declaration(program, name, id).await?;
            for module in &generated.uses {
                outln!("use {module};");
            }
            for (_, statement) in &generated.statements {
                outln!("{statement}");
            }
            Ok(0)
        }
        Command::Import {
            pairs,
            file,
            terraform,
            pulumi,
            yes,
            ..
        } => {
            let mut specs = specs(
                pairs,
                file.as_deref(),
                terraform.is_some() || pulumi.is_some(),
            )?;
            if let Some(location) = terraform {
                let adoption = adoption(location, Origin::Terraform, &sources).await?;
                specs.extend(adoption.imports);
            }
            if let Some(location) = pulumi {
                let adoption = adoption(location, Origin::Pulumi, &sources).await?;
                specs.extend(adoption.imports);
            }
            let preview = engine.preview_import(program, &specs).await?;
            out!("{}", preview.render_styled(color));
            if !confirm(*yes, "record these objects in the state")? {
                outln!("Import cancelled.");
                return Ok(1);
            }
            let report = engine.import_previewed(&preview).await?;
            for (name, id) in &report.imported {
                outln!("Imported {id} as {name}.");
            }
            Ok(0)
        }
        Command::Adopt {
            terraform,
            pulumi,
            out,
            force,
        } => {
            let (location, origin) = match (terraform, pulumi) {
                (Some(l), _) => (l, Origin::Terraform),
                (None, Some(l)) => (l, Origin::Pulumi),
                (None, None) => {
                    return Err(Error::Usage(
                        "adopt needs --terraform STATE or --pulumi EXPORT".into(),
                    ))
                }
            };
            adopt(engine, location, origin, &sources, out, *force).await
        }
        _ => unreachable!("only import and adopt are run here"),
    }
}

/// `adopt`: writes `out/src/main.rs` and `out/imports.json`.
async fn adopt(
    engine: &Engine,
    location: &str,
    origin: Origin,
    sources: &Sources<'_>,
    out: &Path,
    force: bool,
) -> crate::Result<u8> {
    let main_rs = out.join("src").join("main.rs");
    if main_rs.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists already; pass --force to replace it, or name another --out",
            main_rs.display()
        )));
    }
    let adoption = adoption(location, origin, sources).await?;
    let objects: Vec<(ImportSpec, &str)> = adoption
        .imports
        .iter()
        .cloned()
        .zip(adoption.types.iter().copied())
        .collect();
    let generated = engine.program(&objects).await?;
    let mut notes = vec![
        format!(
            "Written by `adopt` from the {} {location}: one declaration per",
            origin.what()
        ),
        "object of a mapped type, as it was read. `import --file imports.json`".into(),
        "adopts them; `preview` then shows no changes.".into(),
    ];
    let left_out = left_out(&adoption, origin);
    if !left_out.is_empty() {
        notes.push(String::new());
        notes.push("Not adopted:".into());
        notes.extend(left_out.iter().map(|l| format!("- {l}")));
    }
    let write = |path: &Path, text: &str| {
        std::fs::create_dir_all(path.parent().unwrap_or(out))
            .and_then(|()| std::fs::write(path, text))
            .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
    };
    write(&main_rs, &generated.main_rs(&notes))?;
    let imports = ImportFile {
        resources: adoption.imports.clone(),
    };
    let imports_json = out.join("imports.json");
    write(&imports_json, &(imports.to_json() + "\n"))?;
    outln!(
        "Wrote {}: {} declaration(s), {} reference(s) rebuilt.",
        main_rs.display(),
        generated.statements.len(),
        generated.references.len()
    );
    outln!("Wrote {}.", imports_json.display());
    outln!(
        "Next, in {}: `cargo run -- import --file imports.json`, then `cargo run -- preview`.",
        out.display()
    );
    Ok(0)
}

/// The objects `import` names: its `NAME ID` pairs, then the file's.
fn specs(pairs: &[String], file: Option<&Path>, more: bool) -> crate::Result<Vec<ImportSpec>> {
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
enum Origin {
    /// A Terraform state (`--terraform`).
    Terraform,
    /// A Pulumi stack export (`--pulumi`).
    Pulumi,
}

impl Origin {
    fn what(self) -> &'static str {
        match self {
            Origin::Terraform => "Terraform state",
            Origin::Pulumi => "Pulumi stack export",
        }
    }
}

/// What a Terraform state or a Pulumi export maps to, telling what it
/// leaves out.
async fn adoption(
    location: &str,
    origin: Origin,
    sources: &Sources<'_>,
) -> crate::Result<Adoption> {
    let what = origin.what();
    if sources.types.is_empty() {
        return Err(Error::Usage(format!(
            "this program maps no Terraform or Pulumi types, so {location} cannot be adopted; \
             register them with `Cli::terraform_types` (e.g. \
             `dafnck_providers::aws::terraform::TYPES`)"
        )));
    }
    let text = read(location, what, sources.readers).await?;
    let adoption = match origin {
        Origin::Terraform => TerraformState::parse(&text, location)?.adoption(sources.types),
        Origin::Pulumi => PulumiExport::parse(&text, location)?.adoption(sources.types),
    };
    for line in left_out(&adoption, origin) {
        outln!("Not imported: {line}");
    }
    Ok(adoption)
}

/// One line per object an adoption leaves out, saying why.
fn left_out(adoption: &Adoption, origin: Origin) -> Vec<String> {
    let unmapped = adoption
        .unmapped
        .iter()
        .map(|a| format!("{a} (no mapping for its type)"));
    let without_id = adoption
        .without_id
        .iter()
        .map(|(a, attribute)| format!("{a} (its {} has no {attribute:?})", origin.what()));
    unmapped.chain(without_id).collect()
}

/// The text at `location`: read by the reader of its scheme, else a file.
async fn read(
    location: &str,
    what: &str,
    readers: &[Arc<dyn StateReader>],
) -> crate::Result<String> {
    if let Some((scheme, _)) = location.split_once("://") {
        let Some(reader) = readers.iter().find(|r| r.scheme() == scheme) else {
            return Err(Error::Usage(format!(
                "cannot read the {what} {location}: this program reads no {scheme}:// locations \
                 (register a reader with `Cli::state_reader`, e.g. \
                 `dafnck_providers::aws::terraform::S3StateReader`)"
            )));
        };
        return reader.read(location).await;
    }
    std::fs::read_to_string(location)
        .map_err(|e| Error::Usage(format!("cannot read the {what} {location}: {e}")))
}
