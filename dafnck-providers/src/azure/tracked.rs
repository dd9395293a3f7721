//! One handler for every ARM type: [`ArmType`] says how a type maps to
//! its ARM id and body, [`Handler`] does the create-or-update, the crash
//! adoption by the `dafnck:token` tag, reads, updates and deletes.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use async_trait::async_trait;
use dafnck_core::prelude::Resource;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, OutputsOf, Read, ReadResult, ResourceHandler,
    Update, UpdateResult,
};
use dafnck_core::ProviderError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value as Json};

use super::arm::Subject;
use super::{Azure, TOKEN_TAG};

/// How one resource type maps to ARM.
#[async_trait]
pub(crate) trait ArmType:
    Resource<Outputs: Serialize + DeserializeOwned + Send + Sync>
    + dafnck_core::Declare
    + DeserializeOwned
    + Clone
    + Default
    + Send
    + Sync
    + 'static
{
    /// The api-version of its calls.
    const API_VERSION: &'static str;
    /// Whether ARM keeps tags on it (subnets: no).
    const TAGGED: bool = true;

    /// Checks what ARM would refuse with a less clear message.
    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        let _ = who;
        Ok(())
    }

    /// Its ARM resource id.
    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError>;

    /// The user's tags.
    fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Its PUT body, tags apart; `existing` is the object as ARM has it, if
    /// it exists (to keep what another resource manages, as a virtual
    /// network's subnets).
    fn body(&self, who: Subject<'_>, existing: Option<&Json>) -> Result<Json, ProviderError>;

    /// The inputs `found` describes, given what was `declared` (for what
    /// ARM does not echo, as passwords).
    fn observed(found: &Json, declared: &Self) -> Self;

    /// Its outputs.
    fn outputs(found: &Json) -> OutputsOf<Self>;

    /// Sends the PUT and waits for it (the default: ARM REST; compute
    /// types: `azure_mgmt_compute`'s client).
    async fn write(
        cx: &Azure,
        who: Subject<'_>,
        id: &str,
        body: &Json,
    ) -> Result<Json, ProviderError> {
        cx.arm().await?.put(who, id, Self::API_VERSION, body).await
    }

    /// Whether an untagged object found at the id of a create is a crashed
    /// create of this provider's (only for `TAGGED = false`).
    async fn ours_untagged(cx: &Azure, who: Subject<'_>, id: &str) -> Result<bool, ProviderError> {
        let _ = (cx, who, id);
        Ok(false)
    }

    /// Runs before the DELETE (a resource group: refuses unless empty).
    async fn before_delete(cx: &Azure, who: Subject<'_>, id: &str) -> Result<(), ProviderError> {
        let _ = (cx, who, id);
        Ok(())
    }
}

/// The handler of ARM type `T`.
pub(crate) struct Handler<T>(PhantomData<fn() -> T>);

impl<T> Handler<T> {
    pub(crate) fn new() -> Self {
        Handler(PhantomData)
    }
}

/// The token tag of `found`, if any.
fn token_of(found: &Json) -> Option<&str> {
    found["tags"][TOKEN_TAG].as_str()
}

/// `body` with the user's tags and the token tag.
fn tagged(mut body: Json, tags: BTreeMap<String, String>, token: &str) -> Json {
    let mut all = serde_json::Map::new();
    for (k, v) in tags {
        all.insert(k, json!(v));
    }
    all.insert(TOKEN_TAG.into(), json!(token));
    body["tags"] = Json::Object(all);
    body
}

impl<T: ArmType> Handler<T> {
    /// Whether `found` (at `id`) is the object of the create with `token`.
    async fn ours(
        cx: &Azure,
        who: Subject<'_>,
        id: &str,
        found: &Json,
        token: &str,
    ) -> Result<bool, ProviderError> {
        if T::TAGGED {
            Ok(token_of(found) == Some(token))
        } else {
            T::ours_untagged(cx, who, id).await
        }
    }

    async fn put(
        &self,
        cx: &Azure,
        who: Subject<'_>,
        inputs: &T,
        id: &str,
        existing: Option<&Json>,
        token: Option<&str>,
    ) -> Result<Json, ProviderError> {
        let body = inputs.body(who, existing)?;
        let body = match (T::TAGGED, token) {
            (true, Some(token)) => tagged(body, inputs.tags(), token),
            (true, None) => {
                let mut b = body;
                b["tags"] = json!(inputs.tags());
                b
            }
            (false, _) => body,
        };
        T::write(cx, who, id, &body).await
    }
}

#[async_trait]
impl<T: ArmType> ResourceHandler for Handler<T> {
    type Resource = T;
    type Context = Azure;

    async fn create(&self, cx: &Azure, req: Create<T>) -> CreateResult<T> {
        let who = Subject {
            ty: T::TYPE,
            name: &req.name,
        };
        req.inputs.check(who)?;
        if req.inputs.tags().contains_key(TOKEN_TAG) {
            return Err(who.error(format!("the tag {TOKEN_TAG:?} is the provider's")));
        }
        let id = req.inputs.arm_id(cx, who)?;
        let arm = cx.arm().await?;
        let existing = arm.get(who, &id, T::API_VERSION).await?;
        if let Some(found) = &existing {
            if !Self::ours(cx, who, &id, found, &req.token).await? {
                return Err(who.error(format!(
                    "{id} already exists and was not made by this resource (it has no {TOKEN_TAG:?} \
                     tag with this create's token): pick another name, or import it"
                )));
            }
        }
        let found = self
            .put(
                cx,
                who,
                &req.inputs,
                &id,
                existing.as_ref(),
                Some(&req.token),
            )
            .await?;
        Ok(Made {
            id,
            outputs: T::outputs(&found),
        })
    }

    async fn read(&self, cx: &Azure, req: Read<T>) -> ReadResult<T> {
        let who = Subject {
            ty: T::TYPE,
            name: &req.name,
        };
        let arm = cx.arm().await?;
        let declared = req.recorded.decode_or_default();
        let (id, found) = match (&req.id, &req.token) {
            (Some(id), _) => (id.clone(), arm.get(who, id, T::API_VERSION).await?),
            (None, Some(token)) => {
                // A create that crashed: found by name, and its token.
                let Ok(id) = declared.arm_id(cx, who) else {
                    return Ok(None);
                };
                let found = arm.get(who, &id, T::API_VERSION).await?;
                match found {
                    Some(f) if Self::ours(cx, who, &id, &f, token).await? => (id, Some(f)),
                    _ => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        Ok(found.map(|f| Found {
            id,
            inputs: T::observed(&f, &declared),
            outputs: T::outputs(&f),
        }))
    }

    async fn update(&self, cx: &Azure, req: Update<T>) -> UpdateResult<T> {
        let who = Subject {
            ty: T::TYPE,
            name: &req.name,
        };
        req.inputs.check(who)?;
        let arm = cx.arm().await?;
        let existing = arm.get(who, &req.id, T::API_VERSION).await?;
        let Some(existing) = existing else {
            return Err(who.error(format!("{} is gone: refresh to recreate it", req.id)));
        };
        let token = token_of(&existing).map(str::to_owned);
        let found = self
            .put(
                cx,
                who,
                &req.inputs,
                &req.id,
                Some(&existing),
                token.as_deref(),
            )
            .await?;
        Ok(T::outputs(&found))
    }

    async fn delete(&self, cx: &Azure, req: Delete<T>) -> Result<(), ProviderError> {
        let who = Subject {
            ty: T::TYPE,
            name: &req.name,
        };
        T::before_delete(cx, who, &req.id).await?;
        cx.arm().await?.delete(who, &req.id, T::API_VERSION).await
    }
}
