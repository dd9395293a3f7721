//! The tags the provider stamps on every object it creates, and the user's
//! own tags beside them.
//!
//! Every object gets `dafnck:stack` and `dafnck:name` (which stack and
//! resource manage it) and `dafnck:token` (the idempotency token of the
//! create that made it), all set by the create call itself, so an object
//! can never exist untagged. After a crash mid-create the engine reads with
//! the token and the provider finds the object by its `dafnck:token` tag:
//! the token, not the name, so the old object of a replacement is never
//! mistaken for the new one.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use dafnck_core::provider::kit::Create;
use sha2::{Digest, Sha256};

use super::error::{Answer, AwsError, Subject};

/// The tag naming the stack that manages an object.
pub const STACK_TAG: &str = "dafnck:stack";
/// The tag naming the resource (in its stack) that manages an object.
pub const NAME_TAG: &str = "dafnck:name";
/// The tag holding the idempotency token of the create that made an object.
pub const TOKEN_TAG: &str = "dafnck:token";

/// The longest client token EC2 accepts (RunInstances' `ClientToken`).
const MAX_CLIENT_TOKEN: usize = 64;

/// The engine's idempotency token as EC2 takes it: itself when it is at
/// most 64 ASCII characters, else its SHA-256 in hex (64 characters).
pub(crate) fn client_token(token: &str) -> String {
    if token.len() <= MAX_CLIENT_TOKEN && token.is_ascii() {
        token.to_owned()
    } else {
        let digest = Sha256::digest(token.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Refuses user tags whose keys AWS or the provider reserve.
pub(crate) fn check_user_tags(
    subject: &Subject<'_>,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    match tags.keys().find(|k| !is_users(k) || k.is_empty()) {
        Some(k) => Err(subject.invalid(format!(
            "tag key {k:?} is reserved (keys starting with `dafnck:` are the provider's, \
             `aws:` AWS's; empty keys are not allowed)"
        ))),
        None => Ok(()),
    }
}

/// Whether `key` is one of the user's (not the provider's or AWS's).
pub(crate) fn is_users(key: &str) -> bool {
    !key.starts_with("dafnck:") && !key.starts_with("aws:")
}

/// The provider's three tags, as a create with `token` stamps them on the
/// object it makes for resource `name` of `stack`.
pub(crate) fn ours(stack: &str, name: &str, token: &str) -> [(&'static str, String); 3] {
    [
        (STACK_TAG, stack.to_owned()),
        (NAME_TAG, name.to_owned()),
        (TOKEN_TAG, client_token(token)),
    ]
}

/// The tags a create call stamps on a new object of `resource_type`: the
/// provider's three and the user's.
pub(crate) fn on_create(
    resource_type: ResourceType,
    stack: &str,
    name: &str,
    token: &str,
    user: &BTreeMap<String, String>,
) -> TagSpecification {
    let tags = ours(stack, name, token)
        .into_iter()
        .map(|(k, v)| tag(k, &v))
        .chain(user.iter().map(|(k, v)| tag(k, v)));
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(tags.collect()))
        .build()
}

/// [`on_create`] for the resource a create call is for.
pub(crate) fn for_create<R>(
    resource_type: ResourceType,
    req: &Create<R>,
    user: &BTreeMap<String, String>,
) -> TagSpecification {
    on_create(resource_type, &req.stack, &req.name, &req.token, user)
}

/// One tag.
pub(crate) fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// The user's tags among an object's tags (not the provider's or AWS's).
pub(crate) fn user_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .filter(|(k, _)| is_users(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The filter that finds the object a create with `token` made.
pub(crate) fn token_filter(token: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{TOKEN_TAG}"))
        .values(client_token(token))
        .build()
}

/// What to change to turn the user tags `current` into `desired`: the
/// tags to set (new or changed values) and the keys to remove.
pub(crate) fn diff<'a>(
    current: &'a BTreeMap<String, String>,
    desired: &'a BTreeMap<String, String>,
) -> (Vec<(&'a str, &'a str)>, Vec<&'a str>) {
    let set = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let remove = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .map(String::as_str)
        .collect();
    (set, remove)
}

/// What turns the user tags `current` into `desired`, for
/// [`add_then_remove`]: the tags to set (new or changed), each made by
/// `tag` as the service takes it, and the keys to remove.
pub(crate) fn tag_changes<T>(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    tag: impl Fn(&str, &str) -> Result<T, AwsError>,
) -> Result<(Vec<T>, Vec<String>), AwsError> {
    let (set, remove) = diff(current, desired);
    let set = set
        .into_iter()
        .map(|(k, v)| tag(k, v))
        .collect::<Result<_, _>>()?;
    Ok((set, remove.into_iter().map(str::to_owned).collect()))
}

/// Makes the two calls that turn one set into another: `add_call` with
/// what is missing (`add`), then `remove_call` with what is extra
/// (`remove`), so new members are in before old ones go; `calls` are their
/// names, for errors. A call with nothing to do is not made.
pub(crate) async fn add_then_remove<A, B, AF, RF>(
    s: &Subject<'_>,
    add: Vec<A>,
    remove: Vec<B>,
    calls: (&'static str, &'static str),
    add_call: impl FnOnce(Vec<A>) -> AF,
    remove_call: impl FnOnce(Vec<B>) -> RF,
) -> Result<(), AwsError>
where
    AF: Future<Output: Answer>,
    RF: Future<Output: Answer>,
{
    if !add.is_empty() {
        add_call(add).await.of(s, calls.0)?;
    }
    if !remove.is_empty() {
        remove_call(remove).await.of(s, calls.1)?;
    }
    Ok(())
}

/// Turns the user tags `current` into `desired` through a service's
/// `TagResource` (`tag_call`, given the tags `tag` makes) and
/// `UntagResource` (`untag_call`, given the keys), as [`add_then_remove`].
pub(crate) async fn tag_resource<T, AF, RF>(
    s: &Subject<'_>,
    (current, desired): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    tag: impl Fn(&str, &str) -> Result<T, AwsError>,
    tag_call: impl FnOnce(Vec<T>) -> AF,
    untag_call: impl FnOnce(Vec<String>) -> RF,
) -> Result<(), AwsError>
where
    AF: Future<Output: Answer>,
    RF: Future<Output: Answer>,
{
    let (set, keys) = tag_changes(current, desired, tag)?;
    let calls = ("TagResource", "UntagResource");
    add_then_remove(s, set, keys, calls, tag_call, untag_call).await
}

/// [`diff`] as EC2 takes it: tags to set, and tags (keys only) to delete.
pub(crate) fn changes(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (Vec<Tag>, Vec<Tag>) {
    let (set, remove) = diff(current, desired);
    (
        set.into_iter().map(|(k, v)| tag(k, v)).collect(),
        remove
            .into_iter()
            .map(|k| Tag::builder().key(k).build())
            .collect(),
    )
}

/// Makes the user tags of object `id` equal `desired`, given `current`.
///
/// # Errors
/// CreateTags' or DeleteTags' error.
pub(crate) async fn apply(
    client: &aws_sdk_ec2::Client,
    subject: &Subject<'_>,
    id: &str,
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (set, remove) = changes(current, desired);
    if !set.is_empty() {
        client
            .create_tags()
            .resources(id)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(|e| subject.error("CreateTags", e))?;
    }
    if !remove.is_empty() {
        client
            .delete_tags()
            .resources(id)
            .set_tags(Some(remove))
            .send()
            .await
            .map_err(|e| subject.error("DeleteTags", e))?;
    }
    Ok(())
}

/// Tags as the SDKs list them (`(key, value)`, either possibly absent), by
/// key; a tag without a key is left out, one without a value is empty.
pub(crate) fn by_key<'a>(
    tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}

/// What to add to `current` and what to remove from it to make it
/// `declared`, in their orders.
pub(crate) fn added_and_removed<T: PartialEq + Clone>(
    current: &[T],
    declared: &[T],
) -> (Vec<T>, Vec<T>) {
    let missing = |of: &[T], among: &[T]| -> Vec<T> {
        of.iter().filter(|t| !among.contains(t)).cloned().collect()
    };
    (missing(declared, current), missing(current, declared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn long_tokens_are_hashed_to_64_characters() {
        assert_eq!(client_token("run-web"), "run-web");
        let long = format!(
            "{}-{}",
            "0123456789abcdef".repeat(2),
            "a-very-long-resource-name-indeed"
        );
        let t = client_token(&long);
        assert_eq!(t.len(), 64);
        assert_ne!(t, long[..64]);
        assert_eq!(t, client_token(&long), "stable");
        assert_eq!(client_token("é").len(), 64, "non-ASCII is hashed");
    }

    #[test]
    fn the_providers_tags_are_not_the_users() {
        let tags = [
            tag(STACK_TAG, "dev"),
            tag(NAME_TAG, "web"),
            tag(TOKEN_TAG, "t"),
            tag("aws:cloudformation:stack-name", "x"),
            tag("team", "web"),
        ];
        assert_eq!(user_tags(&tags), map(&[("team", "web")]));
    }

    #[test]
    fn tag_changes_set_new_and_changed_values_and_remove_the_rest() {
        let (set, remove) = changes(
            &map(&[("a", "1"), ("b", "2"), ("c", "3")]),
            &map(&[("a", "1"), ("b", "20"), ("d", "4")]),
        );
        let keys = |tags: &[Tag]| {
            tags.iter()
                .map(|t| t.key().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&set), ["b", "d"]);
        assert_eq!(keys(&remove), ["c"]);
    }

    #[test]
    fn reserved_keys_are_refused() {
        let s = Subject {
            type_name: "aws:ec2:Vpc",
            name: "main",
        };
        assert!(check_user_tags(&s, &map(&[("team", "a")])).is_ok());
        let e = check_user_tags(&s, &map(&[("dafnck:name", "x")])).unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
    }
}
