//! Merged-away profile ids keep resolving, in one hop, however many merges follow
//! (regression: a chain of more than 64 forwards answered 500).

use engine::{Engine, EngineConfig, EntityRef, IdentityKey, Job, ProfileRequest};
use rapport_types::{ProfileId, SandboxName};
use serde_json::json;

fn ingest(engine: &Engine, dataset: &str, emails: &[String], index: usize) -> ProfileId {
    let sandbox = SandboxName::default_sandbox();
    let catalog = engine.sandbox(&sandbox).expect("catalog");
    let identities: Vec<_> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"id": e, "primary": i == 0}))
        .collect();
    let entity = json!({"identityMap": {"Email": identities}, "person": {"name": {"firstName": format!("record {index}")}}});
    let write = engine
        .prepare(
            &catalog,
            dataset,
            entity,
            format!("test:{index}"),
            1_700_000_000_000 + index as i64,
        )
        .expect("valid");
    let (sender, receiver) = std::sync::mpsc::channel();
    engine
        .submit(Job::Ingest {
            writes: vec![write],
            reply: Box::new(move |r| sender.send(r).expect("send")),
        })
        .expect("submit");
    let mut results = receiver.recv().expect("reply").expect("committed");
    results.remove(0).expect("applied").expect("a profile")
}

#[test]
fn a_profile_id_merged_a_hundred_times_still_resolves() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = Engine::open(&EngineConfig {
        data_dir: dir.path().to_path_buf(),
        map_size_bytes: 1 << 30,
        tenant_id: "rapport".into(),
        graph_limit: 500,
        blocked_identity_values: vec![],
    })
    .expect("engine");
    let sandbox = SandboxName::default_sandbox();
    let schema = engine
        .create_schema(&sandbox, &json!({"title": "People", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"}], "meta:immutableTags": ["union"]}))
        .expect("schema");
    let dataset = engine
        .create_dataset(&sandbox, &json!({"name": "people", "schemaRef": {"id": schema.id}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}}))
        .expect("dataset")
        .id;
    let email = |i: usize| format!("person{i}@example.com");
    let count = 100;
    let ids: Vec<ProfileId> = (0..count)
        .map(|i| ingest(&engine, &dataset, &[email(i)], i))
        .collect();
    // Merge from the newest down: each merge makes the newest survivor forward to an older one.
    for i in (1..count).rev() {
        let survivor = ingest(&engine, &dataset, &[email(i), email(i - 1)], count + i);
        assert_eq!(
            survivor,
            ids[i - 1],
            "the older profile id survives a merge"
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let (found, graph) = engine
            .graph(&sandbox, &EntityRef::Profile(*id))
            .expect("read")
            .expect("forwarded id resolves");
        assert_eq!(found, ids[0], "profile id {i} resolves to the survivor");
        assert_eq!(graph.nodes.len(), count);
        let (_, item) = engine
            .profile(
                &sandbox,
                &EntityRef::Profile(*id),
                &ProfileRequest::default(),
                &engine::Redaction::none(),
            )
            .expect("lookup")
            .expect("found");
        assert!(String::from_utf8_lossy(&item).contains(&ids[0].to_string()));
    }
    let by_email = engine
        .graph(
            &sandbox,
            &EntityRef::Identity(IdentityKey::new("Email", email(count - 1))),
        )
        .expect("read")
        .expect("found");
    assert_eq!(by_email.0, ids[0]);
}
