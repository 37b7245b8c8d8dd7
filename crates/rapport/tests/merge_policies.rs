//! Merge policies: which fragment wins (timestamp, custom timestamp, dataset precedence), graph
//! or no graph, and the policy resource itself (CRUD, bulk-get, default switch, limit).

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    assert_problem, identities, next_millisecond, only_entity, pairs, Company, TestServer,
};

const ROOT: &str = "/data/core/ups/config/mergePolicies";
const CRM_ID: &str = "CRM-9";
const EMAIL: &str = "ann@example.com";

/// A CRM fragment (CRMID primary) and, ingested after it, a loyalty fragment (Email primary)
/// of the same person; each has attributes the other lacks.
async fn two_fragments(
    server: &TestServer,
    crm_updated: Option<&str>,
    loyalty_updated: Option<&str>,
) -> Company {
    let company = server.company(&[]).await;
    let mut crm = json!({
        "identityMap": {"CRMID": [{"id": CRM_ID, "primary": true}], "Email": [{"id": EMAIL}]},
        "person": {"name": {"firstName": "Ann", "lastName": "Lee"}, "birthDate": "1985-04-02"},
        "homeAddress": {"city": "Austin"}
    });
    if let Some(date) = crm_updated {
        crm["extSourceSystemAudit"] = json!({"lastUpdatedDate": date});
    }
    server.ingest(&company.crm, crm).await;
    next_millisecond().await;
    let mut loyalty = json!({
        "identityMap": {"Email": [{"id": EMAIL, "primary": true}]},
        "person": {"name": {"firstName": "Anna"}},
        "loyalty": {"tier": "silver"}
    });
    if let Some(date) = loyalty_updated {
        loyalty["extSourceSystemAudit"] = json!({"lastUpdatedDate": date});
    }
    server.ingest(&company.loyalty, loyalty).await;
    company
}

async fn create_policy(server: &TestServer, body: Value) -> Value {
    let reply = server.post(ROOT, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn precedence(name: &str, order: &[&str]) -> Value {
    json!({
        "name": name,
        "schema": {"name": "_xdm.context.profile"},
        "identityGraph": {"type": "pdg"},
        "attributeMerge": {"type": "dataSetPrecedence", "order": order},
    })
}

async fn entity_under(server: &TestServer, namespace: &str, id: &str, policy_id: &str) -> Value {
    let reply = server
        .profile_with(namespace, id, &format!("mergePolicyId={policy_id}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let item = only_entity(&reply.body).1;
    assert_eq!(item["mergePolicy"]["id"], json!(policy_id));
    item.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_policy_is_timestamp_ordered_and_the_later_ingested_value_wins() {
    let server = TestServer::start();
    let company = two_fragments(&server, None, None).await;

    let entity = server.entity("CRMID", CRM_ID).await;
    assert_eq!(
        entity["person"]["name"]["firstName"], "Anna",
        "the later fragment wins"
    );
    // Everything else of both fragments is kept.
    assert_eq!(entity["person"]["name"]["lastName"], "Lee");
    assert_eq!(entity["person"]["birthDate"], "1985-04-02");
    assert_eq!(entity["loyalty"]["tier"], "silver");

    let list = server.get(&format!("{ROOT}?default=true")).await;
    assert_eq!(list.status, StatusCode::OK);
    let policies = list.body["children"].as_array().expect("children");
    assert_eq!(policies.len(), 1, "{}", list.body);
    assert_eq!(
        policies[0]["attributeMerge"],
        json!({"type": "timestampOrdered"})
    );
    assert_eq!(policies[0]["identityGraph"], json!({"type": "pdg"}));

    // Re-ingesting the CRM record now makes it the most recent fragment.
    next_millisecond().await;
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": CRM_ID, "primary": true}], "Email": [{"id": EMAIL}]},
                "person": {"name": {"firstName": "Annie"}}
            }),
        )
        .await;
    let entity = server.entity("Email", EMAIL).await;
    assert_eq!(entity["person"]["name"]["firstName"], "Annie");
    assert!(
        entity["person"].get("birthDate").is_none(),
        "a record replaces its dataset's previous fragment: {entity}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_custom_timestamp_wins_even_when_ingested_earlier() {
    let server = TestServer::start();
    // The CRM record is ingested first but was updated at the source after the loyalty record.
    two_fragments(
        &server,
        Some("2024-05-01T10:00:00Z"),
        Some("2024-01-15T08:30:00Z"),
    )
    .await;
    let entity = server.entity("Email", EMAIL).await;
    assert_eq!(entity["person"]["name"]["firstName"], "Ann");
    assert_eq!(entity["loyalty"]["tier"], "silver");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_timestamp_older_than_a_later_ingestion_loses() {
    let server = TestServer::start();
    // The CRM record says it was last updated in 2001; the loyalty record, ingested now, is newer.
    two_fragments(&server, Some("2001-01-01T00:00:00Z"), None).await;
    let entity = server.entity("Email", EMAIL).await;
    assert_eq!(entity["person"]["name"]["firstName"], "Anna");
}

#[tokio::test(flavor = "multi_thread")]
async fn dataset_precedence_puts_the_listed_dataset_first_and_leaves_unlisted_ones_out() {
    let server = TestServer::start();
    let company = two_fragments(&server, None, None).await;

    // CRM over loyalty: the CRM first name wins although the loyalty record is newer.
    let crm_first = create_policy(
        &server,
        precedence("CRM first", &[&company.crm, &company.loyalty]),
    )
    .await;
    assert_eq!(
        crm_first["attributeMerge"],
        json!({"type": "dataSetPrecedence", "order": [company.crm, company.loyalty]})
    );
    assert_eq!(crm_first["default"], json!(false));
    let crm_first_id = crm_first["id"].as_str().expect("id");
    let item = entity_under(&server, "Email", EMAIL, crm_first_id).await;
    assert_eq!(item["entity"]["person"]["name"]["firstName"], "Ann");
    assert_eq!(item["entity"]["loyalty"]["tier"], "silver");

    // Only the loyalty dataset: the CRM attributes are not merged at all.
    let loyalty_only =
        create_policy(&server, precedence("Loyalty only", &[&company.loyalty])).await;
    let item = entity_under(
        &server,
        "CRMID",
        CRM_ID,
        loyalty_only["id"].as_str().expect("id"),
    )
    .await;
    let entity = &item["entity"];
    assert_eq!(entity["person"]["name"], json!({"firstName": "Anna"}));
    assert!(entity["person"].get("birthDate").is_none(), "{entity}");
    assert!(entity.get("homeAddress").is_none(), "{entity}");
    assert_eq!(item["sources"], json!([company.loyalty]));
    // The graph still stitches: every identity is there.
    assert_eq!(
        identities(entity),
        pairs(&[("CRMID", CRM_ID), ("Email", EMAIL)])
    );

    // Without mergePolicyId the default (timestamp ordered) still applies.
    let entity = server.entity("CRMID", CRM_ID).await;
    assert_eq!(entity["person"]["name"]["firstName"], "Anna");
    assert_eq!(entity["homeAddress"]["city"], "Austin");
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_graph_none_returns_only_the_looked_up_identity_fragment() {
    let server = TestServer::start();
    let company = two_fragments(&server, None, None).await;
    let policy = create_policy(
        &server,
        json!({
            "name": "No stitching",
            "schema": {"name": "_xdm.context.profile"},
            "identityGraph": {"type": "none"},
            "attributeMerge": {"type": "timestampOrdered"},
        }),
    )
    .await;
    let policy_id = policy["id"].as_str().expect("id");

    let by_crm = entity_under(&server, "CRMID", CRM_ID, policy_id).await;
    assert_eq!(by_crm["entity"]["person"]["name"]["firstName"], "Ann");
    assert_eq!(by_crm["entity"]["homeAddress"]["city"], "Austin");
    assert!(
        by_crm["entity"].get("loyalty").is_none(),
        "{}",
        by_crm["entity"]
    );
    assert_eq!(identities(&by_crm["entity"]), pairs(&[("CRMID", CRM_ID)]));
    assert_eq!(by_crm["sources"], json!([company.crm]));

    let by_email = entity_under(&server, "Email", EMAIL, policy_id).await;
    assert_eq!(
        by_email["entity"]["person"]["name"],
        json!({"firstName": "Anna"})
    );
    assert!(by_email["entity"].get("homeAddress").is_none());
    assert_eq!(identities(&by_email["entity"]), pairs(&[("Email", EMAIL)]));
    assert_eq!(by_email["sources"], json!([company.loyalty]));
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_support_create_get_list_put_patch_delete_and_bulk_get() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let created = create_policy(&server, precedence("CRM first", &[&company.crm])).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["schema"], json!({"name": "_xdm.context.profile"}));
    assert_eq!(created["sandbox"]["sandboxName"], "prod");
    insta::assert_json_snapshot!("created_policy", created, {
        ".id" => "[policy id]",
        ".attributeMerge.order[]" => "[dataset id]",
        ".updateEpoch" => "[epoch seconds]",
    });

    let fetched = server.get(&format!("{ROOT}/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, created);

    let list = server.get(ROOT).await;
    assert_eq!(
        list.body["_page"]["totalCount"], 2,
        "the default and the new one"
    );
    let names: Vec<&str> = list.body["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["CRM first", "Default Timebased"], "ordered by name");
    let page = server.get(&format!("{ROOT}?limit=1")).await;
    assert_eq!(page.body["children"].as_array().expect("children").len(), 1);
    assert_ne!(page.body["_links"]["next"]["href"], "");

    let patched = server
        .patch(
            &format!("{ROOT}/{id}"),
            json!([{"op": "replace", "path": "/name", "value": "CRM wins"}]),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "CRM wins");
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["attributeMerge"], created["attributeMerge"]);

    let replaced = server
        .put(
            &format!("{ROOT}/{id}"),
            json!({
                "name": "Loyalty wins",
                "schema": {"name": "_xdm.context.profile"},
                "identityGraph": {"type": "none"},
                "attributeMerge": {"type": "dataSetPrecedence", "order": [company.loyalty]},
            }),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["version"], 3);
    assert_eq!(replaced.body["identityGraph"], json!({"type": "none"}));
    assert_eq!(
        replaced.body["attributeMerge"]["order"],
        json!([company.loyalty])
    );

    let bulk = server
        .post(
            &format!("{ROOT}/bulk-get"),
            json!({"ids": [{"id": id}, {"id": "no-such-policy"}]}),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::MULTI_STATUS);
    let results = bulk.body["results"].as_object().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[&id]["name"], "Loyalty wins");
    assert_eq!(results["no-such-policy"]["status"], 404);
    assert_eq!(results["no-such-policy"]["code"], "merge_policy_not_found");

    let deleted = server.delete(&format!("{ROOT}/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body, Value::Null, "empty body");
    let gone = server.get(&format!("{ROOT}/{id}")).await;
    assert_problem(&gone, 404, "merge_policy_not_found", &[&id]);
    assert_eq!(server.get(ROOT).await.body["_page"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn making_another_policy_default_changes_lookups_without_merge_policy_id() {
    let server = TestServer::start();
    let company = two_fragments(&server, None, None).await;
    let old_default = server.get(&format!("{ROOT}?default=true")).await.body["children"][0].clone();
    let old_id = old_default["id"].as_str().expect("id").to_owned();
    assert_eq!(
        server.entity("CRMID", CRM_ID).await["homeAddress"]["city"],
        "Austin"
    );

    let policy = create_policy(&server, precedence("Loyalty only", &[&company.loyalty])).await;
    let id = policy["id"].as_str().expect("id").to_owned();
    let patched = server
        .patch(
            &format!("{ROOT}/{id}"),
            json!({"op": "add", "path": "/default", "value": "true"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["default"], json!(true));

    let old = server.get(&format!("{ROOT}/{old_id}")).await;
    assert_eq!(old.body["default"], json!(false), "one default per class");
    assert_eq!(
        old.body["version"],
        json!(old_default["version"].as_u64().expect("version") + 1)
    );

    for namespace_id in [("CRMID", CRM_ID), ("Email", EMAIL)] {
        let reply = server.profile(namespace_id.0, namespace_id.1).await;
        let item = only_entity(&reply.body).1;
        assert_eq!(item["mergePolicy"]["id"], json!(id));
        assert_eq!(item["sources"], json!([company.loyalty]));
        assert!(item["entity"].get("homeAddress").is_none(), "{item}");
        assert_eq!(
            item["entity"]["person"]["name"],
            json!({"firstName": "Anna"})
        );
    }
    // A profile written after the switch is merged under the new default as well.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-NEW", "primary": true}]}, "person": {"name": {"firstName": "Zed"}}}),
        )
        .await;
    let item = server.profile("CRMID", "CRM-NEW").await;
    let item = only_entity(&item.body).1;
    assert_eq!(item["mergePolicy"]["id"], json!(id));
    assert!(
        item["entity"].get("person").is_none(),
        "only the loyalty dataset counts: {item}"
    );

    // The default cannot be deleted, nor un-defaulted directly.
    let refused = server.delete(&format!("{ROOT}/{id}")).await;
    assert_problem(&refused, 400, "invalid_merge_policy", &["default"]);
    let refused = server
        .patch(
            &format!("{ROOT}/{id}"),
            json!({"op": "replace", "path": "/default", "value": false}),
        )
        .await;
    assert_problem(&refused, 400, "invalid_merge_policy", &["/default"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_holds_at_most_five_policies() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    // The default is the first; four more fit.
    for i in 0..4 {
        create_policy(&server, precedence(&format!("policy {i}"), &[&company.crm])).await;
    }
    assert_eq!(server.get(ROOT).await.body["_page"]["totalCount"], 5);
    let reply = server
        .post(ROOT, precedence("one too many", &[&company.crm]))
        .await;
    assert_problem(&reply, 422, "merge_policy_limit_reached", &["5"]);
    insta::assert_json_snapshot!("merge_policy_limit", reply.body);
    assert_eq!(server.get(ROOT).await.body["_page"]["totalCount"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_policies_are_404_everywhere() {
    let server = TestServer::start();
    let company = two_fragments(&server, None, None).await;
    let unknown = "6f1c2f0e-0000-4000-8000-000000000000";

    let reply = server.get(&format!("{ROOT}/{unknown}")).await;
    assert_problem(&reply, 404, "merge_policy_not_found", &[unknown]);
    insta::assert_json_snapshot!("unknown_policy", reply.body);
    let reply = server
        .patch(
            &format!("{ROOT}/{unknown}"),
            json!({"op": "replace", "path": "/name", "value": "x"}),
        )
        .await;
    assert_problem(&reply, 404, "merge_policy_not_found", &[unknown]);
    let reply = server.delete(&format!("{ROOT}/{unknown}")).await;
    assert_problem(&reply, 404, "merge_policy_not_found", &[unknown]);
    let reply = server
        .put(
            &format!("{ROOT}/{unknown}"),
            precedence("x", &[&company.crm]),
        )
        .await;
    assert_problem(&reply, 404, "merge_policy_not_found", &[unknown]);
    let reply = server
        .profile_with("CRMID", CRM_ID, &format!("mergePolicyId={unknown}"))
        .await;
    assert_problem(
        &reply,
        404,
        "merge_policy_not_found",
        &["mergePolicyId", unknown],
    );

    // A policy naming a dataset that does not exist is refused up front.
    let reply = server
        .post(ROOT, precedence("ghost", &["000000000000000000000000"]))
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_merge_policy",
        &["/attributeMerge/order/0"],
    );
}

fn timestamp_policy(name: &str, graph: &str) -> Value {
    json!({
        "name": name,
        "schema": {"name": "_xdm.context.profile"},
        "identityGraph": {"type": graph},
        "attributeMerge": {"type": "timestampOrdered"},
    })
}

/// The names of a list page's policies.
fn names(page: &Value) -> Vec<String> {
    page["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Follows `_links.next.href` from `first` to the end; returns every page.
async fn follow_pages(server: &TestServer, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let reply = server.get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        let href = reply.body["_links"]["next"]["href"]
            .as_str()
            .expect("href")
            .to_owned();
        pages.push(reply.body);
        if href.is_empty() {
            return pages;
        }
        assert!(pages.len() < 10, "paging does not end");
        let rest = href
            .strip_prefix("@/mergePolicies")
            .unwrap_or_else(|| panic!("href {href} starts with @/mergePolicies"));
        uri = format!("{ROOT}{rest}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_policy_list_next_links_keep_every_filter() {
    let server = TestServer::start();
    for (name, graph) in [
        ("a-none", "none"),
        ("b-pdg", "pdg"),
        ("c-none", "none"),
        ("d-none", "none"),
    ] {
        create_policy(&server, timestamp_policy(name, graph)).await;
    }

    // Three of the five policies are non-default and unstitched; two per page.
    let first = format!("{ROOT}?limit=2&default=false&identityGraph.type=none&attributeMerge.type=timestampOrdered&schema.name=_xdm.context.profile&isActiveOnEdge=false&orderBy=-name");
    let pages = follow_pages(&server, &first).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(names(&pages[0]), ["d-none", "c-none"]);
    assert_eq!(names(&pages[1]), ["a-none"]);
    assert_eq!(pages[0]["_page"]["totalCount"], 3);
    let href = pages[0]["_links"]["next"]["href"].as_str().unwrap();
    assert!(
        href.starts_with("@/mergePolicies?start=2&orderBy=-name&limit=2&"),
        "{href}"
    );
    for kept in [
        "default=false",
        "isActiveOnEdge=false",
        "schema.name=_xdm.context.profile",
        "identityGraph.type=none",
        "attributeMerge.type=timestampOrdered",
    ] {
        assert!(href.contains(kept), "{href} should keep {kept}");
    }

    // Only the filters given are carried.
    let pages = follow_pages(&server, &format!("{ROOT}?limit=2&default=false")).await;
    let href = pages[0]["_links"]["next"]["href"].as_str().unwrap();
    assert_eq!(
        href,
        "@/mergePolicies?start=2&orderBy=&limit=2&default=false"
    );
    let all: Vec<String> = pages.iter().flat_map(names).collect();
    assert_eq!(all, ["a-none", "b-pdg", "c-none", "d-none"]);
    assert!(pages
        .iter()
        .flat_map(|p| p["children"].as_array().unwrap().clone())
        .all(|p| p["default"] == false));
}

#[tokio::test(flavor = "multi_thread")]
async fn merge_policy_list_limit_is_1_to_1000_and_a_huge_start_is_an_empty_page() {
    let server = TestServer::start();
    create_policy(&server, timestamp_policy("extra", "none")).await;

    for limit in ["0", "1001", "-1", "many"] {
        let reply = server.get(&format!("{ROOT}?limit={limit}")).await;
        assert_problem(&reply, 400, "invalid_parameter", &["limit"]);
    }
    let reply = server.get(&format!("{ROOT}?limit=0")).await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["limit: 0 is outside 1..=1000"],
    );
    for limit in ["1", "1000"] {
        let reply = server.get(&format!("{ROOT}?limit={limit}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    // A start past the end, even u64::MAX, is an empty last page.
    let reply = server
        .get(&format!("{ROOT}?start={}&limit=1000", u64::MAX))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["children"], json!([]));
    assert_eq!(reply.body["_page"]["totalCount"], 2);
    assert_eq!(reply.body["_links"]["next"]["href"], "");
    let reply = server
        .get(&format!("{ROOT}?start=99999999999999999999"))
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["start"]);
}
