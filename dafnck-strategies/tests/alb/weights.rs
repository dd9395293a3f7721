//! Setting weights: every split on the listener, other actions kept.

use crate::world::*;

// ------------------------------------------------------ setting weights

#[tokio::test]
async fn weights_0_20_50_100_are_on_the_listener_when_set_weights_returns() {
    let Some(alb) = alb("weights_0_20_50_100_are_on_the_listener_when_set_weights_returns").await
    else {
        return;
    };
    let router = alb.router();
    assert_eq!(router.describe(), format!("ALB listener {}", alb.listener));
    assert_eq!(
        alb.weights().await,
        (1, 0),
        "before: plain forward to stable"
    );
    for (new, want) in [
        (0, (100, 0)),
        (20, (80, 20)),
        (50, (50, 50)),
        (100, (0, 100)),
    ] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
        assert_eq!(alb.weights().await, want, "after setting {new}% new");
        // A group at 0% is not listed at all (so it can be deleted).
        let listed = alb.forwarded().await;
        assert_eq!(listed.contains_key(&alb.stable), new < 100, "{listed:?}");
        assert_eq!(listed.contains_key(&alb.new), new > 0, "{listed:?}");
        let l = alb.listener().await;
        assert_eq!(l.port(), Some(80), "the port is kept");
        assert_eq!(
            l.protocol(),
            Some(&ProtocolEnum::Http),
            "the protocol is kept"
        );
        assert_eq!(l.default_actions().len(), 1);
    }
    // Back down, and the same split twice is fine.
    for new in [20, 20, 0] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
    }
    assert_eq!(alb.weights().await, (100, 0));
}

#[tokio::test]
async fn the_listeners_other_actions_and_stickiness_are_kept() {
    let test = "the_listeners_other_actions_and_stickiness_are_kept";
    let Some(alb) = alb_with(test, |stable| {
        vec![
            Action::builder()
                .r#type(ActionTypeEnum::AuthenticateOidc)
                .order(1)
                .authenticate_oidc_config(
                    AuthenticateOidcActionConfig::builder()
                        .issuer("https://idp.example.com")
                        .authorization_endpoint("https://idp.example.com/authorize")
                        .token_endpoint("https://idp.example.com/token")
                        .user_info_endpoint("https://idp.example.com/userinfo")
                        .client_id("web")
                        .client_secret("s3cret")
                        .build(),
                )
                .build(),
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(2)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(stable)
                                .weight(1)
                                .build(),
                        )
                        .target_group_stickiness_config(
                            TargetGroupStickinessConfig::builder()
                                .enabled(true)
                                .duration_seconds(300)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        ]
    })
    .await
    else {
        return;
    };
    alb.router().set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(alb.weights().await, (80, 20));
    let l = alb.listener().await;
    let actions = l.default_actions();
    assert_eq!(actions.len(), 2, "{actions:?}");
    let oidc = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::AuthenticateOidc))
        .expect("the authenticate-oidc action is kept");
    assert_eq!(oidc.order(), Some(1));
    let c = oidc.authenticate_oidc_config().unwrap();
    assert_eq!(c.issuer(), Some("https://idp.example.com"));
    assert_eq!(c.client_id(), Some("web"));
    let forward = actions
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .unwrap();
    assert_eq!(forward.order(), Some(2));
    let sticky = forward
        .forward_config()
        .unwrap()
        .target_group_stickiness_config()
        .unwrap();
    assert_eq!(sticky.enabled(), Some(true));
    assert_eq!(sticky.duration_seconds(), Some(300));
}
