//! Reading the members of a JSON object body, with errors under the resource's own code that
//! name the member (`/name: expected a string`).

use rapport_types::Code;
use serde_json::{Map, Value};

use crate::http::error::{ApiError, ApiResult};

/// The body as an object.
pub fn object(body: &Value, code: Code) -> ApiResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| ApiError::new(code, "/: expected a JSON object"))
}

/// A member that may be absent (`None`), null (`Some(None)`) or a string.
pub fn optional_text(
    fields: &Map<String, Value>,
    field: &str,
    code: Code,
) -> ApiResult<Option<Option<String>>> {
    match fields.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(_) => Err(ApiError::new(
            code,
            format!("/{field}: expected a string or null"),
        )),
    }
}

/// A string member; absent and null are `None`.
pub fn text(fields: &Map<String, Value>, field: &str, code: Code) -> ApiResult<Option<String>> {
    Ok(optional_text(fields, field, code)?.flatten())
}

/// An array of strings; `None` when absent.
pub fn strings(
    fields: &Map<String, Value>,
    field: &str,
    code: Code,
) -> ApiResult<Option<Vec<String>>> {
    let Some(value) = fields.get(field) else {
        return Ok(None);
    };
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::new(code, format!("/{field}: expected an array of strings")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::new(code, format!("/{field}/{i}: expected a string")))
        })
        .collect::<ApiResult<Vec<String>>>()
        .map(Some)
}
