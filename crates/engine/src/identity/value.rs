//! Identity value checks: which values may link anything, and why the others may not.

use serde::{Deserialize, Serialize};

/// Why an identity value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    Empty,
    PlaceholderValue,
    BlockedValue,
    TooLong,
    MalformedEcid,
}

impl Refusal {
    pub fn describe(&self) -> &'static str {
        match self {
            Refusal::Empty => "the value is empty or only whitespace",
            Refusal::PlaceholderValue => "the value is a placeholder (null, anonymous, invalid) that would link unrelated people",
            Refusal::BlockedValue => "the value is on the sandbox's block list",
            Refusal::TooLong => "the value is longer than 1024 characters",
            Refusal::MalformedEcid => "an ECID must be exactly 38 digits",
        }
    }
}

/// The values that never link: the reference's placeholders plus a configurable block list.
#[derive(Debug, Clone, Default)]
pub struct ValuePolicy {
    /// Lowercased values refused in every namespace.
    pub blocked: Vec<String>,
}

impl ValuePolicy {
    pub fn check(&self, namespace: &str, value: &str) -> Result<(), Refusal> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(Refusal::Empty);
        }
        if value.chars().count() > 1024 {
            return Err(Refusal::TooLong);
        }
        let lowered = trimmed.to_ascii_lowercase();
        if matches!(
            lowered.as_str(),
            "null" | "anonymous" | "invalid" | "undefined"
        ) {
            return Err(Refusal::PlaceholderValue);
        }
        if self.blocked.contains(&lowered) {
            return Err(Refusal::BlockedValue);
        }
        if namespace.eq_ignore_ascii_case("ECID")
            && !(value.len() == 38 && value.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Refusal::MalformedEcid);
        }
        Ok(())
    }
}
