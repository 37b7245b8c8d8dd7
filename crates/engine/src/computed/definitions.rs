//! Computed attribute definitions: the stored object, its JSON in the reference's shape, and
//! create / patch / delete with the expression checked against the sandbox's event schema.
//!
//! An expression has the reference's form `xEvent[<filter>].<function>(<field>)` with the
//! function one of `sum`, `count`, `min`, `max` or `mostRecent`; the lookback is the body's
//! `duration`, or a `timestamp occurs <= N <unit> before now` clause of the filter (the form
//! the reference's UI writes), or, when neither is given, all time.

use rapport_types::Code;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::state::{Function, Lookback, LookbackUnit};
use crate::catalog::{kind, now_ms, Editor, SandboxCatalog};
use crate::error::{Error, Result};

/// At most this many computed attributes per sandbox.
pub const MAX_ATTRIBUTES: usize = 25;
/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;
/// The field group the values live in, under the tenant namespace.
pub const FIELD_GROUP: &str = "SystemComputedAttributes";

/// Draft attributes are stored but not computed; published ones are kept current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Publication {
    Draft,
    Published,
}

/// A stored computed attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputedAttribute {
    pub id: String,
    /// The field name of its value (`_{tenant}.SystemComputedAttributes.<name>.value`).
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// The expression as the client wrote it.
    pub expression: String,
    /// The event filter, in PQL, without the lookback clause (`true` when there is none).
    pub filter: String,
    pub function: Function,
    /// The event field aggregated (none for `COUNT`).
    pub field: Option<String>,
    pub lookback: Lookback,
    pub publication: Publication,
    pub creation_ms: i64,
    pub update_ms: i64,
}

impl ComputedAttribute {
    /// A fingerprint of what the attribute computes: a change to it invalidates the states kept
    /// so far.
    pub fn computation_stamp(&self) -> u64 {
        // A stable hash (the standard hasher may change between compiler releases, which
        // would recompute every stored state for nothing).
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in [
            self.filter.as_str(),
            self.function.as_str(),
            self.field.as_deref().unwrap_or(""),
            &format!("{:?}", self.lookback),
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("eight bytes"))
    }

    /// The JSON type of the value.
    fn xdm_type(&self, event: Option<&xdm::ObjectField>) -> &'static str {
        match self.function {
            Function::Count => "integer",
            Function::Sum | Function::Min | Function::Max => "number",
            Function::MostRecent => self
                .field
                .as_deref()
                .and_then(|f| event.and_then(|e| field_type(e, f)))
                .map_or("string", |ty| match ty {
                    xdm::FieldType::Integer { .. } => "integer",
                    xdm::FieldType::Number { .. } => "number",
                    xdm::FieldType::Boolean => "boolean",
                    _ => "string",
                }),
        }
    }

    /// The schema field of the value.
    pub fn value_field(&self, event: Option<&xdm::ObjectField>) -> xdm::Field {
        let ty = match self.xdm_type(event) {
            "integer" => xdm::FieldType::Integer {
                minimum: None,
                maximum: None,
            },
            "number" => xdm::FieldType::Number {
                minimum: None,
                maximum: None,
            },
            "boolean" => xdm::FieldType::Boolean,
            _ => xdm::FieldType::String(Default::default()),
        };
        let mut value = xdm::Field::new(ty);
        value.title = Some(self.display_name.clone());
        value
    }

    /// The reference's object; `status.job` tells how far the backfill went.
    pub fn to_json(&self, sandbox: &str, tenant: &str, job: &Value) -> Value {
        let mut object = json!({
            "id": self.id,
            "type": "ComputedAttribute",
            "name": self.name,
            "displayName": self.display_name,
            "imsOrgId": "rapport@AdobeOrg",
            "sandbox": {"sandboxId": sandbox, "sandboxName": sandbox, "type": if sandbox == "prod" { "production" } else { "development" }, "isDefault": sandbox == "prod"},
            "path": format!("_{tenant}"),
            "positionPath": [format!("_{tenant}"), FIELD_GROUP],
            "keepCurrent": true,
            "expression": {"type": "PQL", "format": "pql/text", "value": self.expression},
            "mergeFunction": {"value": self.function.as_str()},
            "status": {
                "type": match self.publication { Publication::Draft => "DRAFT", Publication::Published => "PUBLISHED" },
                "job": job,
            },
            "schema": {"name": "_xdm.context.profile"},
            "returnSchema": {"meta:xdmType": self.xdm_type(None)},
            "definedOn": [{"meta:resourceType": "unions", "meta:containerId": "tenant", "$ref": "https://ns.adobe.com/xdm/context/profile__union"}],
            "createEpoch": self.creation_ms,
            "updateEpoch": self.update_ms,
            "createdBy": "rapport",
        });
        object["duration"] = match self.lookback {
            Lookback::AllTime => json!({"unit": "ALL_TIME"}),
            Lookback::Last { count, unit } => json!({"count": count, "unit": unit.as_str()}),
        };
        if let Some(description) = &self.description {
            object["description"] = json!(description);
        }
        object
    }
}

/// The type of a dotted path in a schema tree.
fn field_type<'a>(tree: &'a xdm::ObjectField, path: &str) -> Option<&'a xdm::FieldType> {
    let mut object = tree;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let field = object.properties.get(name)?;
        if names.peek().is_none() {
            return Some(&field.ty);
        }
        match &field.ty {
            xdm::FieldType::Object(inner) => object = inner,
            _ => return None,
        }
    }
    None
}

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidComputedAttribute, message)
}

fn not_found(id: &str) -> Error {
    Error::user(
        Code::ComputedAttributeNotFound,
        format!("no computed attribute \"{id}\" exists in this sandbox"),
    )
}

/// What an expression says: the filter without its lookback clause, the function, the field,
/// and the lookback the clause gave (if any).
struct Parsed {
    filter: String,
    function: Function,
    field: Option<String>,
    lookback: Option<Lookback>,
}

/// Reads `xEvent[<filter>].<function>(<field>)`.
fn parse_expression(text: &str) -> Result<Parsed> {
    let expr = pql::parse(text)
        .map_err(|e| Error::user(Code::InvalidPql, format!("/expression/value: {e}")))?;
    let shape = || {
        invalid(
            "/expression/value: expected xEvent[<filter>].<function>(<field>) with the function one of sum, count, min, max, mostRecent",
        )
    };
    let pql::ExprKind::Method { object, name, args } = &expr.kind else {
        return Err(shape());
    };
    let function = match name.as_str() {
        "sum" => Function::Sum,
        "count" => Function::Count,
        "min" => Function::Min,
        "max" => Function::Max,
        "mostRecent" => Function::MostRecent,
        _ => return Err(shape()),
    };
    let field = match (function, args.as_slice()) {
        (Function::Count, []) => None,
        (Function::Count, _) => {
            return Err(invalid(
                "/expression/value: count() takes no field: it counts the matching events",
            ))
        }
        (_, [field]) => Some(field.to_string()),
        _ => {
            return Err(invalid(format!(
                "/expression/value: {name}() takes one argument, the event field it aggregates"
            )))
        }
    };
    let (source, condition) = match &object.kind {
        pql::ExprKind::Filter { object, cond } => (object, Some(&**cond)),
        pql::ExprKind::Ident(_) => (object, None),
        _ => return Err(shape()),
    };
    if !matches!(&source.kind, pql::ExprKind::Ident(n) if n == "xEvent") {
        return Err(shape());
    }
    let mut lookback = None;
    let mut kept: Vec<String> = Vec::new();
    if let Some(condition) = condition {
        let mut conjuncts = Vec::new();
        flatten_and(condition, &mut conjuncts);
        for conjunct in conjuncts {
            match lookback_clause(conjunct) {
                Some(found) => {
                    if lookback.replace(found).is_some() {
                        return Err(invalid(
                            "/expression/value: more than one lookback clause (timestamp occurs <= N units before now)",
                        ));
                    }
                }
                None => kept.push(format!("({conjunct})")),
            }
        }
    }
    let filter = if kept.is_empty() {
        "true".to_owned()
    } else {
        kept.join(" and ")
    };
    Ok(Parsed {
        filter,
        function,
        field,
        lookback,
    })
}

fn flatten_and<'e>(expr: &'e pql::Expr, out: &mut Vec<&'e pql::Expr>) {
    match &expr.kind {
        pql::ExprKind::Binary {
            op: pql::BinOp::And,
            lhs,
            rhs,
        } => {
            flatten_and(lhs, out);
            flatten_and(rhs, out);
        }
        _ => out.push(expr),
    }
}

/// `timestamp occurs <= N <unit> before now`, as a lookback.
fn lookback_clause(expr: &pql::Expr) -> Option<Lookback> {
    let text = expr.to_string();
    let words: Vec<&str> = text
        .trim_matches(|c| c == '(' || c == ')')
        .split_whitespace()
        .collect();
    let [subject, "occurs", "<=", count, unit, "before", "now"] = words.as_slice() else {
        return None;
    };
    if *subject != "timestamp" {
        return None;
    }
    let count: u32 = count.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "hour" => LookbackUnit::Hours,
        "day" => LookbackUnit::Days,
        "week" => LookbackUnit::Weeks,
        "month" => LookbackUnit::Months,
        _ => return None,
    };
    Some(Lookback::Last { count, unit })
}

/// Reads `duration`: `{"count": N, "unit": "HOURS"|"DAYS"|"WEEKS"|"MONTHS"}` within the
/// reference's limits, or `{"unit": "ALL_TIME"}`.
fn duration(value: &Value) -> Result<Lookback> {
    let unit = value.get("unit").and_then(Value::as_str).ok_or_else(|| {
        invalid("/duration/unit: required: HOURS, DAYS, WEEKS, MONTHS or ALL_TIME")
    })?;
    let (unit, max) = match unit {
        "ALL_TIME" => return Ok(Lookback::AllTime),
        "HOURS" => (LookbackUnit::Hours, 24),
        "DAYS" => (LookbackUnit::Days, 7),
        "WEEKS" => (LookbackUnit::Weeks, 4),
        "MONTHS" => (LookbackUnit::Months, 6),
        other => {
            return Err(invalid(format!(
                "/duration/unit: \"{other}\" is not one of HOURS, DAYS, WEEKS, MONTHS, ALL_TIME"
            )))
        }
    };
    let count = value
        .get("count")
        .and_then(Value::as_u64)
        .filter(|c| (1..=max).contains(c))
        .ok_or_else(|| {
            invalid(format!(
                "/duration/count: expected a whole number from 1 to {max} for {}",
                unit.as_str()
            ))
        })?;
    Ok(Lookback::Last {
        count: count as u32,
        unit,
    })
}

fn string_field(value: &Value, pointer: &str) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("{pointer}: expected a string, found {value}")))
}

/// Applies one top-level field of a create or patch body; `duration` and `expression` are
/// reconciled afterwards.
fn apply_field(
    attribute: &mut ComputedAttribute,
    given_duration: &mut Option<Lookback>,
    field: &str,
    value: &Value,
) -> Result<()> {
    match field {
        "name" => {
            let name = string_field(value, "/name")?;
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.len() <= 64;
            if !valid {
                return Err(invalid(format!(
                    "/name: \"{name}\" must start with a letter and hold only letters, digits and _ (at most 64): it becomes a field name"
                )));
            }
            if ["lifetimeValue", "churnPropensity"].contains(&name.as_str()) {
                return Err(invalid(format!(
                    "/name: \"{name}\" is the field of a built-in model score; choose another name"
                )));
            }
            attribute.name = name;
        }
        "displayName" => {
            let display = string_field(value, "/displayName")?;
            if display.trim().is_empty() || display.len() > 256 {
                return Err(invalid("/displayName: from 1 to 256 characters"));
            }
            attribute.display_name = display;
        }
        "description" => {
            attribute.description = match value {
                Value::Null => None,
                other => Some(string_field(other, "/description")?),
            }
        }
        "expression" => {
            let text = match value {
                Value::Object(o) => {
                    match o.get("type") {
                        None => {}
                        Some(Value::String(t)) if t == "PQL" => {}
                        Some(other) => {
                            return Err(invalid(format!(
                                "/expression/type: expected \"PQL\", found {other}"
                            )))
                        }
                    }
                    match o.get("format") {
                        None => {}
                        Some(Value::String(f)) if f == "pql/text" => {}
                        Some(other) => {
                            return Err(invalid(format!(
                                "/expression/format: expected \"pql/text\", found {other}"
                            )))
                        }
                    }
                    string_field(
                        o.get("value")
                            .ok_or_else(|| invalid("/expression/value: required"))?,
                        "/expression/value",
                    )?
                }
                other => {
                    return Err(invalid(format!(
                        "/expression: expected {{\"type\": \"PQL\", \"format\": \"pql/text\", \"value\": \"...\"}}, found {other}"
                    )))
                }
            };
            if text.len() > MAX_EXPRESSION_BYTES {
                return Err(invalid(format!(
                    "/expression/value: more than {MAX_EXPRESSION_BYTES} bytes"
                )));
            }
            attribute.expression = text;
        }
        "duration" => *given_duration = Some(duration(value)?),
        "status" => match value.get("type").and_then(Value::as_str) {
            Some("DRAFT") => attribute.publication = Publication::Draft,
            Some("PUBLISHED") => attribute.publication = Publication::Published,
            None => {}
            Some(other) => {
                return Err(invalid(format!(
                    "/status/type: expected \"DRAFT\" or \"PUBLISHED\", found \"{other}\""
                )))
            }
        },
        // Read-only fields the reference returns; accepted and ignored.
        "id" | "type" | "imsOrgId" | "sandbox" | "path" | "positionPath" | "keepCurrent"
        | "mergeFunction" | "schema" | "returnSchema" | "definedOn" | "createEpoch"
        | "updateEpoch" | "createdBy" => {}
        other => {
            return Err(invalid(format!(
                "/{other}: unknown field of a computed attribute"
            )))
        }
    }
    Ok(())
}

/// Reconciles the expression with `duration` and checks it against the event schema.
fn settle(
    catalog: &SandboxCatalog,
    attribute: &mut ComputedAttribute,
    given_duration: Option<Lookback>,
) -> Result<()> {
    let parsed = parse_expression(&attribute.expression)?;
    attribute.lookback = match (parsed.lookback, given_duration) {
        (Some(clause), Some(duration)) if clause != duration => {
            return Err(invalid(format!(
            "/duration: {duration:?} disagrees with the expression's lookback clause ({clause:?})"
        )))
        }
        (Some(lookback), _) | (None, Some(lookback)) => lookback,
        (None, None) => attribute.lookback,
    };
    attribute.filter = parsed.filter;
    attribute.function = parsed.function;
    attribute.field = parsed.field;
    let compiled = super::CompiledAttribute::compile(&super::union_trees(catalog)?, attribute)?;
    if let (Some(field), Some(kind)) = (&attribute.field, compiled.field_kind) {
        if attribute.function.numeric() && !kind {
            return Err(invalid(format!(
                "/expression/value: {}() needs a number, but {field} is not a number field",
                attribute.function.method()
            )));
        }
    }
    Ok(())
}

pub(crate) fn create(editor: &mut Editor<'_>, body: &Value) -> Result<ComputedAttribute> {
    let Some(object) = body.as_object() else {
        return Err(invalid("the body must be a computed attribute object"));
    };
    if editor.catalog.computed.len() >= MAX_ATTRIBUTES {
        return Err(Error::user(
            Code::ComputedAttributeLimit,
            format!("a sandbox holds at most {MAX_ATTRIBUTES} computed attributes"),
        ));
    }
    for required in ["name", "expression"] {
        if !object.contains_key(required) {
            return Err(invalid(format!(
                "/{required}: required when creating a computed attribute"
            )));
        }
    }
    let now = now_ms();
    let mut attribute = ComputedAttribute {
        id: uuid::Uuid::new_v4().to_string(),
        name: String::new(),
        display_name: String::new(),
        description: None,
        expression: String::new(),
        filter: String::new(),
        function: Function::Count,
        field: None,
        lookback: Lookback::AllTime,
        publication: Publication::Published,
        creation_ms: now,
        update_ms: now,
    };
    let mut given_duration = None;
    for (field, value) in object {
        apply_field(&mut attribute, &mut given_duration, field, value)?;
    }
    if attribute.display_name.is_empty() {
        attribute.display_name = attribute.name.clone();
    }
    settle(editor.catalog, &mut attribute, given_duration)?;
    save(editor, attribute)
}

fn save(editor: &mut Editor<'_>, attribute: ComputedAttribute) -> Result<ComputedAttribute> {
    if let Some(other) = editor
        .catalog
        .computed
        .values()
        .find(|a| a.id != attribute.id && a.name == attribute.name)
    {
        return Err(Error::user(
            Code::ComputedAttributeNameTaken,
            format!(
                "/name: a computed attribute named \"{}\" already exists ({})",
                attribute.name, other.id
            ),
        ));
    }
    editor.record(kind::COMPUTED, &attribute.id, &attribute)?;
    editor
        .catalog
        .computed
        .insert(attribute.id.clone(), attribute.clone());
    Ok(attribute)
}

/// The attribute with this id.
pub fn existing(catalog: &SandboxCatalog, id: &str) -> Result<ComputedAttribute> {
    catalog
        .computed
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// PATCH: the fields given replace the stored ones. A published attribute cannot go back to
/// draft, as in the reference.
pub(crate) fn patch(editor: &mut Editor<'_>, id: &str, body: &Value) -> Result<ComputedAttribute> {
    let before = existing(editor.catalog, id)?;
    let Some(object) = body.as_object() else {
        return Err(invalid(
            "the body must be a (partial) computed attribute object",
        ));
    };
    let mut attribute = before.clone();
    let mut given_duration = None;
    for (field, value) in object {
        apply_field(&mut attribute, &mut given_duration, field, value)?;
    }
    if before.publication == Publication::Published && attribute.publication == Publication::Draft {
        return Err(invalid(
            "/status/type: a published computed attribute cannot go back to DRAFT",
        ));
    }
    if attribute.name != before.name && segments_reading(editor.catalog, &before.name) {
        return Err(Error::user(
            Code::ComputedAttributeInUse,
            format!(
                "/name: segment definitions read \"{}\"; change them before renaming it",
                before.name
            ),
        ));
    }
    settle(editor.catalog, &mut attribute, given_duration)?;
    if attribute == before {
        return Ok(attribute);
    }
    attribute.update_ms = now_ms().max(before.update_ms + 1);
    save(editor, attribute)
}

/// Whether a segment definition mentions the attribute's field.
fn segments_reading(catalog: &SandboxCatalog, name: &str) -> bool {
    let needle = format!("{FIELD_GROUP}.{name}");
    catalog
        .segments
        .values()
        .any(|s| s.expression.contains(&needle))
}

pub(crate) fn delete(editor: &mut Editor<'_>, id: &str) -> Result<()> {
    let attribute = existing(editor.catalog, id)?;
    if segments_reading(editor.catalog, &attribute.name) {
        return Err(Error::user(
            Code::ComputedAttributeInUse,
            format!(
                "computed attribute \"{}\" is read by segment definitions; change them first",
                attribute.name
            ),
        ));
    }
    editor.catalog.computed.remove(id);
    editor.forget(kind::COMPUTED, id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_form_splits_into_filter_function_field_and_lookback() {
        let parsed = parse_expression(
            r#"xEvent[(commerce.purchases.value > 0.0 or commerce.order.priceTotal >= 10.0) and (timestamp occurs <= 7 days before now)].sum(commerce.order.priceTotal)"#,
        )
        .unwrap_or_else(|_| panic!("parses"));
        assert_eq!(parsed.function, Function::Sum);
        assert_eq!(parsed.field.as_deref(), Some("commerce.order.priceTotal"));
        assert_eq!(
            parsed.lookback,
            Some(Lookback::Last {
                count: 7,
                unit: LookbackUnit::Days
            })
        );
        assert!(!parsed.filter.contains("occurs"), "{}", parsed.filter);
        let count = parse_expression("xEvent.count()").unwrap_or_else(|_| panic!("parses"));
        assert_eq!(
            (count.function, count.filter.as_str()),
            (Function::Count, "true")
        );
        assert!(parse_expression("xEvent[true].average(x)").is_err());
        assert!(parse_expression("person.name").is_err());
    }
}
