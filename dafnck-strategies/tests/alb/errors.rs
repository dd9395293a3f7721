//! Listeners that are missing or forward elsewhere.

use crate::world::*;

// ------------------------------------------------------------- errors

#[tokio::test]
async fn a_listener_that_does_not_exist_is_a_clear_error() {
    let Some(alb) = alb("a_listener_that_does_not_exist_is_a_clear_error").await else {
        return;
    };
    // The real listener's load balancer, a listener id it does not have.
    let (lb_part, _) = alb.listener.rsplit_once('/').unwrap();
    let missing = format!("{lb_part}/0123456789abcdef");
    let router = AlbRouter::with_config(&alb.config, &missing, &alb.stable, &alb.new);
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(&err, AlbError::ListenerNotFound { listener, code, .. } if *listener == missing && code == "ListenerNotFound"),
        "{err:?}"
    );
    let text = router.set_weights(Weights::to_new(20)).await.unwrap_err();
    assert!(text.contains(&missing), "{text}");
    assert!(text.contains("not found"), "{text}");
    // The real listener was not touched.
    assert_eq!(alb.weights().await, (1, 0));
}

#[tokio::test]
async fn a_listener_forwarding_to_a_third_group_is_refused() {
    let test = "a_listener_forwarding_to_a_third_group_is_refused";
    let Some(alb) = alb(test).await else {
        return;
    };
    // A router whose "stable" group is not the one the listener forwards to.
    let router = AlbRouter::with_config(&alb.config, &alb.listener, &alb.new, "arn:other");
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(&err, AlbError::ForeignGroup { group, .. } if *group == alb.stable),
        "{err:?}"
    );
    assert!(err.to_string().contains(&alb.listener), "{err}");
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}
