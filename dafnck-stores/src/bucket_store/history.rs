//! State versions (`versions/<n>/state.json`, then `versions/<n>/info.json`:
//! a version exists once its entry does) and rollout commands
//! (`controls/<resource>/<sent at>-<written at>-<id>.json`).

use dafnck_core::state::envelope::{self, Unit};
use dafnck_core::state::{new_id, Message, State, StateError, VersionInfo};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::layout::Keys;
use super::{Deleted, Objects, PARALLEL_GETS};

fn encode<T: serde::Serialize>(
    bucket: &dyn Objects,
    what: &str,
    value: &T,
) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend {
        backend: bucket.backend().into(),
        message: format!("cannot serialize {what}: {e}"),
    })
}

pub(crate) async fn save_version(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    info: &VersionInfo,
    state: &State,
) -> Result<(), StateError> {
    let info_body = envelope::encode(Unit::Version, &encode(bucket, "a version's entry", info)?);
    let state_body = envelope::encode_state(state, false, bucket.backend())?;
    let (info_key, state_key) = (
        keys.version_info(info.version),
        keys.version_state(info.version),
    );
    let taken = || StateError::Backend {
        backend: bucket.backend().into(),
        message: format!(
            "{}: stack {stack:?} already has version {}",
            bucket.describe(),
            info.version
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
                .replace(&state_key, &left.version, state_body.clone())
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

pub(crate) async fn versions(
    bucket: &dyn Objects,
    keys: &Keys,
) -> Result<Vec<VersionInfo>, StateError> {
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

pub(crate) async fn read_version(
    bucket: &dyn Objects,
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

/// Drops the listed versions but the newest: each entry first (the
/// version is gone once its entry is), then the states.
pub(crate) async fn drop_versions(
    bucket: &dyn Objects,
    keys: &Keys,
    drop: &[u64],
) -> Result<(), StateError> {
    let drop = dafnck_core::state::droppable(&versions(bucket, keys).await?, drop);
    if drop.is_empty() {
        return Ok(());
    }
    let entries: Vec<String> = drop.iter().map(|v| keys.version_info(*v)).collect();
    bucket.delete_all(&entries).await?;
    let states: Vec<String> = drop.iter().map(|v| keys.version_state(*v)).collect();
    bucket.delete_all(&states).await
}

pub(crate) async fn send_control(
    bucket: &dyn Objects,
    keys: &Keys,
    message: &Message,
) -> Result<(), StateError> {
    let body = encode(bucket, "a control message", message)?;
    let written = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = keys.control(&message.topic, message.at, written, &new_id());
    // The key is new (a random id): a refusal can only be a first try that
    // wrote it and whose answer was lost.
    bucket.create(&key, body).await?;
    Ok(())
}

pub(crate) async fn take_controls(
    bucket: &dyn Objects,
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
        // Deleting on the version read: a command another reader took first
        // is gone and not taken twice (and one whose delete answer was lost
        // and retried is dropped: at most once).
        if bucket.delete_if(&key, &object.version).await? == Deleted::Now {
            taken.push(message);
        }
    }
    Ok(taken)
}
