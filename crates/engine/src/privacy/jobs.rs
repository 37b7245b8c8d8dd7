//! Privacy jobs: the reference's request body checked field by field, the job record kept in the
//! Privacy table while it moves through its steps, and its JSON in the reference's shape.
//!
//! One request makes one job per data subject (`users[]` entry) and action, as the reference's
//! answer lists them; a subject's access job runs before its delete job.

use std::collections::BTreeMap;

use rapport_types::{Code, ProfileId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::identity::namespace::{standard_namespaces, valid_code};
use crate::identity::IdentityKey;
use crate::time::format_rfc3339_ms;

/// The most data subjects one request may name.
pub const MAX_USERS: usize = 1000;
/// The most identities one data subject may be given by (the reference's rule).
pub const MAX_USER_IDS: usize = 9;
const MAX_KEY_CHARS: usize = 256;
const MAX_VALUE_CHARS: usize = 1024;
const MAX_REGULATION_CHARS: usize = 64;

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidPrivacyJob, message)
}

/// The JSON type of a value, with its article, for messages ("found a number").
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a job does for its data subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyAction {
    Access,
    Delete,
}

impl PrivacyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyAction::Access => "access",
            PrivacyAction::Delete => "delete",
        }
    }
}

/// The products a job reaches, in the reference's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Product {
    /// The profile store: fragments, events, views, computed attributes, memberships.
    ProfileService,
    /// The identity graph: identities, graphs, forwards, other graphs' history naming them.
    Identity,
}

impl Product {
    pub fn as_str(self) -> &'static str {
        match self {
            Product::ProfileService => "ProfileService",
            Product::Identity => "identity",
        }
    }

    fn parse(text: &str) -> Option<Product> {
        match text.to_ascii_lowercase().as_str() {
            "profileservice" => Some(Product::ProfileService),
            "identity" => Some(Product::Identity),
            _ => None,
        }
    }
}

/// Whether a user id's namespace is a standard one or the organisation's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserIdType {
    Standard,
    Unregistered,
}

impl UserIdType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserIdType::Standard => "standard",
            UserIdType::Unregistered => "unregistered",
        }
    }
}

/// One identity of the data subject, as the request gave it. Once the job is finished the value
/// is replaced by [`hash_user_id`] and `hashed` is set, so the record keeps no identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserId {
    pub namespace: String,
    pub value: String,
    pub id_type: UserIdType,
    #[serde(default)]
    pub hashed: bool,
}

/// The one-way hash that replaces a user id's value when its job is finished: SHA-256 (hex) of
/// the lowercased namespace code, a NUL, and the value.
pub fn hash_user_id(namespace: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(namespace.to_ascii_lowercase().as_bytes());
    hasher.update([0]);
    hasher.update(value.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The reference's job status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Processing,
    Complete,
    Error,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Processing => "processing",
            JobStatus::Complete => "complete",
            JobStatus::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        match text.to_ascii_lowercase().as_str() {
            "processing" => Some(JobStatus::Processing),
            "complete" => Some(JobStatus::Complete),
            "error" => Some(JobStatus::Error),
            _ => None,
        }
    }
}

/// Where a job is. Each step is persisted before the next starts, so a job interrupted by a
/// stop resumes at the step it reached (every step can be run again with the same outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Accepted, not started.
    Queued,
    /// The identities were resolved to profiles in every sandbox ([`Resolution`]).
    Resolved,
    /// The access result was written (access jobs; delete jobs pass straight through).
    Accessed,
    /// The profiles were erased through the writer (delete jobs).
    Erased,
    /// Batch error reports and earlier access results were scrubbed (delete jobs).
    Scrubbed,
    /// Finished: the user ids are hashed and the job left the queue.
    Complete,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Queued => "queued",
            Step::Resolved => "resolved",
            Step::Accessed => "accessed",
            Step::Erased => "erased",
            Step::Scrubbed => "scrubbed",
            Step::Complete => "complete",
        }
    }
}

/// What the identities of a job resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Per sandbox, the live (stitched) profiles the user ids resolve to.
    pub profiles: BTreeMap<String, Vec<ProfileId>>,
    /// Per sandbox, every identity of those profiles' graphs and the user ids themselves: what
    /// the erasure and the file scrubs look for. Emptied when the job finishes.
    #[serde(default)]
    pub identities: BTreeMap<String, Vec<IdentityKey>>,
}

impl Resolution {
    /// How many profiles were found, over every sandbox.
    pub fn profile_count(&self) -> usize {
        self.profiles.values().map(Vec::len).sum()
    }
}

/// One product's part of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductResponse {
    pub product: Product,
    pub status: JobStatus,
    pub message: String,
    pub processed_ms: Option<i64>,
}

/// What a delete job removed, for its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedTotals {
    pub profiles: u64,
    pub fragments: u64,
    pub events: u64,
    pub identities: u64,
    pub neighbours: u64,
    pub error_rows: u64,
    pub access_results: u64,
}

/// A privacy job as stored (JSON, so fields can be added) under `job \0 id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyJob {
    pub id: String,
    /// Shared by the jobs of one request.
    pub request_id: String,
    pub user_key: String,
    pub action: PrivacyAction,
    pub user_ids: Vec<UserId>,
    pub products: Vec<Product>,
    pub regulation: String,
    pub priority: Option<String>,
    pub submitted_by: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub completed_ms: Option<i64>,
    pub status: JobStatus,
    pub step: Step,
    pub resolution: Option<Resolution>,
    pub product_responses: Vec<ProductResponse>,
    #[serde(default)]
    pub erased: ErasedTotals,
    /// Why the job failed (status `error`).
    pub error: Option<String>,
    /// When `rapport store rewrite` last rewrote the data file after this delete completed:
    /// from then on no byte of what it deleted is left in free pages.
    #[serde(default)]
    pub physically_erased_ms: Option<i64>,
}

impl PrivacyJob {
    pub fn includes(&self, product: Product) -> bool {
        self.products.contains(&product)
    }

    /// The reference's job object, with Rapport's own details under `rapport`.
    pub fn to_json(&self) -> Value {
        let user_ids: Vec<Value> = self
            .user_ids
            .iter()
            .map(|id| {
                let mut value = json!({"namespace": id.namespace, "value": id.value, "type": id.id_type.as_str()});
                if id.hashed {
                    value["valueHash"] = json!("sha256");
                }
                value
            })
            .collect();
        let responses: Vec<Value> = self
            .product_responses
            .iter()
            .map(|r| {
                let mut value = json!({
                    "product": r.product.as_str(),
                    "retryCount": 0,
                    "productStatusResponse": {"status": r.status.as_str(), "message": r.message},
                });
                if let Some(at) = r.processed_ms {
                    value["processedDate"] = json!(reference_date(at));
                }
                value
            })
            .collect();
        let sandboxes: Map<String, Value> = self
            .resolution
            .iter()
            .flat_map(|r| r.profiles.iter())
            .map(|(sandbox, ids)| {
                (
                    sandbox.clone(),
                    Value::Array(ids.iter().map(|id| json!(id.to_string())).collect()),
                )
            })
            .collect();
        let physical = match (self.action, self.status, self.physically_erased_ms) {
            (PrivacyAction::Delete, JobStatus::Complete, None) => json!("pending_rewrite"),
            (PrivacyAction::Delete, JobStatus::Complete, Some(_)) => json!("complete"),
            _ => Value::Null,
        };
        let mut value = json!({
            "jobId": self.id,
            "requestId": self.request_id,
            "userKey": self.user_key,
            "action": self.action.as_str(),
            "status": self.status.as_str(),
            "regulation": self.regulation,
            "submittedBy": self.submitted_by,
            "createdDate": reference_date(self.created_ms),
            "lastModifiedDate": reference_date(self.modified_ms),
            "userIds": user_ids,
            "productResponses": responses,
            "rapport": {
                "step": self.step.as_str(),
                "include": self.products.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "sandboxes": sandboxes,
                "physicalErasure": physical,
                "createdAt": format_rfc3339_ms(self.created_ms, true),
                "lastModifiedAt": format_rfc3339_ms(self.modified_ms, true),
                "completedAt": self.completed_ms.map(|at| format_rfc3339_ms(at, true)),
                "physicallyErasedAt": self.physically_erased_ms.map(|at| format_rfc3339_ms(at, true)),
            },
        });
        if let Some(priority) = &self.priority {
            value["priority"] = json!(priority);
        }
        if let Some(error) = &self.error {
            value["rapport"]["error"] = json!(error);
        }
        if self.action == PrivacyAction::Access && self.status == JobStatus::Complete {
            value["downloadURL"] = json!(format!("/data/core/privacy/jobs/{}/result", self.id));
        }
        value
    }
}

/// The reference's date form in job objects: `04/12/2024 04:08 PM GMT`.
fn reference_date(epoch_ms: i64) -> String {
    // `YYYY-MM-DDTHH:MM:SSZ`
    let iso = format_rfc3339_ms(epoch_ms, false);
    let part = |range: std::ops::Range<usize>| iso.get(range).unwrap_or("00");
    let hour: u32 = part(11..13).parse().unwrap_or(0);
    let (hour12, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!(
        "{}/{}/{} {:02}:{} {} GMT",
        part(5..7),
        part(8..10),
        iso.get(0..4).unwrap_or("1970"),
        hour12,
        part(14..16),
        half
    )
}

/// The reference's answer to a created request: one entry per job.
pub fn created_answer(jobs: &[PrivacyJob]) -> Value {
    let entries: Vec<Value> = jobs
        .iter()
        .map(|job| {
            json!({
                "jobId": job.id,
                "customer": {"user": {"key": job.user_key, "action": [job.action.as_str()]}},
            })
        })
        .collect();
    json!({"jobs": entries, "requestStatus": 1, "totalRecords": jobs.len()})
}

/// Which jobs a listing shows, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyJobFilter {
    pub regulation: Option<String>,
    pub status: Option<JobStatus>,
    /// 0-based.
    pub page: usize,
    pub size: usize,
}

impl Default for PrivacyJobFilter {
    fn default() -> Self {
        PrivacyJobFilter {
            regulation: None,
            status: None,
            page: 0,
            size: 100,
        }
    }
}

/// The largest page of a listing.
pub const MAX_PAGE_SIZE: usize = 1000;

impl PrivacyJobFilter {
    /// The filter from the listing's query parameters (`regulation`, `status`, `page`, `size`).
    pub fn parse(
        regulation: Option<&str>,
        status: Option<&str>,
        page: Option<&str>,
        size: Option<&str>,
    ) -> Result<PrivacyJobFilter> {
        let parameter = |message: String| Error::user(Code::InvalidParameter, message);
        let status = match status.filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(JobStatus::parse(text).ok_or_else(|| {
                parameter(format!(
                    "status: \"{text}\" is not a job status: use processing, complete or error"
                ))
            })?),
        };
        let page = match page.filter(|s| !s.is_empty()) {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| {
                parameter(format!(
                    "page: \"{text}\" is not a page number (0-based, a whole number)"
                ))
            })?,
        };
        let size = match size.filter(|s| !s.is_empty()) {
            None => 100,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
                _ => {
                    return Err(parameter(format!(
                        "size: \"{text}\" is not a page size from 1 to {MAX_PAGE_SIZE}"
                    )))
                }
            },
        };
        Ok(PrivacyJobFilter {
            regulation: regulation
                .filter(|r| !r.is_empty())
                .map(str::to_ascii_lowercase),
            status,
            page,
            size,
        })
    }

    pub fn matches(&self, job: &PrivacyJob) -> bool {
        self.regulation
            .as_ref()
            .is_none_or(|r| *r == job.regulation)
            && self.status.is_none_or(|s| s == job.status)
    }
}

/// One page of a listing, newest first.
#[derive(Debug, Clone)]
pub struct PrivacyJobPage {
    pub jobs: Vec<PrivacyJob>,
    /// Jobs matching the filter on every page.
    pub total: usize,
    pub page: usize,
    pub size: usize,
}

impl PrivacyJobPage {
    pub fn to_json(&self) -> Value {
        json!({
            "items": self.jobs.iter().map(PrivacyJob::to_json).collect::<Vec<_>>(),
            "page": self.page,
            "size": self.size,
            "totalRecords": self.total,
        })
    }
}

/// A required string member of `object`, named by its pointer.
fn text<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
    rule: &str,
) -> Result<&'a str> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(invalid(format!("{pointer}: must not be empty: {rule}"))),
        None | Some(Value::Null) => Err(invalid(format!("{pointer}: required: {rule}"))),
        Some(other) => Err(invalid(format!(
            "{pointer}: expected a string, found {}",
            json_type(other)
        ))),
    }
}

/// Checks a request body in the reference's shape and makes its jobs (one per data subject and
/// action, access before delete). `companyContexts`, `expandIds`, `analyticsDeleteMethod` and
/// `mergePolicyId` are accepted and ignored.
pub fn parse_request(body: &Value, submitted_by: &str, now_ms: i64) -> Result<Vec<PrivacyJob>> {
    let Some(object) = body.as_object() else {
        return Err(invalid(format!(
            "#: expected an object with users, include and regulation, found {}",
            json_type(body)
        )));
    };
    let regulation = text(
        object,
        "regulation",
        "/regulation",
        "the regulation the request is made under, such as gdpr or ccpa",
    )?
    .trim()
    .to_ascii_lowercase();
    if regulation.len() > MAX_REGULATION_CHARS
        || !regulation
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid(format!(
            "/regulation: \"{regulation}\" is not a regulation name: up to {MAX_REGULATION_CHARS} letters, digits or '_', such as gdpr or ccpa"
        )));
    }
    let priority = match object.get("priority") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if matches!(p.to_ascii_lowercase().as_str(), "normal" | "low") => {
            Some(p.to_ascii_lowercase())
        }
        Some(other) => {
            return Err(invalid(format!(
                "/priority: expected \"normal\" or \"low\", found {other}"
            )))
        }
    };
    let products = parse_include(object.get("include"))?;
    let users = match object.get("users") {
        Some(Value::Array(users)) if users.is_empty() => {
            return Err(invalid(
                "/users: must name at least one data subject: [{key, action, userIDs}]",
            ))
        }
        Some(Value::Array(users)) if users.len() > MAX_USERS => {
            return Err(invalid(format!(
                "/users: at most {MAX_USERS} data subjects per request, found {}",
                users.len()
            )))
        }
        Some(Value::Array(users)) => users,
        None | Some(Value::Null) => {
            return Err(invalid(
                "/users: required: the data subjects, each {key, action, userIDs}",
            ))
        }
        Some(other) => {
            return Err(invalid(format!(
                "/users: expected an array, found {}",
                json_type(other)
            )))
        }
    };
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let mut jobs = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let pointer = format!("/users/{i}");
        let Some(user) = user.as_object() else {
            return Err(invalid(format!(
                "{pointer}: expected an object with key, action and userIDs, found {}",
                json_type(user)
            )));
        };
        let key = text(
            user,
            "key",
            &format!("{pointer}/key"),
            "the name you know the data subject by",
        )?;
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(invalid(format!(
                "{pointer}/key: at most {MAX_KEY_CHARS} characters"
            )));
        }
        let actions = parse_actions(user.get("action"), &pointer)?;
        let user_ids = parse_user_ids(user.get("userIDs"), &pointer)?;
        for action in actions {
            jobs.push(PrivacyJob {
                id: uuid::Uuid::new_v4().to_string(),
                request_id: request_id.clone(),
                user_key: key.to_owned(),
                action,
                user_ids: user_ids.clone(),
                products: products.clone(),
                regulation: regulation.clone(),
                priority: priority.clone(),
                submitted_by: submitted_by.to_owned(),
                created_ms: now_ms,
                modified_ms: now_ms,
                completed_ms: None,
                status: JobStatus::Processing,
                step: Step::Queued,
                resolution: None,
                product_responses: products
                    .iter()
                    .map(|product| ProductResponse {
                        product: *product,
                        status: JobStatus::Processing,
                        message: "queued".to_owned(),
                        processed_ms: None,
                    })
                    .collect(),
                erased: ErasedTotals::default(),
                error: None,
                physically_erased_ms: None,
            });
        }
    }
    Ok(jobs)
}

fn parse_include(value: Option<&Value>) -> Result<Vec<Product>> {
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(invalid(
                "/include: must name at least one product: ProfileService and/or identity",
            ))
        }
        None | Some(Value::Null) => {
            return Err(invalid(
                "/include: required: the products to reach, ProfileService and/or identity",
            ))
        }
        Some(other) => {
            return Err(invalid(format!(
                "/include: expected an array of product names, found {}",
                json_type(other)
            )))
        }
    };
    let mut products = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(name) = item.as_str() else {
            return Err(invalid(format!(
                "/include/{i}: expected a product name, found {}",
                json_type(item)
            )));
        };
        let Some(product) = Product::parse(name) else {
            return Err(invalid(format!(
                "/include/{i}: \"{name}\" is not a product Rapport holds: include ProfileService and/or identity"
            )));
        };
        if !products.contains(&product) {
            products.push(product);
        }
    }
    products.sort();
    Ok(products)
}

fn parse_actions(value: Option<&Value>, pointer: &str) -> Result<Vec<PrivacyAction>> {
    let parse_one = |text: &str, at: String| match text.to_ascii_lowercase().as_str() {
        "access" => Ok(PrivacyAction::Access),
        "delete" => Ok(PrivacyAction::Delete),
        _ => Err(invalid(format!(
            "{at}: \"{text}\" is not an action: use access or delete"
        ))),
    };
    let mut actions = match value {
        Some(Value::String(text)) => vec![parse_one(text, format!("{pointer}/action"))?],
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut actions = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let at = format!("{pointer}/action/{i}");
                let Some(text) = item.as_str() else {
                    return Err(invalid(format!(
                        "{at}: expected \"access\" or \"delete\", found {}",
                        json_type(item)
                    )));
                };
                actions.push(parse_one(text, at)?);
            }
            actions
        }
        Some(Value::Array(_)) => {
            return Err(invalid(format!(
                "{pointer}/action: must name at least one action: access and/or delete"
            )))
        }
        None | Some(Value::Null) => {
            return Err(invalid(format!(
                "{pointer}/action: required: [\"access\"], [\"delete\"] or both"
            )))
        }
        Some(other) => {
            return Err(invalid(format!(
                "{pointer}/action: expected an array of actions, found {}",
                json_type(other)
            )))
        }
    };
    // Access first: a subject asking for both gets their data before it goes.
    actions.sort();
    actions.dedup();
    Ok(actions)
}

fn parse_user_ids(value: Option<&Value>, pointer: &str) -> Result<Vec<UserId>> {
    let items = match value {
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid(format!(
                "{pointer}/userIDs: must hold 1 to {MAX_USER_IDS} identities of the data subject"
            )))
        }
        Some(Value::Array(items)) if items.len() > MAX_USER_IDS => {
            return Err(invalid(format!(
                "{pointer}/userIDs: at most {MAX_USER_IDS} identities per data subject, found {}",
                items.len()
            )))
        }
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(invalid(format!(
                "{pointer}/userIDs: required: 1 to {MAX_USER_IDS} of {{namespace, value, type}}"
            )))
        }
        Some(other) => {
            return Err(invalid(format!(
                "{pointer}/userIDs: expected an array, found {}",
                json_type(other)
            )))
        }
    };
    let standard = standard_namespaces();
    let mut ids: Vec<UserId> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{pointer}/userIDs/{i}");
        let Some(item) = item.as_object() else {
            return Err(invalid(format!(
                "{at}: expected an object with namespace, value and type, found {}",
                json_type(item)
            )));
        };
        let namespace = text(
            item,
            "namespace",
            &format!("{at}/namespace"),
            "the identity namespace code, such as Email or ECID",
        )?;
        if !valid_code(namespace) {
            return Err(invalid(format!(
                "{at}/namespace: \"{namespace}\" is not a namespace code: 1 to 64 letters, digits, '_' or '-', starting with a letter"
            )));
        }
        let value = text(item, "value", &format!("{at}/value"), "the identity value")?;
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid(format!(
                "{at}/value: at most {MAX_VALUE_CHARS} characters"
            )));
        }
        let id_type = match item.get("type") {
            None | Some(Value::Null) => UserIdType::Standard,
            Some(Value::String(t)) if t.eq_ignore_ascii_case("standard") => UserIdType::Standard,
            Some(Value::String(t)) if t.eq_ignore_ascii_case("unregistered") => {
                UserIdType::Unregistered
            }
            Some(other) => {
                return Err(invalid(format!(
                    "{at}/type: expected \"standard\" or \"unregistered\", found {other}"
                )))
            }
        };
        let is_standard = standard
            .iter()
            .any(|ns| ns.code.eq_ignore_ascii_case(namespace));
        if id_type == UserIdType::Standard && !is_standard {
            return Err(invalid(format!(
                "{at}/type: \"{namespace}\" is not a standard namespace: give a namespace of your own with \"type\": \"unregistered\""
            )));
        }
        let id = UserId {
            namespace: namespace.to_owned(),
            value: value.to_owned(),
            id_type,
            hashed: false,
        };
        if !ids
            .iter()
            .any(|known| known.namespace.eq_ignore_ascii_case(namespace) && known.value == value)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_dates_use_twelve_hours() {
        // 2024-04-12T16:08:00Z
        assert_eq!(reference_date(1_712_938_080_000), "04/12/2024 04:08 PM GMT");
        // 2024-04-12T00:05:00Z
        assert_eq!(reference_date(1_712_880_300_000), "04/12/2024 12:05 AM GMT");
    }
}
