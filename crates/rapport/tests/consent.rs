//! Consent flags on every lookup: a profile that opted out of a marketing channel says so in the
//! entity item (`consent`), single and batch, and a segment that honours opt-outs leaves out a
//! profile that opted out of marketing altogether.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{only_entity, TestServer};

#[tokio::test]
async fn lookups_flag_the_channels_a_profile_opted_out_of() {
    let server = TestServer::start();
    server.company(&[]).await;
    let schema = server
        .schema(
            "Customers with consents",
            "profile",
            &["profile-person-details", "profile-consents"],
            &[],
        )
        .await;
    let crm = server.dataset("CRM with consents", &schema, &[]).await;
    server
        .ingest(
            &crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}]}, "person": {"name": {"firstName": "Ida"}},
                   "consents": {"marketing": {"email": {"val": "n"}, "sms": {"val": "y"}, "preferred": "sms"}}}),
        )
        .await;
    server
        .ingest(
            &crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-2", "primary": true}]}, "person": {"name": {"firstName": "Ole"}},
                   "consents": {"marketing": {"any": {"val": "n"}}}}),
        )
        .await;
    server
        .ingest(
            &crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-3", "primary": true}]}, "person": {"name": {"firstName": "Pia"}}}),
        )
        .await;
    let consent = |body: &serde_json::Value| only_entity(body).1["consent"].clone();
    let ida = server.profile("CRMID", "CRM-1").await;
    assert_eq!(
        consent(&ida.body),
        json!({"optedOutOfMarketing": false, "optedOut": ["email"]})
    );
    let ole = server.profile("CRMID", "CRM-2").await;
    assert_eq!(
        consent(&ole.body),
        json!({"optedOutOfMarketing": true, "optedOut": ["any"]})
    );
    let pia = server.profile("CRMID", "CRM-3").await;
    assert_eq!(
        consent(&pia.body),
        json!({"optedOutOfMarketing": false, "optedOut": []})
    );
    let batch = server
        .post(
            "/data/core/ups/access/entities",
            json!({"schema": {"name": "_xdm.context.profile"}, "identities": [{"entityId": "CRM-2", "entityIdNS": {"code": "CRMID"}}]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK);
    assert_eq!(consent(&batch.body)["optedOutOfMarketing"], true);

    // A segment honouring opt-outs leaves Ole out; one that does not keeps him.
    let mut ids = Vec::new();
    for exclude in [true, false] {
        let reply = server
            .post(
                "/data/core/ups/segment/definitions",
                json!({"name": format!("everyone {exclude}"), "schema": {"name": "_xdm.context.profile"},
                       "expression": {"type": "PQL", "format": "pql/text", "value": "person.name.firstName.isNotNull()"},
                       "dataGovernancePolicy": {"excludeOptOut": exclude}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        ids.push(reply.body["id"].as_str().expect("id").to_owned());
    }
    server
        .ingest(
            &crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-2", "primary": true}]}, "person": {"name": {"firstName": "Ole"}},
                   "consents": {"marketing": {"any": {"val": "n"}}}}),
        )
        .await;
    let ole = server.entity("CRMID", "CRM-2").await;
    let status = |id: &str| ole["segmentMembership"]["ups"][id]["status"].clone();
    assert_ne!(status(&ids[0]), json!("realized"), "{ole}");
    assert_eq!(status(&ids[1]), json!("realized"), "{ole}");
}
