//! Reading an object: finding it by its id, or — after a crash mid-create —
//! by the token of the create that made it; AWS's "no such object" as an
//! answer rather than an error; and what a read reports.

use std::future::Future;

use dafnck_core::provider::kit::{Found, Read};

use super::error::{Answer, AwsError, Subject};

/// What a lookup answers: the object, `None` when AWS has none, or why it
/// could not tell.
pub(crate) type Lookup<T> = Result<Option<T>, AwsError>;

/// The answer to `call`, or `None` when AWS says the addressed object does
/// not exist; any other error as an [`AwsError`] naming `call`.
pub(crate) fn unless_not_found<A: Answer>(
    s: &Subject<'_>,
    call: &'static str,
    result: A,
) -> Result<Option<A::Out>, AwsError> {
    none_if(s, call, result, AwsError::is_not_found)
}

/// The answer to `call`, or `None` when its error is one that `absent`
/// accepts; any other error as an [`AwsError`] naming `call`.
pub(crate) fn none_if<A: Answer>(
    s: &Subject<'_>,
    call: &'static str,
    result: A,
    absent: impl FnOnce(&AwsError) -> bool,
) -> Result<Option<A::Out>, AwsError> {
    match result.named(s, call) {
        Ok(out) => Ok(Some(out)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The answer to a delete `call`: done, also when AWS says the object was
/// already gone; any other error as an [`AwsError`] naming `call`.
pub(crate) fn deleted(
    s: &Subject<'_>,
    call: &'static str,
    result: impl Answer,
) -> Result<(), AwsError> {
    unless_not_found(s, call, result).map(drop)
}

/// The object `req` asks about: `by_id` when state records an id, else
/// `by_token` when the engine reads after a crash mid-create, else none.
pub(crate) async fn find<'a, R, T, I, IF, K, KF>(
    req: &'a Read<R>,
    by_id: I,
    by_token: K,
) -> Result<Option<T>, AwsError>
where
    I: FnOnce(&'a str) -> IF,
    IF: Future<Output = Result<Option<T>, AwsError>>,
    K: FnOnce(&'a str) -> KF,
    KF: Future<Output = Result<Option<T>, AwsError>>,
{
    match (&req.id, &req.token) {
        (Some(id), _) => by_id(id).await,
        (None, Some(token)) => by_token(token).await,
        (None, None) => Ok(None),
    }
}

/// The objects `reqs` ask about, in order, as [`find`] answers each: every
/// one with an id from a single call to `listed` (given all those ids; an id
/// it does not answer is an absent object), any other through `find_one`
/// (a read by token after a crash mid-create, rare enough to go one by one).
pub(crate) async fn find_many<'a, R, T, L, LF, F, FF>(
    reqs: &'a [Read<R>],
    listed: L,
    id_of: fn(&T) -> Option<&str>,
    find_one: F,
) -> Result<Vec<Option<T>>, AwsError>
where
    T: Clone,
    L: FnOnce(Vec<String>) -> LF,
    LF: Future<Output = Result<Vec<T>, AwsError>>,
    F: Fn(&'a Read<R>) -> FF,
    FF: Future<Output = Result<Option<T>, AwsError>>,
{
    let ids: Vec<String> = reqs.iter().filter_map(|r| r.id.clone()).collect();
    let listed = if ids.is_empty() {
        Vec::new()
    } else {
        listed(ids).await?
    };
    let mut found = Vec::with_capacity(reqs.len());
    for req in reqs {
        found.push(match &req.id {
            Some(id) => listed
                .iter()
                .find(|t| id_of(t) == Some(id.as_str()))
                .cloned(),
            None => find_one(req).await?,
        });
    }
    Ok(found)
}

/// What a read found: the object's id, its inputs as found (for drift)
/// and its outputs.
pub(crate) fn observed<R, O>(id: impl Into<String>, inputs: R, outputs: O) -> Found<R, O> {
    Found {
        id: id.into(),
        inputs,
        outputs,
    }
}

/// The object named `name` that a create with a token looked for: `found`
/// when its token tag says that create made it (`made_by`), else an error
/// naming `what` (`"a load balancer"`): adopting it would take over a
/// stranger's object.
pub(crate) fn adopted<T>(
    s: &Subject<'_>,
    what: &str,
    name: &str,
    found: T,
    made_by: bool,
) -> Result<Option<T>, AwsError> {
    if made_by {
        Ok(Some(found))
    } else {
        Err(s.invalid(format!(
            "{what} named {name:?} already exists and was not made by this resource \
             (choose another `name`, or import it)"
        )))
    }
}

/// What `describe` answers for `keys`, asked `per_call` keys at a time (a
/// service's page or limit), in order.
pub(crate) async fn in_chunks<T, D, DF>(
    keys: &[String],
    per_call: usize,
    describe: D,
) -> Result<Vec<T>, AwsError>
where
    D: Fn(Vec<String>) -> DF,
    DF: Future<Output = Result<Vec<T>, AwsError>>,
{
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(per_call) {
        found.extend(describe(chunk.to_vec()).await?);
    }
    Ok(found)
}
