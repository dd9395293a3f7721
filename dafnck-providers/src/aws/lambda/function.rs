//! [`Function`] (`aws:lambda:Function`): a Lambda function, its code
//! [`Package`] and its configuration.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, FunctionConfiguration, Runtime};
use aws_sdk_lambda::Client;
use base64ct::{Base64, Encoding};
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;
use sha2::{Digest, Sha256};

use super::super::ec2::known;
use super::super::error::{AwsError, Subject};
use super::super::iam::{fixed_name_conflict, RoleArn};
use super::super::lookup::Lookup;
use super::super::{lookup, tags, Aws};
use super::{
    check_name, function_name, is_conflict, made_by, provider_error, tags_on_create, user_tags,
    wait_ready, Configuration,
};

ids! {
    /// The name of a [`Function`] (its identity in the region, and its id).
    FunctionName;
    /// The ARN of a [`Function`].
    FunctionArn;
}

/// Where a [`Package`]'s zip comes from.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Every file under a directory, at its path relative to it.
    Directory(PathBuf),
    /// One file, at the zip's top level.
    File(PathBuf),
    /// A zip file built elsewhere, uploaded as it is.
    Zip(PathBuf),
}

impl Default for Source {
    fn default() -> Self {
        Source::Directory(PathBuf::new())
    }
}

/// A function's code: a zip, and its SHA-256 as Lambda reports it
/// (`CodeSha256`, base64).
///
/// The hash is taken when the program declares the package, so a changed
/// file changes the function's inputs (and the plan shows it), and the zip
/// is uploaded only when its hash is not the function's `CodeSha256`. A
/// zip built from a directory or a file is deterministic: entries in path
/// order, the DOS epoch as every entry's time, mode `0644` (`0755` for an
/// executable), deflated; the same files always give the same hash.
///
/// # Errors
/// The constructors fail when the source cannot be read, or a directory
/// holds no file.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Package {
    /// Where the zip comes from.
    pub source: Source,
    /// The zip's SHA-256, base64 (Lambda's `CodeSha256`).
    pub sha256: String,
}

impl Package {
    /// The files under `dir`, zipped.
    pub fn directory(dir: impl Into<PathBuf>) -> io::Result<Package> {
        Package::of(Source::Directory(dir.into()))
    }

    /// One file, zipped.
    pub fn file(path: impl Into<PathBuf>) -> io::Result<Package> {
        Package::of(Source::File(path.into()))
    }

    /// A zip file built elsewhere.
    pub fn zip(path: impl Into<PathBuf>) -> io::Result<Package> {
        Package::of(Source::Zip(path.into()))
    }

    fn of(source: Source) -> io::Result<Package> {
        let zip = zip_of(&source)?;
        Ok(Package {
            source,
            sha256: sha256(&zip),
        })
    }

    /// The zip, built (or read) now.
    ///
    /// # Errors
    /// When the source cannot be read.
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        zip_of(&self.source)
    }
}

/// Lambda's `CodeSha256` of a zip: its SHA-256, base64.
fn sha256(zip: &[u8]) -> String {
    Base64::encode_string(&Sha256::digest(zip))
}

/// An error about `path`, saying which.
fn about(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

fn zip_of(source: &Source) -> io::Result<Vec<u8>> {
    match source {
        Source::Zip(path) => std::fs::read(path).map_err(|e| about(path, e)),
        Source::File(path) => {
            let name = path
                .file_name()
                .ok_or_else(|| about(path, "is not a file"))?
                .to_string_lossy()
                .into_owned();
            zip_files(path, &[(name, path.clone())])
        }
        Source::Directory(dir) => {
            let mut files = Vec::new();
            walk(dir, "", &mut files)?;
            if files.is_empty() {
                return Err(about(dir, "holds no files"));
            }
            files.sort();
            zip_files(dir, &files)
        }
    }
}

/// The files under `dir` (following links), with their zip paths.
fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| about(dir, e))? {
        let path = entry.map_err(|e| about(dir, e))?.path();
        let name = format!(
            "{prefix}{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        if std::fs::metadata(&path)
            .map_err(|e| about(&path, e))?
            .is_dir()
        {
            walk(&path, &format!("{name}/"), files)?;
        } else {
            files.push((name, path));
        }
    }
    Ok(())
}

/// A deterministic zip of `files` (zip path, file), in their order.
fn zip_files(origin: &Path, files: &[(String, PathBuf)]) -> io::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for (name, path) in files {
        let data = std::fs::read(path).map_err(|e| about(path, e))?;
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(if is_executable(path) { 0o755 } else { 0o644 });
        zip.start_file(name.as_str(), options)
            .map_err(|e| about(path, e))?;
        zip.write_all(&data).map_err(|e| about(path, e))?;
    }
    Ok(zip.finish().map_err(|e| about(origin, e))?.into_inner())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// A Lambda function.
///
/// - `name`: its name, unique in the region (at most 64 letters, digits,
///   `-` and `_`); `None` (the default) derives one from the resource's name
///   and 8 hex digits that differ from create to create. Changing it
///   replaces the function.
/// - `code`: its [`Package`]; a package with another hash is uploaded in
///   place (UpdateFunctionCode).
/// - `runtime` (`python3.12`, `nodejs20.x`, ...), `handler`
///   (`main.handler`), `role` (the execution role's ARN, such as an
///   [`iam::Role`](super::super::iam::Role)'s `arn` output), `memory_size`
///   (MB, 128 to 10240; 0: 128), `timeout` (seconds, 1 to 900; 0: 3),
///   `description`: set in place (UpdateFunctionConfiguration).
/// - `environment`, `secret_environment`: its environment variables, the
///   second shown as `(secret)` in plans and sealed in the state; a name
///   may be in one of them only. Set in place.
/// - `tags`: the user's tags; set in place.
///
/// # Drift
/// `read` reports the configuration, environment, tags and code hash as
/// Lambda has them: code uploaded by hand reads as the same source with
/// another `sha256`.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:lambda:Function", outputs = FunctionOutputs)]
pub struct Function {
    /// Its name; `None` derives one. Changing it replaces the function.
    #[resource(force_new)]
    pub name: Option<String>,
    /// Its code.
    pub code: Package,
    /// The runtime (`python3.12`).
    pub runtime: String,
    /// The entry point (`main.handler`).
    pub handler: String,
    /// The execution role's ARN.
    pub role: Input<RoleArn>,
    /// Memory in MB (0: 128).
    pub memory_size: u32,
    /// The longest run, in seconds (0: 3).
    pub timeout: u32,
    /// Environment variables.
    pub environment: BTreeMap<String, Input<String>>,
    /// Environment variables whose values are secret.
    pub secret_environment: BTreeMap<String, Input<Secret<String>>>,
    /// Its description.
    pub description: String,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Function`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct FunctionOutputs {
    /// Its name (and id), for [`Version`](super::Version) and
    /// [`Alias`](super::Alias).
    pub name: FunctionName,
    /// Its ARN.
    pub arn: FunctionArn,
    /// The hash of its code as deployed (Lambda's `CodeSha256`).
    pub code_sha256: String,
}

/// Lambda's default memory size (MB) and timeout (seconds).
const DEFAULT_MEMORY: u32 = 128;
const DEFAULT_TIMEOUT: u32 = 3;

fn or_default(n: u32, default: u32) -> i32 {
    i32::try_from(if n == 0 { default } else { n }).unwrap_or(i32::MAX)
}

/// What AWS reports of `n` as the input that set it: a recorded 0 stays 0
/// when AWS has the default.
fn as_recorded(found: Option<i32>, recorded: u32, default: u32) -> u32 {
    match found.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n == default && recorded == 0 => 0,
        Some(n) => n,
        None => 0,
    }
}

/// The declared inputs Lambda takes, checked.
struct Declared {
    role: String,
    variables: HashMap<String, String>,
}

fn declared(s: &Subject<'_>, v: &Function) -> Result<Declared, AwsError> {
    check_name(s, "name", v.name.as_deref())?;
    tags::check_user_tags(s, &v.tags)?;
    for (what, value) in [("runtime", &v.runtime), ("handler", &v.handler)] {
        if value.is_empty() {
            return Err(s.invalid(format!("`{what}` must be set")));
        }
    }
    if v.code.sha256.is_empty() {
        return Err(
            s.invalid("`code` has no hash: make it with `Package::directory`, `file` or `zip`")
        );
    }
    let role = known(s, &v.role, "role")?.0.clone();
    if role.is_empty() {
        return Err(s.invalid("`role` must be set (the execution role's ARN)"));
    }
    if !(v.memory_size == 0 || (128..=10240).contains(&v.memory_size)) {
        return Err(s.invalid(format!(
            "`memory_size` {} is not between 128 and 10240 MB",
            v.memory_size
        )));
    }
    if v.timeout > 900 {
        return Err(s.invalid(format!(
            "`timeout` {} is longer than 900 seconds",
            v.timeout
        )));
    }
    let mut variables = HashMap::new();
    for (k, value) in &v.environment {
        variables.insert(k.clone(), known(s, value, "environment")?.clone());
    }
    for (k, value) in &v.secret_environment {
        let value = known(s, value, "secret_environment")?.expose().clone();
        if variables.insert(k.clone(), value).is_some() {
            return Err(s.invalid(format!(
                "{k:?} is in both `environment` and `secret_environment`"
            )));
        }
    }
    Ok(Declared { role, variables })
}

/// The declared zip, checked against the hash the program declared.
fn package(s: &Subject<'_>, v: &Function) -> Result<Vec<u8>, AwsError> {
    let zip = v
        .code
        .bytes()
        .map_err(|e| s.invalid(format!("`code` cannot be read: {e}")))?;
    if sha256(&zip) != v.code.sha256 {
        return Err(s.invalid(
            "`code` changed since the program declared it (its hash differs): run again",
        ));
    }
    Ok(zip)
}

type Found = aws_sdk_lambda::operation::get_function::GetFunctionOutput;

async fn by_name(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
    lookup::unless_not_found(
        s,
        "GetFunction",
        client.get_function().function_name(name).send().await,
    )
}

/// The function a create with `token` made under `name`, if any; an error
/// when a function of that name exists that it did not make.
async fn by_token(client: &Client, s: &Subject<'_>, name: &str, token: &str) -> Lookup<Found> {
    match by_name(client, s, name).await? {
        Some(f) if made_by(f.tags(), token) => Ok(Some(f)),
        Some(_) => Err(s.invalid(format!(
            "a Lambda function named {name:?} already exists and was not made by this \
             resource (choose another `name`, or import it)"
        ))),
        None => Ok(None),
    }
}

fn outputs(name: Option<&str>, arn: Option<&str>, sha: Option<&str>) -> FunctionOutputs {
    FunctionOutputs {
        name: FunctionName(name.unwrap_or_default().to_owned()),
        arn: FunctionArn(arn.unwrap_or_default().to_owned()),
        code_sha256: sha.unwrap_or_default().to_owned(),
    }
}

fn outputs_of(c: &Configuration) -> FunctionOutputs {
    outputs(c.function_name(), c.function_arn(), c.code_sha256())
}

/// What a read reports of function `f`, given the `recorded` inputs.
fn observed_as(f: &Found, recorded: &Function) -> kit::Found<Function, FunctionOutputs> {
    let empty = FunctionConfiguration::builder().build();
    let c = f.configuration().unwrap_or(&empty);
    let mut environment = BTreeMap::new();
    let mut secret_environment = BTreeMap::new();
    let variables = c.environment().and_then(|e| e.variables());
    for (k, value) in variables.into_iter().flatten() {
        if recorded.secret_environment.contains_key(k) {
            secret_environment.insert(k.clone(), Secret::new(value.clone()).into());
        } else {
            environment.insert(k.clone(), value.clone().into());
        }
    }
    let name = c.function_name().unwrap_or_default();
    let observed = Function {
        name: recorded.name.as_ref().map(|_| name.to_owned()),
        code: Package {
            source: recorded.code.source.clone(),
            sha256: c.code_sha256().unwrap_or_default().to_owned(),
        },
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        handler: c.handler().unwrap_or_default().to_owned(),
        role: RoleArn(c.role().unwrap_or_default().to_owned()).into(),
        memory_size: as_recorded(c.memory_size(), recorded.memory_size, DEFAULT_MEMORY),
        timeout: as_recorded(c.timeout(), recorded.timeout, DEFAULT_TIMEOUT),
        environment,
        secret_environment,
        description: c.description().unwrap_or_default().to_owned(),
        tags: user_tags(f.tags()),
    };
    lookup::observed(
        name,
        observed,
        outputs(Some(name), c.function_arn(), c.code_sha256()),
    )
}

/// Whether the configuration found differs from the declared one.
fn configuration_differs(found: &Function, v: &Function) -> bool {
    let plain = |f: &Function| {
        (
            f.runtime.clone(),
            f.handler.clone(),
            f.role.as_value().cloned(),
            or_default(f.memory_size, DEFAULT_MEMORY),
            or_default(f.timeout, DEFAULT_TIMEOUT),
            f.description.clone(),
        )
    };
    let variables = |f: &Function| {
        let plain = f
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.as_value().cloned()));
        let secret = f
            .secret_environment
            .iter()
            .map(|(k, v)| (k.clone(), v.as_value().map(|s| s.expose().clone())));
        plain.chain(secret).collect::<BTreeMap<_, _>>()
    };
    plain(found) != plain(v) || variables(found) != variables(v)
}

async fn delete_function(client: &Client, s: &Subject<'_>, name: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteFunction",
        client.delete_function().function_name(name).send().await,
    )
}

/// `$call` with the configuration a create and a configuration update both
/// send (runtime, handler, role, memory, timeout, description, variables).
/// A macro because the two calls have their own SDK builders.
macro_rules! configured {
    ($call:expr, $v:expr, $d:expr) => {
        $call
            .runtime(Runtime::from($v.runtime.as_str()))
            .handler(&$v.handler)
            .role(&$d.role)
            .memory_size(or_default($v.memory_size, DEFAULT_MEMORY))
            .timeout(or_default($v.timeout, DEFAULT_TIMEOUT))
            .description(&$v.description)
            .environment(
                Environment::builder()
                    .set_variables(Some($d.variables))
                    .build(),
            )
    };
}

/// Serves [`Function`].
pub(crate) struct FunctionHandler;

#[async_trait]
impl ResourceHandler for FunctionHandler {
    type Resource = Function;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        fixed_name_conflict(req, "function", "function names are unique in a region")
    }

    /// A create or update uploads the package and waits until the function
    /// is ready.
    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        match call {
            CallKind::Delete => Some(Duration::from_secs(1)),
            _ => Some(Duration::from_secs(5)),
        }
    }

    async fn create(&self, p: &Aws, req: Create<Function>) -> CreateResult<Function> {
        let s = Subject::of::<Function>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let name = function_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.lambda_client().await;
        if by_token(client, &s, &name, &req.token).await?.is_none() {
            let made = configured!(client.create_function(), v, d)
                .function_name(&name)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(package(&s, v)?))
                        .build(),
                )
                .set_tags(Some(tags_on_create(
                    &req.stack, &req.name, &req.token, &v.tags,
                )))
                .send()
                .await
                .map_err(|e| s.error("CreateFunction", e));
            match made {
                // A create racing its own retry: the retry's lookup adopts it.
                Err(e) if is_conflict(&e) => return Err(ProviderError::retryable(e.to_string())),
                other => other.map_err(provider_error)?,
            };
        }
        let ready = wait_ready(p, client, &s, &name).await?;
        Ok(Made {
            id: name,
            outputs: outputs_of(&ready),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Function>) -> ReadResult<Function> {
        let s = Subject::of::<Function>(&req.name);
        let client = p.lambda_client().await;
        let recorded = req.recorded.decode_or_default();
        let found = lookup::find(
            &req,
            |name| by_name(client, &s, name),
            |token| {
                let name = function_name(recorded.name.as_deref(), &req.name, token);
                async move { by_token(client, &s, &name, token).await }
            },
        )
        .await?;
        Ok(found.map(|f| observed_as(&f, &recorded)))
    }

    async fn update(&self, p: &Aws, req: Update<Function>) -> UpdateResult<Function> {
        let s = Subject::of::<Function>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let client = p.lambda_client().await;
        let name = req.id.as_str();
        let f = by_name(client, &s, name)
            .await?
            .ok_or_else(|| s.gone(name))?;
        let found = observed_as(&f, v);
        let arn = found.outputs.arn.0.clone();
        let found = found.inputs;
        if configuration_differs(&found, v) {
            configured!(client.update_function_configuration(), v, d)
                .function_name(name)
                .send()
                .await
                .map_err(|e| provider_error(s.error("UpdateFunctionConfiguration", e)))?;
            wait_ready(p, client, &s, name).await?;
        }
        if found.code.sha256 != v.code.sha256 {
            client
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(package(&s, v)?))
                .send()
                .await
                .map_err(|e| provider_error(s.error("UpdateFunctionCode", e)))?;
        }
        tags::tag_resource(
            &s,
            (&found.tags, &v.tags),
            |k, v| Ok((k.to_owned(), v.to_owned())),
            |set| {
                let set = set.into_iter().collect();
                client
                    .tag_resource()
                    .resource(&arn)
                    .set_tags(Some(set))
                    .send()
            },
            |keys| {
                client
                    .untag_resource()
                    .resource(&arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
        )
        .await?;
        Ok(outputs_of(&wait_ready(p, client, &s, name).await?))
    }

    deletes_by!(Function, lambda_client, delete_function);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        dir
    }

    #[test]
    fn a_directory_zips_the_same_every_time_and_its_hash_follows_its_files() {
        let a = dir_with(&[
            ("main.py", "def handler(e, c): return 1\n"),
            ("lib/x.py", ""),
        ]);
        let first = Package::directory(a.path()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        // Touched, same content: same zip.
        std::fs::write(a.path().join("lib/x.py"), "").unwrap();
        assert_eq!(Package::directory(a.path()).unwrap(), first);
        assert_eq!(first.sha256, sha256(&first.bytes().unwrap()));
        assert_eq!(first.sha256.len(), 44, "base64 of 32 bytes");
        std::fs::write(a.path().join("main.py"), "def handler(e, c): return 2\n").unwrap();
        assert_ne!(Package::directory(a.path()).unwrap().sha256, first.sha256);
        let zip = first.bytes().unwrap();
        let names = zip::ZipArchive::new(io::Cursor::new(zip))
            .unwrap()
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(names, ["lib/x.py", "main.py"].map(str::to_owned).into());
    }

    #[test]
    fn unreadable_sources_are_errors_naming_the_path() {
        let e = Package::directory("/no/such/dir").unwrap_err().to_string();
        assert!(e.contains("/no/such/dir"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = Package::directory(empty.path()).unwrap_err().to_string();
        assert!(e.contains("holds no files"), "{e}");
    }

    #[test]
    fn inputs_are_checked_before_any_call() {
        let s = Subject::of::<Function>("api");
        let dir = dir_with(&[("main.py", "")]);
        let v = Function {
            code: Package::directory(dir.path()).unwrap(),
            runtime: "python3.12".into(),
            handler: "main.handler".into(),
            role: RoleArn::from("arn:aws:iam::123456789012:role/r").into(),
            environment: [("A".to_string(), "1".into())].into(),
            ..Default::default()
        };
        assert!(declared(&s, &v).is_ok());
        let both = Function {
            secret_environment: [("A".to_string(), Secret::new("2".to_string()).into())].into(),
            ..v.clone()
        };
        let e = declared(&s, &both).err().unwrap().to_string();
        assert!(e.contains("\"A\" is in both"), "{e}");
        let e = declared(
            &s,
            &Function {
                memory_size: 64,
                ..v.clone()
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("memory_size"), "{e}");
        std::fs::write(dir.path().join("main.py"), "changed").unwrap();
        let e = package(&s, &v).unwrap_err().to_string();
        assert!(e.contains("changed since the program declared it"), "{e}");
    }

    #[test]
    fn only_the_name_replaces_the_function() {
        assert_eq!(Function::force_new_fields(), &["name"]);
    }
}
