//! The snapshot and the journal: `snapshot.json`, and one object per
//! appended batch, `journal/<first record number, 20 digits>.jsonl`, one
//! record a line; both units of the [`envelope`] format (a header line with
//! the format, a checksum and the length; objects of format 1, without it,
//! are still read).

use dafnck_core::state::envelope::{self, Unit};
use dafnck_core::state::{Record, State, StateError, Stored};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::layout::Keys;
use super::{Object, Objects, PARALLEL_GETS};

/// How often a read starts over when a compaction deleted batches it had
/// listed.
const READ_TRIES: usize = 5;

/// A batch as read: its key, and its records in order.
struct Batch {
    key: String,
    records: Vec<Record>,
}

pub(crate) async fn read(bucket: &dyn Objects, keys: &Keys) -> Result<Stored, StateError> {
    // The journal is listed before the snapshot is read: a compaction in
    // between leaves a newer snapshot and batches it covers (skipped), never
    // an older snapshot with the batches after it deleted.
    for _ in 0..READ_TRIES {
        let listed = batches(bucket, keys).await?;
        let snapshot = match bucket.get(&keys.snapshot()).await? {
            Some(object) => Some(parse_snapshot(bucket, &keys.snapshot(), &object.bytes)?),
            None => None,
        };
        let serial = snapshot.as_ref().map_or(0, |s| s.serial);
        // A batch ends where the next begins: skip those the snapshot covers
        // without fetching them.
        let needed: Vec<(u64, String)> = listed
            .iter()
            .enumerate()
            .filter(|(i, _)| match listed.get(i + 1) {
                Some((next, _)) => *next > serial.saturating_add(1),
                None => true,
            })
            .map(|(_, batch)| batch.clone())
            .collect();
        let Some(fetched) = fetch(bucket, &needed).await? else {
            // A compaction deleted a listed batch: start over.
            continue;
        };
        let mut journal: Vec<Record> = Vec::new();
        for batch in fetched {
            if let (Some(last), Some(first)) = (journal.last(), batch.records.first()) {
                if first.seq != last.seq + 1 {
                    return Err(StateError::Corrupt {
                        location: bucket.location(&batch.key),
                        message: format!(
                            "the batch starts at record {} but the one before it ends at {}",
                            first.seq, last.seq
                        ),
                    });
                }
            }
            journal.extend(batch.records);
        }
        journal.retain(|r| r.seq > serial);
        return Ok(Stored { snapshot, journal });
    }
    Err(StateError::Backend {
        backend: bucket.backend().into(),
        message: format!(
            "{}: the journal changed under {READ_TRIES} reads in a row (compactions deleting what was listed); try again",
            bucket.describe()
        ),
    })
}

pub(crate) async fn append(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    records: &[Record],
) -> Result<(), StateError> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    for pair in records.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            return Err(StateError::Backend {
                backend: bucket.backend().into(),
                message: format!(
                    "{}: journal records {} and {} of stack {stack:?} do not follow each other (nothing was appended)",
                    bucket.describe(), pair[0].seq, pair[1].seq
                ),
            });
        }
    }
    let mut body = Vec::new();
    for record in records {
        let json = serde_json::to_vec(record).map_err(|e| StateError::Backend {
            backend: bucket.backend().into(),
            message: format!("cannot serialize journal record {}: {e}", record.seq),
        })?;
        body.extend_from_slice(&json);
        body.push(b'\n');
    }
    let body = envelope::encode(Unit::Journal, &body);
    let key = keys.batch(first.seq);
    if bucket.create(&key, body.clone()).await?.is_some() {
        return Ok(());
    }
    // The key is taken. The SDK retries a request whose answer was lost, so
    // it may be this very batch, written by the first try.
    match bucket.get(&key).await? {
        Some(object) if object.bytes == body => Ok(()),
        _ => Err(StateError::Backend {
            backend: bucket.backend().into(),
            message: format!(
                "{}: stack {stack:?} already has a journal record numbered {} ({}); another run wrote this stack (nothing was appended)",
                bucket.describe(), first.seq, bucket.object_url(&key)
            ),
        }),
    }
}

pub(crate) async fn compact(
    bucket: &dyn Objects,
    keys: &Keys,
    stack: &str,
    snapshot: &State,
) -> Result<(), StateError> {
    let body = envelope::encode_state(snapshot, false, bucket.backend())?;
    let serial = snapshot.serial;
    // Check before writing: what cannot be parsed is never overwritten or
    // deleted.
    let key = keys.snapshot();
    let old = bucket.get(&key).await?;
    if let Some(old) = &old {
        parse_snapshot(bucket, &key, &old.bytes)?;
    }
    let listed = batches(bucket, keys).await?;
    let candidates: Vec<(u64, String)> = listed
        .into_iter()
        .filter(|(first, _)| *first <= serial)
        .collect();
    let covered: Vec<String> = match fetch(bucket, &candidates).await? {
        Some(batches) => batches
            .into_iter()
            .filter(|b| b.records.last().is_some_and(|r| r.seq <= serial))
            .map(|b| b.key)
            .collect(),
        None => {
            return Err(changed_under(bucket, stack));
        }
    };
    let written = match &old {
        Some(old) => bucket.replace(&key, &old.version, body.clone()).await?,
        None => bucket.create(&key, body.clone()).await?,
    };
    if written.is_none() {
        // Either a retried first try that did write, or another writer.
        match bucket.get(&key).await? {
            Some(object) if object.bytes == body => {}
            _ => return Err(changed_under(bucket, stack)),
        }
    }
    // A crash here leaves batches the new snapshot covers; reads skip them
    // and the next compaction deletes them.
    bucket.delete_all(&covered).await
}

fn changed_under(bucket: &dyn Objects, stack: &str) -> StateError {
    StateError::Backend {
        backend: bucket.backend().into(),
        message: format!(
            "{}: the state of stack {stack:?} changed while it was being compacted; another run wrote it (the compaction was abandoned, nothing was deleted)",
            bucket.describe()
        ),
    }
}

/// The journal's batches, `(first record number, key)`, in order; an
/// object in the journal folder that is not a batch is corruption.
async fn batches(bucket: &dyn Objects, keys: &Keys) -> Result<Vec<(u64, String)>, StateError> {
    let mut out = Vec::new();
    for key in bucket.list(&keys.journal_dir()).await? {
        match keys.batch_seq(&key) {
            Some(seq) => out.push((seq, key)),
            None => {
                return Err(StateError::Corrupt {
                    location: bucket.location(&key),
                    message: "an object in the journal folder that is not a journal batch (<20-digit record number>.jsonl)".into(),
                })
            }
        }
    }
    Ok(out)
}

/// Fetches and parses `batches` in order, a few at a time; `None` when one
/// of them is gone (deleted by a compaction since it was listed).
async fn fetch(
    bucket: &dyn Objects,
    batches: &[(u64, String)],
) -> Result<Option<Vec<Batch>>, StateError> {
    let fetched: Vec<Option<Batch>> = stream::iter(batches.to_vec())
        .map(|(seq, key)| async move {
            match bucket.get(&key).await? {
                Some(object) => parse_batch(bucket, &key, seq, &object).map(Some),
                None => Ok(None),
            }
        })
        .buffered(PARALLEL_GETS)
        .try_collect()
        .await?;
    Ok(fetched.into_iter().collect())
}

fn parse_batch(
    bucket: &dyn Objects,
    key: &str,
    seq: u64,
    object: &Object,
) -> Result<Batch, StateError> {
    let corrupt = |message: String| StateError::Corrupt {
        location: bucket.location(key),
        message,
    };
    let mut records: Vec<Record> = Vec::new();
    let body = envelope::decode(Unit::Journal, &object.bytes, &bucket.location(key))?.body;
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let record: Record = serde_json::from_slice(line).map_err(|e| {
            corrupt(format!(
                "line {} does not parse as a journal record: {e}",
                n + 1
            ))
        })?;
        let expected = records.last().map_or(seq, |r| r.seq + 1);
        if record.seq != expected {
            return Err(corrupt(format!(
                "line {} holds record {} where record {expected} belongs",
                n + 1,
                record.seq
            )));
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err(corrupt("the batch holds no record".into()));
    }
    Ok(Batch {
        key: key.to_owned(),
        records,
    })
}

pub(crate) fn parse_snapshot(
    bucket: &dyn Objects,
    key: &str,
    bytes: &[u8],
) -> Result<State, StateError> {
    envelope::decode_state(bytes, &bucket.location(key))
}

/// The snapshot as stored, parsed without checking its checksum.
pub(crate) async fn read_edited(
    bucket: &dyn Objects,
    keys: &Keys,
) -> Result<Option<State>, StateError> {
    let key = keys.snapshot();
    match bucket.get(&key).await? {
        Some(object) => envelope::decode_state_edited(&object.bytes, &bucket.location(&key)),
        None => Ok(None),
    }
}

/// Writes `snapshot` with a checksum of its bytes over the stored one, if
/// that still reads (unchecked) as `snapshot`, on the version read.
pub(crate) async fn accept_edited(
    bucket: &dyn Objects,
    keys: &Keys,
    snapshot: &State,
) -> Result<(), StateError> {
    let key = keys.snapshot();
    let location = bucket.location(&key);
    let changed = || StateError::Backend {
        backend: bucket.backend().into(),
        message: format!(
            "{location} changed since it was shown; nothing was accepted (run the command again)"
        ),
    };
    let Some(old) = bucket.get(&key).await? else {
        return Err(StateError::Backend {
            backend: bucket.backend().into(),
            message: format!("{location}: there is no snapshot to accept"),
        });
    };
    if envelope::decode_state_unchecked(&old.bytes, &location)? != *snapshot {
        return Err(changed());
    }
    let body = envelope::encode_state(snapshot, false, bucket.backend())?;
    if bucket
        .replace(&key, &old.version, body.clone())
        .await?
        .is_none()
    {
        // A retried first try that did write, or another writer.
        match bucket.get(&key).await? {
            Some(object) if object.bytes == body => {}
            _ => return Err(changed()),
        }
    }
    Ok(())
}
