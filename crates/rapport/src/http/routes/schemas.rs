//! The Schema Registry (`/data/foundation/schemaregistry`): classes, field groups, schemas,
//! identity descriptors and unions.

use super::table::Route;
use crate::http::auth::{Authorized, LabelsManage, Permit, SchemasRead, SchemasWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::catalog::schemas::{find_schema, standard_field_group_json, union_id, union_tree};
use rapport_types::Code;
use serde_json::{json, Value};
use xdm::Class;

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::AppState;

const ROOT: &str = "/data/foundation/schemaregistry";

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, format!("{ROOT}/global/classes"), list_classes),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/global/fieldgroups"),
            list_standard_groups,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/global/fieldgroups/{{id}}"),
            get_standard_group,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/fieldgroups"),
            list_tenant_groups,
        ),
        Route::keyed(
            Method::POST,
            format!("{ROOT}/tenant/fieldgroups"),
            create_tenant_group,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/fieldgroups/{{id}}"),
            get_tenant_group,
        ),
        Route::keyed(Method::GET, format!("{ROOT}/tenant/schemas"), list_schemas),
        Route::keyed(
            Method::POST,
            format!("{ROOT}/tenant/schemas"),
            create_schema,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/schemas/{{id}}"),
            get_schema,
        ),
        Route::keyed(
            Method::PATCH,
            format!("{ROOT}/tenant/schemas/{{id}}"),
            patch_schema,
        ),
        Route::keyed(
            Method::DELETE,
            format!("{ROOT}/tenant/schemas/{{id}}"),
            delete_schema,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/descriptors"),
            list_descriptors,
        ),
        Route::keyed(
            Method::POST,
            format!("{ROOT}/tenant/descriptors"),
            create_descriptor,
        ),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/descriptors/{{id}}"),
            get_descriptor,
        ),
        Route::keyed(
            Method::DELETE,
            format!("{ROOT}/tenant/descriptors/{{id}}"),
            delete_descriptor,
        ),
        Route::keyed(Method::GET, format!("{ROOT}/tenant/unions"), list_unions),
        Route::keyed(
            Method::GET,
            format!("{ROOT}/tenant/unions/{{id}}"),
            get_union,
        ),
    ]
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

async fn list_classes(_: Authorized<SchemasRead>) -> Response {
    let classes: Vec<Value> = Class::ALL
        .iter()
        .map(|c| json!({"$id": c.id(), "title": c.title(), "meta:altId": c.ups_name(), "meta:resourceType": "classes", "meta:containerId": "global", "version": "1.0"}))
        .collect();
    json(StatusCode::OK, &results(classes))
}

async fn list_standard_groups(_: Authorized<SchemasRead>) -> Response {
    let groups: Vec<Value> = xdm::standard_field_groups()
        .iter()
        .map(standard_field_group_json)
        .collect();
    json(StatusCode::OK, &results(groups))
}

async fn get_standard_group(
    _: Authorized<SchemasRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
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
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &results(catalog.field_groups.values().map(|g| g.to_json()).collect()),
    ))
}

async fn create_tenant_group(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let group = state.engine.create_field_group(&sandbox, body)?;
    Ok(json(StatusCode::CREATED, &group.to_json()))
}

async fn get_tenant_group(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let record = state.engine.create_schema(&sandbox, &body)?;
    Ok(json(StatusCode::CREATED, &record.to_json(None, false)))
}

async fn get_schema(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let record = state.engine.patch_schema(&sandbox, &decoded(&id), &body)?;
    Ok(json(StatusCode::OK, &record.to_json(None, false)))
}

async fn delete_schema(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_schema(&sandbox, &decoded(&id))?;
    // An empty body, so no content type.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_descriptors(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    Ok(json(
        StatusCode::OK,
        &results(
            catalog
                .descriptors
                .values()
                .map(|d| d.to_json())
                .chain(catalog.label_descriptors.values().map(|d| d.to_json()))
                .collect(),
        ),
    ))
}

/// Creates an identity descriptor, or a label descriptor, which also needs `labels.manage` (so
/// that whoever may change schemas cannot unlabel a field and then read it).
async fn create_descriptor(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    labels: Permit<LabelsManage>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    if engine::catalog::schemas::descriptor_type(&body) == "xdm:descriptorLabel" {
        labels.require()?;
    }
    let descriptor = state.engine.create_descriptor(&sandbox, &body)?;
    Ok(json(StatusCode::CREATED, &descriptor.to_json()))
}

async fn get_descriptor(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let descriptor = catalog
        .descriptors
        .get(&id)
        .map(|d| d.to_json())
        .or_else(|| catalog.label_descriptors.get(&id).map(|d| d.to_json()))
        .ok_or_else(|| {
            ApiError::new(
                Code::DescriptorNotFound,
                format!("no descriptor \"{id}\" exists in this sandbox"),
            )
        })?;
    Ok(json(StatusCode::OK, &descriptor))
}

async fn delete_descriptor(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    labels: Permit<LabelsManage>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if state
        .engine
        .sandbox(&sandbox)?
        .label_descriptors
        .contains_key(&id)
    {
        labels.require()?;
    }
    state.engine.delete_descriptor(&sandbox, &id)?;
    // An empty body, so no content type.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_unions(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
