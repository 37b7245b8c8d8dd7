//! The one table of public error codes: each code's wire name, its AEP-style problem type and HTTP status.
//!
//! Every error a client can see is one of these codes. The HTTP layer turns a code into the
//! reference's problem shape (`{"type": "http://ns.adobe.com/aep/errors/UPS-1001-404", "title", "status",
//! "code", ...}`); nothing else decides a status.

/// Who is at fault, as shown in the `kind` member of an error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was wrong; resending it unchanged fails again.
    InvalidRequest,
    /// Rapport itself failed; the request may succeed later.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Internal => "internal",
        }
    }
}

macro_rules! codes {
    ($($variant:ident => ($name:literal, $service:literal, $number:literal, $status:literal, $kind:ident),)*) => {
        /// A stable public error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable snake_case name clients match on.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The HTTP status this code is answered with.
            pub fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// Whether the client or Rapport is at fault.
            pub fn kind(self) -> ErrorKind {
                match self { $(Code::$variant => ErrorKind::$kind,)* }
            }

            /// The AEP-style problem type, `{SERVICE}-{NUMBER}-{STATUS}`.
            pub fn problem_type(self) -> String {
                match self {
                    $(Code::$variant => format!(
                        "http://ns.adobe.com/aep/errors/{}-{:04}-{}", $service, $number, $status
                    ),)*
                }
            }
        }
    };
}

codes! {
    MalformedJson => ("malformed_json", "UPS", 1000, 400, InvalidRequest),
    PayloadTooLarge => ("payload_too_large", "UPS", 1001, 413, InvalidRequest),
    UnsupportedMediaType => ("unsupported_media_type", "UPS", 1002, 415, InvalidRequest),
    MissingParameter => ("missing_parameter", "UPS", 1003, 400, InvalidRequest),
    InvalidParameter => ("invalid_parameter", "UPS", 1004, 400, InvalidRequest),
    InvalidSandbox => ("invalid_sandbox_name", "UPS", 1005, 400, InvalidRequest),
    TooManyItems => ("too_many_items", "UPS", 1006, 400, InvalidRequest),
    RouteNotFound => ("route_not_found", "UPS", 1007, 404, InvalidRequest),
    MethodNotAllowed => ("method_not_allowed", "UPS", 1008, 405, InvalidRequest),
    RateLimited => ("rate_limited", "UPS", 1009, 429, InvalidRequest),
    InvalidRecord => ("invalid_xdm_record", "INGEST", 1555, 400, InvalidRequest),
    InvalidEnvelope => ("invalid_message_envelope", "INGEST", 1556, 400, InvalidRequest),
    InvalidIdentity => ("invalid_identity", "INGEST", 1557, 400, InvalidRequest),
    MissingPrimaryIdentity => ("missing_primary_identity", "INGEST", 1558, 400, InvalidRequest),
    DatasetNotProfileReady => ("dataset_not_ingestible", "INGEST", 1559, 400, InvalidRequest),
    InvalidBatch => ("invalid_batch", "INGEST", 1560, 400, InvalidRequest),
    BatchNotFound => ("batch_not_found", "INGEST", 1561, 404, InvalidRequest),
    EventTooLarge => ("event_too_large", "INGEST", 1562, 413, InvalidRequest),
    RecordTooLarge => ("record_too_large", "INGEST", 1563, 413, InvalidRequest),
    SchemaNotFound => ("schema_not_found", "XDM", 1010, 404, InvalidRequest),
    FieldGroupNotFound => ("field_group_not_found", "XDM", 1011, 404, InvalidRequest),
    DescriptorNotFound => ("descriptor_not_found", "XDM", 1012, 404, InvalidRequest),
    UnionNotFound => ("union_not_found", "XDM", 1013, 404, InvalidRequest),
    ClassNotFound => ("class_not_found", "XDM", 1014, 404, InvalidRequest),
    InvalidSchema => ("invalid_schema", "XDM", 1020, 400, InvalidRequest),
    InvalidFieldGroup => ("invalid_field_group", "XDM", 1021, 400, InvalidRequest),
    InvalidDescriptor => ("invalid_descriptor", "XDM", 1022, 400, InvalidRequest),
    SchemaInUse => ("schema_in_use", "XDM", 1023, 409, InvalidRequest),
    DatasetNotFound => ("dataset_not_found", "CAT", 1030, 404, InvalidRequest),
    InvalidDataset => ("invalid_dataset", "CAT", 1031, 400, InvalidRequest),
    DatasetInUse => ("dataset_in_use", "CAT", 1032, 409, InvalidRequest),
    NamespaceNotFound => ("namespace_not_found", "IDN", 1040, 404, InvalidRequest),
    InvalidNamespace => ("invalid_namespace", "IDN", 1041, 400, InvalidRequest),
    NamespaceExists => ("namespace_already_exists", "IDN", 1042, 409, InvalidRequest),
    IdentityNotFound => ("identity_not_found", "IDN", 1043, 404, InvalidRequest),
    MergePolicyNotFound => ("merge_policy_not_found", "UPS", 1050, 404, InvalidRequest),
    InvalidMergePolicy => ("invalid_merge_policy", "UPS", 1051, 400, InvalidRequest),
    MergePolicyLimit => ("merge_policy_limit_reached", "UPS", 1052, 422, InvalidRequest),
    NoDefaultMergePolicy => ("no_default_merge_policy", "UPS", 1053, 422, InvalidRequest),
    ProfileNotFound => ("profile_not_found", "UPS", 1060, 404, InvalidRequest),
    TooManyRelatedIdentities => ("too_many_related_identities", "UPS", 1061, 422, InvalidRequest),
    InvalidCursor => ("invalid_cursor", "UPS", 1062, 400, InvalidRequest),
    SegmentNotFound => ("segment_definition_not_found", "SEG", 1070, 404, InvalidRequest),
    InvalidSegment => ("invalid_segment_definition", "SEG", 1071, 400, InvalidRequest),
    InvalidPql => ("invalid_pql_expression", "SEG", 1072, 400, InvalidRequest),
    SegmentInUse => ("segment_definition_in_use", "SEG", 1073, 409, InvalidRequest),
    SegmentNameTaken => ("segment_name_already_exists", "SEG", 1074, 409, InvalidRequest),
    SegmentJobNotFound => ("segment_job_not_found", "SEG", 1075, 404, InvalidRequest),
    PreviewNotFound => ("preview_not_found", "SEG", 1076, 404, InvalidRequest),
    SegmentDefinitionLimit => ("segment_definition_limit_reached", "SEG", 1077, 422, InvalidRequest),
    ComputedAttributeNotFound => ("computed_attribute_not_found", "CA", 1080, 404, InvalidRequest),
    InvalidComputedAttribute => ("invalid_computed_attribute", "CA", 1081, 400, InvalidRequest),
    ComputedAttributeNameTaken => ("computed_attribute_name_already_exists", "CA", 1082, 409, InvalidRequest),
    ComputedAttributeLimit => ("computed_attribute_limit_reached", "CA", 1083, 422, InvalidRequest),
    ComputedAttributeInUse => ("computed_attribute_in_use", "CA", 1084, 409, InvalidRequest),
    ModelsNotTrained => ("models_not_trained", "MDL", 1090, 404, InvalidRequest),
    TrainingNotFound => ("training_not_found", "MDL", 1091, 404, InvalidRequest),
    MissingCredentials => ("missing_credentials", "AUTH", 1100, 401, InvalidRequest),
    InvalidApiKey => ("invalid_api_key", "AUTH", 1101, 401, InvalidRequest),
    ApiKeyExpired => ("api_key_expired", "AUTH", 1102, 401, InvalidRequest),
    ActionNotPermitted => ("action_not_permitted", "AUTH", 1103, 403, InvalidRequest),
    SandboxNotPermitted => ("sandbox_not_permitted", "AUTH", 1104, 403, InvalidRequest),
    SessionRequired => ("session_required", "AUTH", 1106, 401, InvalidRequest),
    CsrfRejected => ("csrf_rejected", "AUTH", 1107, 403, InvalidRequest),
    FieldAccessDenied => ("field_access_denied", "AUTH", 1105, 403, InvalidRequest),
    InvalidCredentials => ("invalid_credentials", "AUTH", 1108, 401, InvalidRequest),
    LoginThrottled => ("login_throttled", "AUTH", 1109, 429, InvalidRequest),
    ApiKeyNotFound => ("api_key_not_found", "AUTH", 1110, 404, InvalidRequest),
    InvalidApiKeyBody => ("invalid_api_key_body", "AUTH", 1111, 400, InvalidRequest),
    UserNotFound => ("user_not_found", "AUTH", 1112, 404, InvalidRequest),
    InvalidUser => ("invalid_user", "AUTH", 1113, 400, InvalidRequest),
    UserExists => ("user_already_exists", "AUTH", 1114, 409, InvalidRequest),
    RoleNotFound => ("role_not_found", "AUTH", 1115, 404, InvalidRequest),
    InvalidRole => ("invalid_role", "AUTH", 1116, 400, InvalidRequest),
    RoleInUse => ("role_in_use", "AUTH", 1117, 409, InvalidRequest),
    PrivacyJobNotFound => ("privacy_job_not_found", "PRIV", 1120, 404, InvalidRequest),
    InvalidPrivacyJob => ("invalid_privacy_job", "PRIV", 1121, 400, InvalidRequest),
    WorkOrderNotFound => ("workorder_not_found", "HYGN", 1122, 404, InvalidRequest),
    InvalidWorkOrder => ("invalid_workorder", "HYGN", 1123, 400, InvalidRequest),
    Internal => ("internal_error", "UPS", 9000, 500, Internal),
    Unavailable => ("service_unavailable", "UPS", 9001, 503, Internal),
    RequestTimedOut => ("request_timed_out", "UPS", 9002, 503, Internal),
    AuditUnavailable => ("audit_unavailable", "AUD", 9003, 503, Internal),
    InvalidAuditQuery => ("invalid_audit_query", "AUD", 1130, 400, InvalidRequest),
}
