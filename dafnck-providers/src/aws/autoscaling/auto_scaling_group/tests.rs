use super::*;

#[test]
fn only_the_name_replaces_the_group() {
    assert_eq!(AutoScalingGroup::force_new_fields(), &["name"]);
}

#[test]
fn sizes_are_checked_before_any_call() {
    let s = Subject::of::<AutoScalingGroup>("web");
    let base = AutoScalingGroup {
        launch_template_id: LaunchTemplateId::from("lt-1").into(),
        min_size: 1,
        max_size: 3,
        subnet_ids: vec![SubnetId::from("subnet-1").into()],
        ..Default::default()
    };
    assert!(declared(&s, &base).is_ok());
    let e = declared(
        &s,
        &AutoScalingGroup {
            min_size: 4,
            ..base.clone()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("\"web\"") && e.contains("max_size"), "{e}");
    let e = declared(
        &s,
        &AutoScalingGroup {
            desired_capacity: Some(9),
            ..base.clone()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("desired_capacity"), "{e}");
    let e = declared(
        &s,
        &AutoScalingGroup {
            subnet_ids: vec![],
            ..base
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("subnet_ids"), "{e}");
}

#[test]
fn health_check_types_read_back_as_aws_writes_them() {
    for t in [HealthCheckType::Ec2, HealthCheckType::Elb] {
        assert_eq!(HealthCheckType::of(Some(t.as_str())), t);
    }
    assert_eq!(
        serde_json::to_string(&HealthCheckType::Elb).unwrap(),
        "\"ELB\""
    );
}
