//! The Identity Service API: XIDs, cluster members (one and batch), and mappings.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_problem, ecid, encode, iso, TestServer};

const EMAIL: &str = "omar.haddad@example.com";
const CRM_ID: &str = "CRM-OMAR";
const PHONE: &str = "+12065550042";

/// One person with four identities; returns the CRMID namespace's numeric id.
async fn omar(server: &TestServer) -> u64 {
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": CRM_ID, "primary": true}], "Email": [{"id": EMAIL}]}}),
        )
        .await;
    server
        .ingest(
            &company.web,
            json!({"_id": "w", "timestamp": iso(1_700_000_000_000), "identityMap": {"ECID": [{"id": ecid(42)}], "Email": [{"id": EMAIL}]}}),
        )
        .await;
    server
        .ingest(
            &company.calls,
            json!({"_id": "c", "timestamp": iso(1_700_000_000_000), "identityMap": {"Phone": [{"id": PHONE}], "CRMID": [{"id": CRM_ID}]}}),
        )
        .await;
    let namespace = server.get("/data/core/idnamespace/identities/CRMID").await;
    assert_eq!(namespace.status, StatusCode::OK);
    assert_eq!(namespace.body["custom"], json!(true));
    namespace.body["id"].as_u64().expect("numeric id")
}

fn sorted_members(cluster: &Value) -> Vec<(u64, String)> {
    let mut members: Vec<(u64, String)> = cluster["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["nsid"].as_u64().expect("numeric nsid"),
                m["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    members.sort();
    members
}

async fn xid_of(server: &TestServer, namespace: &str, id: &str) -> String {
    let reply = server
        .get(&format!(
            "/data/core/identity/identity?ns={namespace}&id={}",
            encode(id)
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let xid = reply.body["xid"].as_str().expect("xid").to_owned();
    assert!(!xid.is_empty());
    xid
}

#[tokio::test(flavor = "multi_thread")]
async fn xid_and_cluster_members_by_namespace_and_by_xid() {
    let server = TestServer::start();
    let crm_nsid = omar(&server).await;
    assert!(crm_nsid >= 1000, "custom namespaces are numbered from 1000");

    let xid = xid_of(&server, "Email", EMAIL).await;
    assert_ne!(
        xid,
        xid_of(&server, "Email", "someone.else@example.com").await
    );
    assert_eq!(
        xid,
        xid_of(&server, "email", EMAIL).await,
        "namespace codes are case-insensitive"
    );
    // The numeric namespace id gives the same XID.
    let by_nsid = server
        .get(&format!(
            "/data/core/identity/identity?nsId=6&id={}",
            encode(EMAIL)
        ))
        .await;
    assert_eq!(by_nsid.body["xid"], json!(xid));

    let mut expected = vec![
        (4, ecid(42)),
        (6, EMAIL.to_owned()),
        (7, PHONE.to_owned()),
        (crm_nsid, CRM_ID.to_owned()),
    ];
    expected.sort();

    let by_ns = server
        .get(&format!(
            "/data/core/identity/cluster/members?ns=Email&id={}",
            encode(EMAIL)
        ))
        .await;
    assert_eq!(by_ns.status, StatusCode::OK, "{}", by_ns.body);
    let clusters = by_ns.body["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["xid"], json!(xid));
    assert_eq!(clusters[0]["compositeXid"], json!({"nsid": 6, "id": EMAIL}));
    assert_eq!(sorted_members(&clusters[0]), expected);
    assert_eq!(by_ns.body["unprocessedXids"], json!([]));

    let by_xid = server
        .get(&format!("/data/core/identity/cluster/members?xid={xid}"))
        .await;
    assert_eq!(by_xid.status, StatusCode::OK, "{}", by_xid.body);
    assert_eq!(sorted_members(&by_xid.body["clusters"][0]), expected);

    // Without stitching, a cluster is the identity alone.
    let alone = server
        .get(&format!(
            "/data/core/identity/cluster/members?xid={xid}&graph-type=None"
        ))
        .await;
    assert_eq!(
        sorted_members(&alone.body["clusters"][0]),
        [(6, EMAIL.to_owned())]
    );

    // An identity never seen is a cluster of itself; a bad XID is named.
    let stranger = server
        .get("/data/core/identity/cluster/members?ns=Email&id=nobody@example.com")
        .await;
    assert_eq!(
        sorted_members(&stranger.body["clusters"][0]),
        [(6, "nobody@example.com".to_owned())]
    );
    let bad = server
        .get("/data/core/identity/cluster/members?xid=%%%")
        .await;
    assert_problem(&bad, 400, "invalid_parameter", &["xid"]);
    let unknown = server
        .get("/data/core/identity/cluster/members?ns=Nope&id=1")
        .await;
    assert_problem(&unknown, 404, "namespace_not_found", &["Nope"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_cluster_members_answers_each_xid_and_refuses_more_than_1000() {
    let server = TestServer::start();
    let crm_nsid = omar(&server).await;
    let email_xid = xid_of(&server, "Email", EMAIL).await;
    let stranger_xid = xid_of(&server, "ECID", &ecid(1)).await;

    let reply = server
        .post(
            "/data/core/identity/clusters/members",
            json!({"xids": [email_xid, stranger_xid], "graph-type": "Private Graph"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let clusters = reply.body["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 2, "one cluster per requested XID");
    assert_eq!(clusters[0]["xid"], json!(email_xid));
    assert_eq!(sorted_members(&clusters[0]).len(), 4);
    assert_eq!(sorted_members(&clusters[1]), [(4, ecid(1))]);

    let reply = server
        .post(
            "/data/core/identity/clusters/members",
            json!({"compositeXids": [{"nsid": crm_nsid, "id": CRM_ID}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(sorted_members(&reply.body["clusters"][0]).len(), 4);

    let too_many: Vec<String> = (0..1001).map(|_| email_xid.clone()).collect();
    let reply = server
        .post(
            "/data/core/identity/clusters/members",
            json!({"xids": too_many}),
        )
        .await;
    assert_problem(&reply, 400, "too_many_items", &["1000", "1001"]);
    insta::assert_json_snapshot!("too_many_xids", reply.body);
    let exactly: Vec<String> = (0..1000).map(|_| email_xid.clone()).collect();
    let reply = server
        .post(
            "/data/core/identity/clusters/members",
            json!({"xids": exactly}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["clusters"].as_array().expect("clusters").len(),
        1000
    );

    let reply = server
        .post("/data/core/identity/clusters/members", json!({"xids": []}))
        .await;
    assert_problem(&reply, 400, "missing_parameter", &["/xids"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn mapping_lists_the_other_identities_and_filters_by_target_namespace() {
    let server = TestServer::start();
    let crm_nsid = omar(&server).await;

    let reply = server
        .get(&format!(
            "/data/core/identity/mapping?ns=Email&id={}",
            encode(EMAIL)
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mapping = &reply.body["mappings"][0];
    assert_eq!(mapping["compositeXid"], json!({"nsid": 6, "id": EMAIL}));
    let mut mapped: Vec<(u64, String)> = mapping["mapping"]
        .as_array()
        .expect("mapping")
        .iter()
        .map(|m| {
            assert!(m["lastAssociationTime"]
                .as_str()
                .is_some_and(|t| t.parse::<i64>().is_ok()));
            (
                m["compositeXid"]["nsid"].as_u64().expect("nsid"),
                m["compositeXid"]["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    mapped.sort();
    let mut expected = vec![
        (4, ecid(42)),
        (7, PHONE.to_owned()),
        (crm_nsid, CRM_ID.to_owned()),
    ];
    expected.sort();
    assert_eq!(
        mapped, expected,
        "every other identity, not the identity itself"
    );

    let reply = server
        .get(&format!(
            "/data/core/identity/mapping?ns=Email&id={}&targetNs=4",
            encode(EMAIL)
        ))
        .await;
    let mapping = reply.body["mappings"][0]["mapping"]
        .as_array()
        .expect("mapping");
    assert_eq!(mapping.len(), 1, "{}", reply.body);
    assert_eq!(
        mapping[0]["compositeXid"],
        json!({"nsid": 4, "id": ecid(42)})
    );

    let reply = server
        .get(&format!(
            "/data/core/identity/mapping?ns=Email&id={}&targetNs={crm_nsid}",
            encode(EMAIL)
        ))
        .await;
    let mapping = reply.body["mappings"][0]["mapping"]
        .as_array()
        .expect("mapping");
    assert_eq!(mapping.len(), 1);
    assert_eq!(mapping[0]["compositeXid"]["id"], CRM_ID);

    // The batch form: 204 when nothing is related, else one mapping per XID.
    let email_xid = xid_of(&server, "Email", EMAIL).await;
    let stranger_xid = xid_of(&server, "Email", "nobody@example.com").await;
    let reply = server
        .post(
            "/data/core/identity/mappings",
            json!({"xids": [stranger_xid], "targetNs": "4"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = server
        .post(
            "/data/core/identity/mappings",
            json!({"xids": [email_xid, stranger_xid], "targetNs": 7}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mappings = reply.body["mappings"].as_array().expect("mappings");
    assert_eq!(mappings.len(), 2);
    assert_eq!(
        mappings[0]["mapping"][0]["compositeXid"],
        json!({"nsid": 7, "id": PHONE})
    );
    assert_eq!(mappings[1]["mapping"], json!([]));

    let reply = server
        .get("/data/core/identity/mapping?ns=Email&id=x&targetNs=ECID")
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["targetNs"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_ids_that_do_not_fit_u32_are_400_naming_the_pointer() {
    let server = TestServer::start();
    omar(&server).await;
    // 2^32 + 6 would wrap to 6 (Email) if truncated.
    let wrapped_email = (1u64 << 32) + 6;

    let reply = server
        .post(
            "/data/core/identity/clusters/members",
            json!({"compositeXids": [{"nsid": 6, "id": EMAIL}, {"nsid": wrapped_email, "id": EMAIL}]}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["/compositeXids/1/nsid", "4294967302", "0 to 4294967295"],
    );
    for nsid in [json!(-1), json!(6.5), json!("6"), json!(null)] {
        let reply = server
            .post(
                "/data/core/identity/mappings",
                json!({"compositeXids": [{"nsid": nsid, "id": EMAIL}]}),
            )
            .await;
        assert_problem(&reply, 400, "invalid_parameter", &["/compositeXids/0/nsid"]);
    }

    // targetNs: 2^32 + 4 would wrap to ECID; as a number, a numeric string, or anything else.
    let wrapped_ecid = (1u64 << 32) + 4;
    for target in [
        json!(wrapped_ecid),
        json!(wrapped_ecid.to_string()),
        json!(-4),
        json!("ECID"),
        json!([4]),
    ] {
        let reply = server
            .post(
                "/data/core/identity/mappings",
                json!({"compositeXids": [{"nsid": 6, "id": EMAIL}], "targetNs": target}),
            )
            .await;
        assert_problem(
            &reply,
            400,
            "invalid_parameter",
            &["/targetNs", "0 to 4294967295"],
        );
    }
    let reply = server
        .get(&format!(
            "/data/core/identity/mapping?ns=Email&id={}&targetNs={wrapped_ecid}",
            encode(EMAIL)
        ))
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["targetNs"]);

    // Ids that fit still work, as numbers and numeric strings.
    for target in [json!(4), json!("4")] {
        let reply = server
            .post(
                "/data/core/identity/mappings",
                json!({"compositeXids": [{"nsid": 6, "id": EMAIL}], "targetNs": target}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.body["mappings"][0]["mapping"][0]["compositeXid"],
            json!({"nsid": 4, "id": ecid(42)})
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_mappings_answer_is_204_without_a_content_type() {
    let server = TestServer::start();
    omar(&server).await;
    let reply = server
        .post(
            "/data/core/identity/mappings",
            json!({"compositeXids": [{"nsid": 6, "id": "nobody@example.com"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, Value::Null);
    assert_eq!(reply.content_type(), None);
}
