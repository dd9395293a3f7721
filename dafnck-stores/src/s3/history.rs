//! State versions (`versions/<n>/state.json`, then `versions/<n>/info.json`:
//! a version exists once its entry does) and rollout commands
//! (`controls/<resource>/<sent at>-<written at>-<id>.json`).

use dafnck_core::state::envelope::{self, Unit};
use dafnck_core::state::{new_id, Message, State, StateError, VersionInfo};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::layout::Keys;
use super::objects::{Bucket, Deleted, PARALLEL_GETS};
use super::BACKEND;

fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend {
        backend: BACKEND.into(),
        message: format!("cannot serialize {what}: {e}"),
    })
}

pub(super) async fn save_version(
    bucket: &Bucket,
    keys: &Keys,
    stack: &str,
    info: &VersionInfo,
    state: &State,
) -> Result<(), StateError> {
    let info_body = envelope::encode(Unit::Version, &encode("a version's entry", info)?);
    let state_body = envelope::encode_state(state, false, BACKEND)?;
    let (info_key, state_key) = (
        keys.version_info(info.version),
        keys.version_state(info.version),
    );
    let taken = || StateError::Backend {
        backend: BACKEND.into(),
        message: format!(
            "{}: stack {stack:?} already has version {}",
            bucket.describe, info.version
        ),
    };
    // A version whose entry is there is never touched; it may be this very
    // version, saved by a first try whose answer was lost.
    let same = || async {
        let info = bucket.get(&info_key).await?;
        let state = bucket.get(&state_key).await?;
        Ok::<_, StateError>(
            info.is_some_and(|o| o.bytes == info_body)
                && state.is_some_and(|o| o.bytes == state_body),
        )
    };
    if bucket.get(&info_key).await?.is_some() {
        return if same().await? { Ok(()) } else { Err(taken()) };
    }
    if bucket
        .create(&state_key, state_body.clone())
        .await?
        .is_none()
    {
        // A state without an entry: left by a save that died before writing
        // the entry, so not a version. Replace it, if it is not changing.
        let Some(left) = bucket.get(&state_key).await? else {
            return Err(taken());
        };
        if left.bytes != state_body
            && bucket
                .replace(&state_key, &left.etag, state_body.clone())
                .await?
                .is_none()
        {
            return Err(taken());
        }
    }
    if bucket.create(&info_key, info_body.clone()).await?.is_some() {
        return Ok(());
    }
    if same().await? {
        Ok(())
    } else {
        Err(taken())
    }
}

pub(super) async fn versions(bucket: &Bucket, keys: &Keys) -> Result<Vec<VersionInfo>, StateError> {
    let entries: Vec<(u64, String)> = bucket
        .list(&keys.versions_dir())
        .await?
        .into_iter()
        .filter_map(|key| keys.info_version(&key).map(|v| (v, key)))
        .collect();
    let infos: Vec<Option<VersionInfo>> = stream::iter(entries)
        .map(|(version, key)| async move {
            let Some(object) = bucket.get(&key).await? else {
                return Ok(None);
            };
            let info: VersionInfo = envelope::decode_json(
                Unit::Version,
                &object.bytes,
                &bucket.location(&key),
                "the version's entry",
            )?;
            if info.version != version {
                return Err(StateError::Corrupt {
                    location: bucket.location(&key),
                    message: format!("the entry of version {version} says {}", info.version),
                });
            }
            Ok(Some(info))
        })
        .buffered(PARALLEL_GETS)
        .try_collect()
        .await?;
    Ok(infos.into_iter().flatten().collect())
}

pub(super) async fn read_version(
    bucket: &Bucket,
    keys: &Keys,
    version: u64,
) -> Result<Option<State>, StateError> {
    if bucket.get(&keys.version_info(version)).await?.is_none() {
        return Ok(None);
    }
    let key = keys.version_state(version);
    let Some(object) = bucket.get(&key).await? else {
        return Err(StateError::Corrupt {
            location: bucket.location(&key),
            message: format!("version {version} has an entry but no state"),
        });
    };
    envelope::decode_state(&object.bytes, &bucket.location(&key)).map(Some)
}

pub(super) async fn send_control(
    bucket: &Bucket,
    keys: &Keys,
    message: &Message,
) -> Result<(), StateError> {
    let body = encode("a control message", message)?;
    let written = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = keys.control(&message.topic, message.at, written, &new_id());
    // The key is new (a random id): a refusal can only be a first try that
    // wrote it and whose answer was lost.
    bucket.create(&key, body).await?;
    Ok(())
}

pub(super) async fn take_controls(
    bucket: &Bucket,
    keys: &Keys,
    topic: &str,
) -> Result<Vec<Message>, StateError> {
    let mut taken = Vec::new();
    for key in bucket.list(&keys.controls_dir(topic)).await? {
        let Some(object) = bucket.get(&key).await? else {
            continue;
        };
        let message: Message =
            serde_json::from_slice(&object.bytes).map_err(|e| StateError::Corrupt {
                location: bucket.location(&key),
                message: format!("not a control message: {e}"),
            })?;
        // Deleting on the ETag read: a command another reader took first
        // is gone and not taken twice (and one whose delete answer was lost
        // and retried is dropped: at most once).
        if bucket.delete_if(&key, &object.etag).await? == Deleted::Now {
            taken.push(message);
        }
    }
    Ok(taken)
}
