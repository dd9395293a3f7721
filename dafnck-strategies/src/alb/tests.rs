//! Unit tests of the ALB router's request building and error mapping.

use super::*;

fn router() -> AlbRouter {
    AlbRouter::from_env("arn:listener", "arn:stable", "arn:new")
}

#[test]
fn a_group_at_zero_percent_is_left_out() {
    let r = router();
    assert_eq!(
        r.forwarding(Weights::to_new(0)),
        BTreeMap::from([("arn:stable".to_string(), 100)])
    );
    assert_eq!(
        r.forwarding(Weights::to_new(20)),
        BTreeMap::from([("arn:stable".to_string(), 80), ("arn:new".to_string(), 20)])
    );
    assert_eq!(
        r.forwarding(Weights::to_new(100)),
        BTreeMap::from([("arn:new".to_string(), 100)])
    );
}

#[test]
fn error_codes_are_sorted_by_what_helps() {
    for code in ["Throttling", "RequestLimitExceeded", "ServiceUnavailable"] {
        assert_eq!(kind_of_code(code), Kind::Retry, "{code}");
    }
    assert_eq!(kind_of_code("ListenerNotFound"), Kind::ListenerNotFound);
    assert_eq!(kind_of_code("LoadBalancerNotFound"), Kind::ListenerNotFound);
    assert_eq!(
        kind_of_code("TargetGroupNotFound"),
        Kind::TargetGroupNotFound
    );
    assert_eq!(kind_of_code("AccessDenied"), Kind::AccessDenied);
    assert_eq!(kind_of_code("ValidationError"), Kind::Other);
}

#[test]
fn errors_name_the_listener_and_say_what_to_do() {
    let r = router();
    let denied = r.error(
        "ModifyListener",
        Failure {
            kind: Kind::AccessDenied,
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
        },
    );
    let text = denied.to_string();
    assert!(text.contains("ALB listener arn:listener"), "{text}");
    assert!(text.contains("ModifyListener was denied"), "{text}");
    assert!(
        text.contains("elasticloadbalancing:ModifyListener"),
        "{text}"
    );
    let gone = r
        .error(
            "ModifyListener",
            Failure {
                kind: Kind::TargetGroupNotFound,
                code: Some("TargetGroupNotFound".into()),
                message: "One or more target groups not found".into(),
            },
        )
        .to_string();
    assert!(
        gone.contains("arn:listener") && gone.contains("arn:stable") && gone.contains("arn:new"),
        "{gone}"
    );
}

#[test]
fn the_forward_is_rebuilt_and_other_actions_kept() {
    let r = router();
    let wanted = r.forwarding(Weights::to_new(20));
    let sticky = aws_sdk_elasticloadbalancingv2::types::TargetGroupStickinessConfig::builder()
        .enabled(true)
        .duration_seconds(60)
        .build();
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .order(2)
        .target_group_arn("arn:stable")
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn("arn:stable")
                        .weight(1)
                        .build(),
                )
                .target_group_stickiness_config(sticky.clone())
                .build(),
        )
        .build();
    let sent = r.resend(&forward, &wanted);
    assert_eq!(sent.order(), Some(2));
    assert_eq!(sent.target_group_arn(), None);
    assert_eq!(forwarded(&sent), wanted);
    assert_eq!(
        sent.forward_config()
            .unwrap()
            .target_group_stickiness_config(),
        Some(&sticky)
    );

    let oidc = Action::builder()
        .r#type(ActionTypeEnum::AuthenticateOidc)
        .order(1)
        .authenticate_oidc_config(
            AuthenticateOidcActionConfig::builder()
                .issuer("https://issuer")
                .client_id("web")
                .build(),
        )
        .build();
    let sent = r.resend(&oidc, &wanted);
    let c = sent.authenticate_oidc_config().unwrap();
    assert_eq!(sent.order(), Some(1));
    assert_eq!(c.issuer(), Some("https://issuer"));
    assert_eq!(c.client_id(), Some("web"));
    assert_eq!(c.use_existing_client_secret(), Some(true));
}
