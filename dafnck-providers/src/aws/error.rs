//! The aws provider's errors, and whether a retry can help each.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Everything that can go wrong talking to AWS.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AwsError {
    /// The inputs do not describe a valid object.
    #[error("{type_name} {name:?}: invalid inputs: {message}")]
    Invalid {
        /// The resource type.
        type_name: &'static str,
        /// The resource's name in its stack.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// AWS answered a call with an error code (boxed: it is the largest).
    #[error("{0}")]
    Api(Box<ApiFailure>),
    /// The call did not get an answer (connection, timeout, bad response).
    #[error("{type_name} {name:?}: {call} got no answer from AWS: {message}")]
    Transport {
        /// The resource type.
        type_name: &'static str,
        /// The resource's name in its stack.
        name: String,
        /// The API call.
        call: &'static str,
        /// The SDK's description, with its causes.
        message: String,
        /// Whether a retry may get an answer: a connection or timeout
        /// problem, not a request that cannot be built or signed (no
        /// region, no credentials).
        transient: bool,
    },
    /// An object did not reach the state a step waits for.
    #[error("{type_name} {name:?}: {id} {problem}")]
    Wait {
        /// The resource type.
        type_name: &'static str,
        /// The resource's name in its stack.
        name: String,
        /// The object's id.
        id: String,
        /// What happened (`did not reach running within 600s (last: pending)`).
        problem: String,
    },
    /// An answer lacked a field the provider needs.
    #[error("{type_name} {name:?}: {call} answered without {field}")]
    Incomplete {
        /// The resource type.
        type_name: &'static str,
        /// The resource's name in its stack.
        name: String,
        /// The API call.
        call: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// An error code AWS answered a call with, and what it was about.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    /// The resource type.
    pub type_name: &'static str,
    /// The resource's name in its stack.
    pub name: String,
    /// The API call (`RunInstances`).
    pub call: &'static str,
    /// AWS's error code (`InvalidAMIID.NotFound`).
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// What to do about it, introduced by `; `, or empty.
    pub hint: &'static str,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ApiFailure {
            type_name,
            name,
            call,
            code,
            message,
            hint,
        } = self;
        write!(
            f,
            "{type_name} {name:?}: {call} failed: {code}: {message}{hint}"
        )
    }
}

/// Error codes a retry can fix: throttling, AWS's own trouble, and objects
/// that exist but are not visible yet (eventual consistency).
fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "TooManyRequestsException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "IncorrectState"
            | "IncorrectInstanceState"
            // IAM's: a role or policy made a moment ago may not be
            // visible to the next call yet.
            | "NoSuchEntity"
    ) || (code.ends_with(".NotFound") && !code.starts_with("InvalidAMIID"))
        // ELBv2's: a group or balancer made a moment ago may not be
        // visible to the next call yet.
        || matches!(
            code,
            "LoadBalancerNotFound" | "TargetGroupNotFound" | "ListenerNotFound"
        )
}

/// Whether `code` says the object addressed does not exist (EC2's
/// `InvalidVpcID.NotFound` style, or ELBv2's `LoadBalancerNotFound`).
pub(crate) fn is_not_found(code: &str) -> bool {
    !code.starts_with("InvalidAMIID")
        && (code.ends_with(".NotFound")
            || (code.ends_with(".Malformed") && code.contains("ID"))
            || matches!(
                code,
                "LoadBalancerNotFound" | "TargetGroupNotFound" | "ListenerNotFound"
            )
            || is_s3_or_iam_not_found(code)
            // Lambda's, for a function, version or alias.
            || code == "ResourceNotFoundException")
}

/// S3's and IAM's codes for an object that does not exist (`NotFound` is
/// what S3 answers a HEAD request with).
fn is_s3_or_iam_not_found(code: &str) -> bool {
    matches!(
        code,
        "NoSuchBucket" | "NoSuchKey" | "NotFound" | "NoSuchEntity"
    ) || matches!(code, "NoSuchHostedZone" | "NoSuchHealthCheck")
}

/// What to tell the user about a known error code.
fn hint(code: &str) -> &'static str {
    match code {
        c if c.starts_with("InvalidAMIID") => {
            "; the AMI does not exist in this region or is not visible to this account: \
             check `ami` (DescribeImages lists the ones you can use)"
        }
        "InvalidSubnet.Conflict" => {
            "; the subnet's CIDR block overlaps another subnet of the VPC: choose a range \
             that does not overlap"
        }
        "InvalidSubnet.Range" => "; the subnet's CIDR block is not inside the VPC's CIDR block",
        "InvalidVpc.Range" => "; the CIDR block must be between /16 and /28",
        "DependencyViolation" => {
            "; other objects still use it: delete them first (or declare them in this \
             program so the engine deletes them first)"
        }
        "InvalidGroup.Duplicate" => {
            "; a security group with this name already exists in the VPC: choose another name"
        }
        "DuplicateLoadBalancerName" | "DuplicateTargetGroupName" => {
            "; another load balancer or target group already has this name (names are unique \
             per account and region): choose another `name`, or leave it unset"
        }
        "DuplicateListener" => "; the load balancer already has a listener on this port",
        "ResourceInUse" => "; a listener or rule still forwards to it: remove it from them first",
        "InvalidTarget" | "TargetNotRunning" => {
            "; a target is not a running instance of the target group's VPC"
        }
        "BucketAlreadyExists" => {
            "; bucket names are global across all AWS accounts and this one is taken: choose \
             another `name`, or leave it unset"
        }
        "BucketNotEmpty" => {
            "; the bucket still holds objects (or object versions): delete them first, or \
             declare them as `BucketObject`s so the engine deletes them first"
        }
        "EntityAlreadyExists" => {
            "; an IAM object with this name already exists in the account: choose another \
             `name`, or leave it unset"
        }
        "MalformedPolicyDocument" => "; the policy document is not a valid IAM policy",
        "DeleteConflict" => {
            "; other IAM objects still use it (attached policies, instance profiles, \
             policy versions): remove them first"
        }
        "LimitExceeded" => "; an IAM quota is reached (policy versions, attachments, ...)",
        "InvalidParameterValue" | "InvalidParameterCombination" | "ValidationError" => {
            "; AWS rejected a field of the inputs"
        }
        _ => "",
    }
}

/// Names the resource a call was made for, so errors can say which.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    /// The resource type.
    pub type_name: &'static str,
    /// The resource's name in its stack.
    pub name: &'a str,
}

impl<'a> Subject<'a> {
    /// Names resource `name` of type `R`.
    pub(crate) fn of<R: dafnck_core::Resource>(name: &'a str) -> Self {
        Subject {
            type_name: R::TYPE,
            name,
        }
    }
}

/// What an SDK call answers, as a result whose error names the call.
pub(crate) trait Answer {
    /// What the call returns when it succeeds.
    type Out;
    /// The answer, or the failure of `call` as an [`AwsError`] about `s`.
    fn named(self, s: &Subject<'_>, call: &'static str) -> Result<Self::Out, AwsError>;
    /// `Ok(())`, or the failure of `call` as an [`AwsError`] about `s`.
    fn of(self, s: &Subject<'_>, call: &'static str) -> Result<(), AwsError>
    where
        Self: Sized,
    {
        self.named(s, call).map(drop)
    }
}

impl<O, E, R> Answer for Result<O, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    type Out = O;
    fn named(self, s: &Subject<'_>, call: &'static str) -> Result<O, AwsError> {
        self.map_err(|e| s.error(call, e))
    }
}

impl Subject<'_> {
    /// Turns an SDK error of `call` into an [`AwsError`].
    pub(crate) fn error<E, R>(&self, call: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match err.code() {
            Some(code) => AwsError::Api(Box::new(ApiFailure {
                type_name: self.type_name,
                name: self.name.to_owned(),
                call,
                code: code.to_owned(),
                message: err.message().unwrap_or("(no message)").to_owned(),
                hint: hint(code),
            })),
            None => AwsError::Transport {
                type_name: self.type_name,
                name: self.name.to_owned(),
                call,
                transient: match &err {
                    SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
                    SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
                    _ => false,
                },
                message: DisplayErrorContext(&err).to_string(),
            },
        }
    }

    /// An [`AwsError::Invalid`] for this resource.
    pub(crate) fn invalid(&self, message: impl Into<String>) -> AwsError {
        AwsError::Invalid {
            type_name: self.type_name,
            name: self.name.to_owned(),
            message: message.into(),
        }
    }

    /// An [`AwsError::Incomplete`] for this resource.
    pub(crate) fn incomplete(&self, call: &'static str, field: &'static str) -> AwsError {
        AwsError::Incomplete {
            type_name: self.type_name,
            name: self.name.to_owned(),
            call,
            field,
        }
    }

    /// The error for an object that vanished under an update.
    pub(crate) fn gone(&self, id: &str) -> AwsError {
        self.wait(
            id,
            "is gone (deleted outside this program); `up` creates it again",
        )
    }

    /// An [`AwsError::Wait`] for this resource.
    pub(crate) fn wait(&self, id: &str, problem: impl Into<String>) -> AwsError {
        AwsError::Wait {
            type_name: self.type_name,
            name: self.name.to_owned(),
            id: id.to_owned(),
            problem: problem.into(),
        }
    }
}

impl AwsError {
    /// AWS's error code, for an error AWS answered with.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api(f) => Some(&f.code),
            _ => None,
        }
    }

    /// Whether the error says the addressed object does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        self.code().is_some_and(is_not_found)
    }

    /// Whether the same call may succeed later.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            AwsError::Api(f) => is_retryable_code(&f.code),
            AwsError::Transport { transient, .. } => *transient,
            _ => false,
        }
    }
}

provider_error_from!(AwsError);

#[cfg(test)]
mod tests {
    use dafnck_core::ProviderError;

    use super::*;

    fn api(code: &str) -> AwsError {
        AwsError::Api(Box::new(ApiFailure {
            type_name: "aws:ec2:Instance",
            name: "web".into(),
            call: "RunInstances",
            code: code.into(),
            message: "m".into(),
            hint: hint(code),
        }))
    }

    #[test]
    fn throttling_and_eventual_consistency_are_retryable() {
        for code in [
            "RequestLimitExceeded",
            "Throttling",
            "InvalidInstanceID.NotFound",
            "InvalidSubnetID.NotFound",
            "TargetGroupNotFound",
        ] {
            assert!(ProviderError::from(api(code)).retryable, "{code}");
        }
    }

    #[test]
    fn bad_input_and_conflicts_are_not_retryable_and_say_why() {
        for (code, words) in [
            ("InvalidAMIID.NotFound", "AMI does not exist"),
            ("InvalidAMIID.Malformed", "AMI does not exist"),
            ("InvalidSubnet.Conflict", "overlaps"),
            ("DependencyViolation", "still use it"),
        ] {
            let e = ProviderError::from(api(code));
            assert!(!e.retryable, "{code}");
            assert!(e.message.contains(code), "{}", e.message);
            assert!(e.message.contains(words), "{}", e.message);
            assert!(
                e.message.contains("aws:ec2:Instance \"web\""),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn not_found_codes_are_recognised() {
        assert!(api("InvalidVpcID.NotFound").is_not_found());
        assert!(api("InvalidGroup.NotFound").is_not_found());
        assert!(api("InvalidInstanceID.Malformed").is_not_found());
        assert!(api("LoadBalancerNotFound").is_not_found());
        assert!(api("TargetGroupNotFound").is_not_found());
        assert!(!api("DependencyViolation").is_not_found());
        assert!(!api("DuplicateLoadBalancerName").is_not_found());
        for code in ["NoSuchBucket", "NoSuchKey", "NotFound", "NoSuchEntity"] {
            assert!(api(code).is_not_found(), "{code}");
        }
        assert!(
            api("NoSuchEntity").is_retryable(),
            "IAM is eventually consistent"
        );
        assert!(!api("NoSuchBucket").is_retryable());
    }
}
