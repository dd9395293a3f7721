//! Shared Key authorization: every request signed with the storage
//! account's key (`Authorization: SharedKey ACCOUNT:SIGNATURE`), as the
//! Blob service's REST reference specifies. `azure_storage_blob` 1.x signs
//! only with Entra ID tokens or takes SAS URLs, so this policy, added to
//! its pipeline, signs with the key; and where the key comes from.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::Secret;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{ClientOptions, Context, Request, Transport, Url};
use azure_core::time::{to_rfc7231, OffsetDateTime};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use dafnck_core::state::StateError;

use super::BACKEND;

/// An account's name and key, and the Blob endpoint it is reached at.
#[derive(Clone)]
pub struct AccountKey {
    pub(super) account: String,
    pub(super) key: Secret,
    /// `https://ACCOUNT.blob.core.windows.net`, or an emulator's URL.
    pub(super) endpoint: String,
}

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("account", &self.account)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn bad(message: String) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message,
    }
}

impl AccountKey {
    /// `account`'s `key` (base64, as the portal shows it), at `endpoint`
    /// (`None`: Azure's public cloud).
    ///
    /// # Errors
    /// [`StateError::Backend`] when the key is not base64.
    pub fn new(account: &str, key: &str, endpoint: Option<&str>) -> Result<AccountKey, StateError> {
        if azure_core::base64::decode(key.trim()).is_err() {
            return Err(bad(format!(
                "the key of storage account {account:?} is not base64 (copy key1 or key2 from the account's access keys)"
            )));
        }
        Ok(AccountKey {
            account: account.to_owned(),
            key: Secret::new(key.trim().to_owned()),
            endpoint: endpoint.map_or_else(
                || format!("https://{account}.blob.core.windows.net"),
                |e| e.trim_end_matches('/').to_owned(),
            ),
        })
    }

    /// The key of `account` from the environment:
    /// `AZURE_STORAGE_CONNECTION_STRING` (its `AccountName` must be
    /// `account`; its `BlobEndpoint`, or `DefaultEndpointsProtocol` and
    /// `EndpointSuffix`, say where), else `AZURE_STORAGE_KEY` (with
    /// `AZURE_STORAGE_ACCOUNT`, if set, naming `account`).
    /// `DAFNCK_AZBLOB_ENDPOINT` overrides the endpoint of either.
    ///
    /// # Errors
    /// [`StateError::Backend`] when neither is set, or they name another
    /// account, or the key is not base64.
    pub fn from_env(account: &str) -> Result<AccountKey, StateError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = var("DAFNCK_AZBLOB_ENDPOINT");
        if let Some(conn) = var("AZURE_STORAGE_CONNECTION_STRING") {
            let mut key = AccountKey::from_connection_string(&conn)?;
            if key.account != account {
                return Err(bad(format!(
                    "AZURE_STORAGE_CONNECTION_STRING is for storage account {:?}, not {account:?} of the URL",
                    key.account
                )));
            }
            if let Some(e) = endpoint {
                key.endpoint = e.trim_end_matches('/').to_owned();
            }
            return Ok(key);
        }
        if let Some(named) = var("AZURE_STORAGE_ACCOUNT") {
            if named != account {
                return Err(bad(format!(
                    "AZURE_STORAGE_ACCOUNT is {named:?}, not {account:?} of the URL"
                )));
            }
        }
        let Some(key) = var("AZURE_STORAGE_KEY") else {
            return Err(bad(format!(
                "no key for storage account {account:?}: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_KEY (Entra ID sign-in is not supported yet)"
            )));
        };
        AccountKey::new(account, &key, endpoint.as_deref())
    }

    /// Reads a connection string (`AccountName=..;AccountKey=..;...`, as
    /// the portal shows it; `UseDevelopmentStorage=true` for Azurite on
    /// its default port).
    ///
    /// # Errors
    /// [`StateError::Backend`] when it lacks the account or the key.
    pub fn from_connection_string(conn: &str) -> Result<AccountKey, StateError> {
        let mut fields = std::collections::HashMap::new();
        for part in conn.split(';').filter(|p| !p.trim().is_empty()) {
            // Keys are base64 and end in `=`: split at the first `=` only.
            let Some((name, value)) = part.split_once('=') else {
                return Err(bad(format!(
                    "the connection string has a part without `=` ({:?})",
                    part.chars().take(20).collect::<String>()
                )));
            };
            fields.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
        if fields.get("usedevelopmentstorage").map(String::as_str) == Some("true") {
            return AccountKey::new(
                AZURITE_ACCOUNT,
                AZURITE_KEY,
                Some(&format!("http://127.0.0.1:10000/{AZURITE_ACCOUNT}")),
            );
        }
        let (Some(account), Some(key)) = (fields.get("accountname"), fields.get("accountkey"))
        else {
            return Err(bad(
                "the connection string lacks AccountName or AccountKey (SAS connection strings are not supported)".into(),
            ));
        };
        let endpoint = fields.get("blobendpoint").cloned().or_else(|| {
            let protocol = fields
                .get("defaultendpointsprotocol")
                .map_or("https", String::as_str);
            let suffix = fields
                .get("endpointsuffix")
                .map_or("core.windows.net", String::as_str);
            Some(format!("{protocol}://{account}.blob.{suffix}"))
        });
        AccountKey::new(account, key, endpoint.as_deref())
    }

    /// The storage account's name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The Blob endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client of `container` whose requests this key signs (Shared Key),
    /// each try of a request given `timeout`: what the store is made of,
    /// and for what it does not do (creating the container, say).
    ///
    /// # Errors
    /// [`StateError::Backend`] when the endpoint is not a URL.
    pub fn container_client(
        &self,
        container: &str,
        timeout: Duration,
    ) -> Result<BlobContainerClient, StateError> {
        let url = Url::parse(&format!("{}/{container}", self.endpoint)).map_err(|e| {
            bad(format!(
                "the endpoint {:?} is not a URL: {e}",
                self.endpoint
            ))
        })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| bad(format!("cannot make an HTTP client: {e}")))?;
        let options = BlobContainerClientOptions {
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(http))),
                per_try_policies: vec![SharedKeyPolicy::for_key(self)],
                ..Default::default()
            },
            ..Default::default()
        };
        BlobContainerClient::new(url, None, Some(options)).map_err(|e| {
            bad(format!(
                "cannot make the Blob client for {container:?}: {e}"
            ))
        })
    }
}

/// Azurite's one account, as its documentation publishes it.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known key (the same in every installation).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The pipeline policy that signs each try of a request with the key.
#[derive(Debug)]
pub(super) struct SharedKeyPolicy {
    pub(super) account: String,
    pub(super) key: Secret,
}

impl SharedKeyPolicy {
    pub(super) fn for_key(key: &AccountKey) -> Arc<dyn Policy> {
        Arc::new(SharedKeyPolicy {
            account: key.account.clone(),
            key: key.key.clone(),
        })
    }
}

/// The standard headers signed, in the order the string to sign has them.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// The string a request's signature is made of (Shared Key for the Blob
/// service, versions 2009-09-19 and later).
fn string_to_sign(request: &Request, account: &str) -> String {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.as_str().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let mut out = format!("{}\n", request.method().as_ref().to_ascii_uppercase());
    for name in SIGNED_HEADERS {
        let value = if name == "content-length" {
            // The transport sets it from the body; empty when zero.
            match request.body().len() {
                Some(0) => String::new(),
                Some(n) => n.to_string(),
                None => header(name),
            }
        } else {
            header(name)
        };
        out.push_str(&value);
        out.push('\n');
    }
    let mut ms: Vec<&(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("x-ms-"))
        .collect();
    ms.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in ms {
        out.push_str(&format!("{name}:{}\n", value.trim()));
    }
    out.push_str(&format!("/{account}{}", request.url().path()));
    let mut query: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in request.url().query_pairs() {
        query
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in query {
        values.sort();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        request.insert_header("x-ms-date", to_rfc7231(&OffsetDateTime::now_utc()));
        let signature =
            azure_core::hmac::hmac_sha256(&string_to_sign(request, &self.account), &self.key)?;
        request.insert_header(
            "authorization",
            format!("SharedKey {}:{signature}", self.account),
        );
        next[0].send(ctx, request, &next[1..]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{Method, Url};

    #[test]
    fn the_string_to_sign_has_the_documented_shape() {
        let url = Url::parse(
            "http://127.0.0.1:10000/acct/state/p%2Fdev%2Flock.json?comp=lease&timeout=20",
        )
        .unwrap();
        let mut request = Request::new(url, Method::Put);
        request.insert_header("x-ms-version", "2026-04-06");
        request.insert_header("x-ms-lease-action", "acquire");
        request.insert_header("if-match", "\"0x1\"");
        let s = string_to_sign(&request, "acct");
        assert_eq!(
            s,
            "PUT\n\n\n\n\n\n\n\n\"0x1\"\n\n\n\nx-ms-lease-action:acquire\nx-ms-version:2026-04-06\n/acct/acct/state/p%2Fdev%2Flock.json\ncomp:lease\ntimeout:20"
        );
    }

    #[test]
    fn connection_strings_name_the_account_key_and_endpoint() {
        let k = AccountKey::from_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=team;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        assert_eq!(
            (k.account.as_str(), k.endpoint.as_str()),
            ("team", "https://team.blob.core.windows.net")
        );
        let k = AccountKey::from_connection_string(
            "AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1/;",
        )
        .unwrap();
        assert_eq!(k.endpoint, "http://127.0.0.1:1/devstoreaccount1");
        assert_eq!(
            AccountKey::from_connection_string("UseDevelopmentStorage=true")
                .unwrap()
                .account,
            AZURITE_ACCOUNT
        );
        for (conn, why) in [
            ("AccountName=x", "lacks AccountName or AccountKey"),
            (
                "SharedAccessSignature=sv=1",
                "lacks AccountName or AccountKey",
            ),
            ("AccountName=x;AccountKey=not base64!", "is not base64"),
            ("garbage", "without `=`"),
        ] {
            let e = AccountKey::from_connection_string(conn)
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{conn}: {e}");
        }
    }
}
