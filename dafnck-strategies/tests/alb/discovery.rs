//! The target group router finding the listener itself.

use crate::world::*;

// ------------------------------------------ finding the listener itself

#[tokio::test]
async fn the_target_group_router_finds_the_listener_of_the_groups() {
    let Some(alb) = alb("the_target_group_router_finds_the_listener_of_the_groups").await else {
        return;
    };
    let router = TargetGroupRouter::with_config(&alb.config, &alb.stable, &alb.new)
        .confirm(Duration::from_secs(5), Duration::from_millis(50));
    // Found through the stable group's load balancers.
    assert_eq!(router.listener_arn().await.unwrap(), alb.listener);
    router.set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(alb.weights().await, (80, 20));
    assert_eq!(
        TrafficRouter::describe(&router),
        format!("ALB listener {}", alb.listener)
    );
    router.set_weights(Weights::to_new(100)).await.unwrap();
    assert_eq!(alb.weights().await, (0, 100));
    // The next rollout's stable group got its place by ModifyListener,
    // which moto does not note in the group's LoadBalancerArns: found by
    // looking at the load balancers of its VPC.
    let next = TargetGroupRouter::with_config(&alb.config, &alb.new, "");
    assert_eq!(next.listener_arn().await.unwrap(), alb.listener);
    // Putting everything on it changes nothing.
    next.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(alb.weights().await, (0, 100));
}

#[tokio::test]
async fn no_listener_or_several_for_the_target_groups_are_clear_errors() {
    let test = "no_listener_or_several_for_the_target_groups_are_clear_errors";
    let Some(alb) = alb(test).await else {
        return;
    };
    // Nothing forwards to the new group alone.
    let lonely = TargetGroupRouter::with_config(&alb.config, &alb.new, "");
    let err = lonely.listener_arn().await.unwrap_err();
    assert!(
        matches!(&err, AlbError::NoListener { stable, .. } if *stable == alb.new),
        "{err:?}"
    );
    let text = lonely.set_weights(Weights::to_new(20)).await.unwrap_err();
    assert!(
        text.contains("no ALB listener forwards to target group") && text.contains(&alb.new),
        "{text}"
    );
    // All traffic off a group no listener uses already holds: a rollback
    // with nothing to undo finishes.
    lonely.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");

    // A second listener forwarding to the stable group: which one to move
    // is not guessed.
    let lb = alb.listener().await.load_balancer_arn().unwrap().to_owned();
    let second = alb
        .elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .default_actions(plain_forward(&alb.stable))
        .send()
        .await
        .unwrap();
    let second = second.listeners()[0].listener_arn().unwrap().to_owned();
    let router = TargetGroupRouter::with_config(&alb.config, &alb.stable, &alb.new);
    let err = router.listener_arn().await.unwrap_err();
    match &err {
        AlbError::SeveralListeners { listeners, .. } => {
            let mut expected = vec![alb.listener.clone(), second];
            expected.sort();
            assert_eq!(*listeners, expected);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("AlbRouter"), "{err}");
    assert!(router.set_weights(Weights::to_new(20)).await.is_err());
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}
