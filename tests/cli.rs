//! The command line as a user meets it: the `fake_cloud` example run as a
//! process in a temporary directory (its state and its fake cloud live
//! there), checking output and exit codes, including bad input.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use fake_cli::{expect, recorded_ids, run};

#[test]
fn preview_up_and_a_no_change_preview_with_detailed_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["preview", "--detailed-exitcode"]);
    expect(&r, 2);
    assert!(
        r.stdout
            .contains("Plan: 5 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("admin_password = (secret)") && !r.stdout.contains("s3cret"));

    // Without a terminal, `up` will not ask: it needs --yes, and changes nothing.
    let r = run(dir.path(), &["up"]);
    expect(&r, 1);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    expect(&run(dir.path(), &["preview", "--detailed-exitcode"]), 2);

    let r = run(dir.path(), &["up", "--yes"]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("Apply complete") && r.stdout.contains("web_0_arn"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("create web-0: done"),
        "a plain progress line per step: {}",
        r.stderr
    );

    let r = run(dir.path(), &["preview", "--detailed-exitcode"]);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    let r = run(dir.path(), &["preview", "--json", "--config", "size=large"]);
    expect(&r, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(doc["summary"]["replace"], 2);
    assert_eq!(doc["summary"]["update"], 1);

    let r = run(dir.path(), &["outputs", "--json"]);
    expect(&r, 0);
    let outputs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(outputs["web_1_arn"]
        .as_str()
        .unwrap()
        .starts_with("arn:fake:"));

    let r = run(dir.path(), &["destroy", "--yes"]);
    expect(&r, 0);
    let cloud = dir.path().join(".dafnck/fake-cloud");
    assert_eq!(
        std::fs::read_dir(&cloud).unwrap().count(),
        0,
        "destroy leaves no object behind"
    );
}

#[test]
fn drift_names_what_changed_outside_and_up_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), &["up", "--yes"]), 0);
    expect(&run(dir.path(), &["drift"]), 0);
    // Edit one object and delete another behind the program's back.
    let cloud = dir.path().join(".dafnck/fake-cloud");
    let mut deleted = None;
    for entry in std::fs::read_dir(&cloud).unwrap() {
        let path = entry.unwrap().path();
        let mut obj: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        match obj["name"].as_str().unwrap() {
            "public-b" => {
                obj["inputs"]["tags"] = serde_json::json!({"owner": "someone"});
                std::fs::write(&path, serde_json::to_vec(&obj).unwrap()).unwrap();
            }
            "web-0" => {
                std::fs::remove_file(&path).unwrap();
                deleted = Some(path);
            }
            _ => {}
        }
    }
    assert!(deleted.is_some());
    let r = run(dir.path(), &["drift", "--json"]);
    expect(&r, 2);
    let drift: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let kinds: Vec<(String, String)> = drift
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("public-b".into(), "changed".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("web-0".into(), "deleted".into())),
        "{kinds:?}"
    );

    // Without a refresh the plan is made against the state as recorded:
    // it sees nothing to do. A plain `up` refreshes first and repairs both.
    expect(
        &run(
            dir.path(),
            &["preview", "--no-refresh", "--detailed-exitcode"],
        ),
        0,
    );
    expect(&run(dir.path(), &["preview", "--detailed-exitcode"]), 2);
    // The earlier opt-in flag is still accepted.
    expect(
        &run(dir.path(), &["preview", "--refresh", "--detailed-exitcode"]),
        2,
    );
    let r = run(dir.path(), &["up", "--yes"]);
    expect(&r, 0);
    expect(&run(dir.path(), &["drift"]), 0);
    expect(&run(dir.path(), &["preview", "--detailed-exitcode"]), 0);
}

#[test]
fn state_commands_and_a_saved_plan() {
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), &["up", "--yes"]), 0);
    let r = run(dir.path(), &["state", "list"]);
    expect(&r, 0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    let r = run(dir.path(), &["state", "show", "web-0"]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("\"(secret)\"") && !r.stdout.contains("s3cret"),
        "{}",
        r.stdout
    );

    // A saved plan applies exactly; a second application is stale.
    let plan = dir.path().join("large.plan");
    let plan_arg = plan.to_str().unwrap();
    expect(
        &run(
            dir.path(),
            &["preview", "--config", "size=large", "--out", plan_arg],
        ),
        0,
    );
    expect(&run(dir.path(), &["up", "--yes", "--plan", plan_arg]), 0);
    let r = run(dir.path(), &["up", "--yes", "--plan", plan_arg]);
    expect(&r, 1);
    assert!(r.stderr.contains("stale"), "{}", r.stderr);

    let r = run(dir.path(), &["graph", "--format", "mermaid"]);
    expect(&r, 0);
    assert!(
        r.stdout.starts_with("flowchart LR") && r.stdout.contains("-->"),
        "{}",
        r.stdout
    );

    let r = run(dir.path(), &["state", "rm", "web-1"]);
    expect(&r, 0);
    let r = run(dir.path(), &["state", "list"]);
    assert_eq!(r.stdout.lines().count(), 4, "{}", r.stdout);
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_the_state_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // A stack with no state.
    for args in [
        &["state", "list", "--stack", "nope"][..],
        &["outputs", "--stack", "nope"],
        &["drift", "--stack", "nope"],
    ] {
        let r = run(dir.path(), args);
        expect(&r, 1);
        assert!(
            r.stderr.contains("stack \"nope\" has no state"),
            "{args:?}: {}",
            r.stderr
        );
    }
    expect(&run(dir.path(), &["up", "--yes"]), 0);
    let state = dir.path().join(".dafnck/dev/snapshot.json");
    let before = std::fs::read(&state).unwrap();

    let r = run(dir.path(), &["state", "show", "nope"]);
    expect(&r, 1);
    assert!(r.stderr.contains("no resource \"nope\""), "{}", r.stderr);
    let r = run(dir.path(), &["import", "nope", "id-1"]);
    expect(&r, 1);
    assert!(r.stderr.contains("no resource \"nope\""), "{}", r.stderr);

    // A saved plan of another stack.
    let plan = dir.path().join("prod.plan");
    expect(
        &run(
            dir.path(),
            &[
                "preview",
                "--stack",
                "prod",
                "--out",
                plan.to_str().unwrap(),
            ],
        ),
        0,
    );
    let r = run(
        dir.path(),
        &["up", "--yes", "--plan", plan.to_str().unwrap()],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("for stack \"prod\", not \"dev\""),
        "{}",
        r.stderr
    );

    let r = run(dir.path(), &["preview", "--target", "nope"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("resource \"nope\": is targeted"),
        "{}",
        r.stderr
    );

    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "nothing was written"
    );
}

#[test]
fn import_shows_asks_and_records_only_the_objects_named() {
    let dir = tempfile::tempdir().unwrap();
    // Objects made by another stack over the same fake cloud.
    expect(&run(dir.path(), &["up", "--yes", "--stack", "legacy"]), 0);
    let ids = recorded_ids(dir.path(), "legacy");
    let cloud = dir.path().join(".dafnck/fake-cloud");
    let objects = || std::fs::read_dir(&cloud).unwrap().count();
    assert_eq!(objects(), 5);

    // A dependency not recorded (nor imported with it) is named; nothing is made.
    let r = run(dir.path(), &["import", "web-0", &ids["web-0"], "--yes"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("depends on \"public-a\"") && r.stderr.contains("depends on \"main\""),
        "{}",
        r.stderr
    );
    assert_eq!(objects(), 5);

    // It shows what it will record and asks; `web-0` comes from a Pulumi
    // stack export (the example maps `fake:compute/instance:Instance`).
    let export = dir.path().join("pulumi-dev.json");
    let urn = |ty: &str, name: &str| format!("urn:pulumi:dev::legacy::{ty}::{name}");
    let pulumi = serde_json::json!({ "version": 3, "deployment": { "resources": [
        { "urn": urn("pulumi:pulumi:Stack", "legacy-dev"), "type": "pulumi:pulumi:Stack" },
        { "urn": urn("fake:compute/instance:Instance", "web_0"), "custom": true,
          "type": "fake:compute/instance:Instance", "id": ids["web-0"] },
        { "urn": urn("fake:dns/record:Record", "www"), "custom": true,
          "type": "fake:dns/record:Record", "id": "rec-1" },
    ]}});
    std::fs::write(&export, pulumi.to_string()).unwrap();
    let args = [
        "import",
        "main",
        &ids["main"],
        "public-a",
        &ids["public-a"],
        "--pulumi",
        export.to_str().unwrap(),
    ];
    let r = run(dir.path(), &args);
    expect(&r, 1);
    assert!(
        r.stdout
            .contains("Not imported: fake:dns/record:Record::www (no mapping for its type)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "= web-0 (fake:compute:Instance) (import {})",
            ids["web-0"]
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("3 object(s) to record"), "{}", r.stdout);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert!(!dir
        .path()
        .join(".dafnck/dev")
        .join("snapshot.json")
        .exists());

    let mut yes = args.to_vec();
    yes.push("--yes");
    let r = run(dir.path(), &yes);
    expect(&r, 0);
    assert!(
        r.stdout
            .contains(&format!("Imported {} as web-0.", ids["web-0"])),
        "{}",
        r.stdout
    );
    assert_eq!(objects(), 5, "nothing created");
    assert_eq!(
        recorded_ids(dir.path(), "dev").len(),
        3,
        "exactly the objects named"
    );

    // The rest from a bulk file.
    let file = dir.path().join("imports.json");
    let rest = serde_json::json!({ "resources": [{ "name": "public-b", "id": ids["public-b"] }]});
    std::fs::write(&file, rest.to_string()).unwrap();
    // ... and from a Terraform state (the example maps `fake_instance`).
    let tfstate = dir.path().join("terraform.tfstate");
    let tf = serde_json::json!({ "version": 4, "resources": [
        { "mode": "managed", "type": "fake_instance", "name": "web", "provider": "p",
          "instances": [{ "index_key": 1, "attributes": { "id": ids["web-1"] } }] },
        { "mode": "managed", "type": "fake_dns_record", "name": "www", "provider": "p",
          "instances": [{ "attributes": { "id": "rec-1" } }] },
    ]});
    std::fs::write(&tfstate, tf.to_string()).unwrap();
    let r = run(
        dir.path(),
        &[
            "import",
            "--file",
            file.to_str().unwrap(),
            "--terraform",
            tfstate.to_str().unwrap(),
            "--yes",
        ],
    );
    expect(&r, 0);
    assert!(
        r.stdout
            .contains("Not imported: fake_dns_record.www (no mapping for its type)"),
        "{}",
        r.stdout
    );
    assert_eq!(recorded_ids(dir.path(), "dev"), ids);
    assert_eq!(objects(), 5);
    let r = run(dir.path(), &["preview", "--detailed-exitcode"]);
    assert!(
        r.stdout.contains("0 to create, 0 to update"),
        "{}",
        r.stdout
    );

    let r = run(dir.path(), &["import", "main"]);
    expect(&r, 1);
    assert!(r.stderr.contains("has no id"), "{}", r.stderr);
}

#[test]
fn import_generate_prints_the_declaration_of_the_object_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Objects made by another stack over the same fake cloud.
    expect(&run(dir.path(), &["up", "--yes", "--stack", "legacy"]), 0);
    let ids = recorded_ids(dir.path(), "legacy");
    expect(
        &run(dir.path(), &["import", "main", &ids["main"], "--yes"]),
        0,
    );
    let state = dir.path().join(".dafnck/dev/snapshot.json");
    let before = std::fs::read(&state).unwrap();

    // The subnet as it is, its network an id of a recorded resource: a
    // reference to it.
    let r = run(
        dir.path(),
        &["import", "--generate", "public-b", &ids["public-b"]],
    );
    expect(&r, 0);
    assert_eq!(
        r.stdout,
        "let public_b = stack.add(\"public-b\", Subnet {\n    network_id: main.out().network_id,\n    \
         cidr: \"10.0.2.0/24\".into(),\n    tags: Default::default(),\n});\n"
    );
    // An instance: its password, a secret, is not printed.
    let r = run(
        dir.path(),
        &["import", "--generate", "web-0", &ids["web-0"]],
    );
    expect(&r, 0);
    assert!(
        r.stdout.contains(&format!(
            "subnet_id: Input::value(SubnetId({:?}.into())),",
            ids["public-a"]
        )) && r
            .stdout
            .contains("admin_password: Some(Secret::new(Default::default()"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("s3cret"), "{}", r.stdout);
    assert_eq!(std::fs::read(&state).unwrap(), before, "nothing recorded");
    assert_eq!(recorded_ids(dir.path(), "dev").len(), 1);

    let r = run(dir.path(), &["import", "--generate", "public-b"]);
    expect(&r, 1);
    assert!(r.stderr.contains("one NAME ID pair"), "{}", r.stderr);
    let r = run(dir.path(), &["import", "--generate", "public-b", "net-404"]);
    expect(&r, 1);
    assert!(r.stderr.contains("net-404"), "{}", r.stderr);
}

#[test]
fn up_into_a_closed_pipe_finishes_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    // The reader is gone before the program writes: every write to
    // standard output fails with a broken pipe.
    let mut child = fake_cli::command(dir.path(), &["up", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the example");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The deployment finished: everything is recorded.
    let r = run(dir.path(), &["state", "list"]);
    expect(&r, 0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
}
