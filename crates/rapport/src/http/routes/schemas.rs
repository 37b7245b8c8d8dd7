//! The Schema Registry (`/data/foundation/schemaregistry`): classes, field groups, schemas,
//! identity descriptors and unions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::catalog::schemas::{find_schema, standard_field_group_json, union_id, union_tree};
use rapport_types::Code;
use serde_json::{json, Value};
use xdm::Class;

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Sandbox};
use crate::state::AppState;

const ROOT: &str = "/data/foundation/schemaregistry";

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{ROOT}/global/classes"), get(list_classes))
        .route(
            &format!("{ROOT}/global/fieldgroups"),
            get(list_standard_groups),
        )
        .route(
            &format!("{ROOT}/global/fieldgroups/{{id}}"),
            get(get_standard_group),
        )
        .route(
            &format!("{ROOT}/tenant/fieldgroups"),
            get(list_tenant_groups).post(create_tenant_group),
        )
        .route(
            &format!("{ROOT}/tenant/fieldgroups/{{id}}"),
            get(get_tenant_group),
        )
        .route(
            &format!("{ROOT}/tenant/schemas"),
            get(list_schemas).post(create_schema),
        )
        .route(
            &format!("{ROOT}/tenant/schemas/{{id}}"),
            get(get_schema).patch(patch_schema).delete(delete_schema),
        )
        .route(
            &format!("{ROOT}/tenant/descriptors"),
            get(list_descriptors).post(create_descriptor),
        )
        .route(
            &format!("{ROOT}/tenant/descriptors/{{id}}"),
            get(get_descriptor).delete(delete_descriptor),
        )
        .route(&format!("{ROOT}/tenant/unions"), get(list_unions))
        .route(&format!("{ROOT}/tenant/unions/{{id}}"), get(get_union))
}

fn results(items: Vec<Value>) -> Value {
    json!({"results": items, "_page": {"orderby": "title", "next": null, "count": items.len()}, "_links": {}})
}

fn decoded(id: &str) -> String {
    form_urlencoded::parse(format!("x={id}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether the client asked for the fully resolved representation (`xed-full`).
fn wants_full(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("xed-full"))
}

async fn list_classes() -> Response {
    let classes: Vec<Value> = Class::ALL
        .iter()
        .map(|c| json!({"$id": c.id(), "title": c.title(), "meta:altId": c.ups_name(), "meta:resourceType": "classes", "meta:containerId": "global", "version": "1.0"}))
        .collect();
    json(StatusCode::OK, &results(classes))
}

async fn list_standard_groups() -> Response {
    let groups: Vec<Value> = xdm::standard_field_groups()
        .iter()
        .map(standard_field_group_json)
        .collect();
    json(StatusCode::OK, &results(groups))
}

async fn get_standard_group(Path(id): Path<String>) -> ApiResult<Response> {
    let id = decoded(&id);
    let group = xdm::standard_field_group(&id).ok_or_else(|| {
        ApiError::new(
            Code::FieldGroupNotFound,
            format!("no standard field group \"{id}\""),
        )
    })?;
    Ok(json(StatusCode::OK, &standard_field_group_json(group)))
}

async fn list_tenant_groups(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &results(catalog.field_groups.values().map(|g| g.to_json()).collect()),
    ))
}

async fn create_tenant_group(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let group = state.engine.create_field_group(&sandbox, body)?;
    Ok(json(StatusCode::CREATED, &group.to_json()))
}

async fn get_tenant_group(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = decoded(&id);
    let catalog = state.engine.sandbox(&sandbox)?;
    let group = catalog
        .field_groups
        .values()
        .find(|g| g.id == id || g.alt_id == id)
        .ok_or_else(|| {
            ApiError::new(
                Code::FieldGroupNotFound,
                format!("no field group \"{id}\" exists in this sandbox"),
            )
        })?;
    Ok(json(StatusCode::OK, &group.to_json()))
}

async fn list_schemas(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let full = wants_full(&headers);
    let items = catalog
        .schemas
        .values()
        .map(|s| s.to_json(catalog.compiled.get(&s.id).map(|c| c.as_ref()), full))
        .collect();
    Ok(json(StatusCode::OK, &results(items)))
}

async fn create_schema(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let record = state.engine.create_schema(&sandbox, &body)?;
    Ok(json(StatusCode::CREATED, &record.to_json(None, false)))
}

async fn get_schema(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = decoded(&id);
    let catalog = state.engine.sandbox(&sandbox)?;
    let record = find_schema(&catalog, &id).ok_or_else(|| {
        ApiError::new(
            Code::SchemaNotFound,
            format!("no schema \"{id}\" exists in this sandbox"),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        &record.to_json(
            catalog.compiled.get(&record.id).map(|c| c.as_ref()),
            wants_full(&headers),
        ),
    ))
}

async fn patch_schema(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let record = state.engine.patch_schema(&sandbox, &decoded(&id), &body)?;
    Ok(json(StatusCode::OK, &record.to_json(None, false)))
}

async fn delete_schema(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_schema(&sandbox, &decoded(&id))?;
    // An empty body, so no content type.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_descriptors(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &results(catalog.descriptors.values().map(|d| d.to_json()).collect()),
    ))
}

async fn create_descriptor(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let descriptor = state.engine.create_descriptor(&sandbox, &body)?;
    Ok(json(StatusCode::CREATED, &descriptor.to_json()))
}

async fn get_descriptor(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let descriptor = catalog.descriptors.get(&id).ok_or_else(|| {
        ApiError::new(
            Code::DescriptorNotFound,
            format!("no descriptor \"{id}\" exists in this sandbox"),
        )
    })?;
    Ok(json(StatusCode::OK, &descriptor.to_json()))
}

async fn delete_descriptor(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_descriptor(&sandbox, &id)?;
    // An empty body, so no content type.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_unions(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let unions: Vec<Value> = Class::ALL
        .iter()
        .filter(|class| catalog.schemas.values().any(|s| s.union && s.class() == **class))
        .map(|class| json!({"$id": union_id(*class), "meta:class": class.id(), "title": format!("{} union", class.title()), "meta:resourceType": "unions", "version": "1.0"}))
        .collect();
    Ok(json(StatusCode::OK, &results(unions)))
}

async fn get_union(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = decoded(&id);
    let class = Class::ALL
        .iter()
        .copied()
        .find(|c| {
            union_id(*c) == id || c.union_id() == id || id == format!("{}__union", c.ups_name())
        })
        .ok_or_else(|| {
            ApiError::new(
                Code::UnionNotFound,
                format!("no union \"{id}\"; unions are <class id>__union"),
            )
        })?;
    let catalog = state.engine.sandbox(&sandbox)?;
    let tree = union_tree(&catalog, class)?;
    let members: Vec<&str> = catalog
        .schemas
        .values()
        .filter(|s| s.union && s.class() == class)
        .map(|s| s.id.as_str())
        .collect();
    let schema = xdm::to_json_schema(&tree);
    Ok(json(
        StatusCode::OK,
        &json!({
            "$id": union_id(class),
            "meta:class": class.id(),
            "title": format!("{} union", class.title()),
            "type": "object",
            "meta:resourceType": "unions",
            "meta:extends": members,
            "properties": schema.get("properties").cloned().unwrap_or(json!({})),
        }),
    ))
}
