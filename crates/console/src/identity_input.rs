//! Works out the identity namespace of what an agent typed in the search box, and normalises it
//! the way the demo company stores identities.
//!
//! | input | namespace | stored as |
//! |---|---|---|
//! | ` Sam.Rivera@Example.com ` | `Email` | `sam.rivera@example.com` |
//! | `(404) 820-4050`, `404.820.4050`, `+1 404 820 4050`, `4048204050`, `1-404-820-4050` | `Phone` | `+14048204050` (ten digits are North American) |
//! | `+44 20 7946 0958`, `0044 20 7946 0958` | `Phone` | `+442079460958` |
//! | 38 digits (spaces allowed) | `ECID` | the digits |
//! | `crm-0008414`, `CRM 0008414` | `CRMID` | `CRM-0008414` |
//! | `ly0406116268` | `LoyaltyID` | `LY0406116268` |
//! | anything else | each of `other_namespaces` but `Email`, `Phone` and `ECID` | trimmed |
//!
//! Values that cannot be an email, a phone number or an ECID are never tried as one: the
//! lookup could only fail.

/// One identity to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Namespace code, as in `entityIdNS`.
    pub namespace: String,
    /// Normalised value, as in `entityId`.
    pub value: String,
}

/// The identities to look up for `input`, most likely first.
///
/// `ns` is the namespace the agent chose explicitly (it overrides detection, the value is still
/// normalised for it); `other_namespaces` are the sandbox's namespaces, tried in this order for
/// input that matches no known format. Empty input gives no candidate.
pub fn candidates(input: &str, ns: Option<&str>, other_namespaces: &[&str]) -> Vec<Candidate> {
    let input = input.trim();
    if input.is_empty() {
        return Vec::new();
    }
    let one = |namespace: &str, value: String| {
        vec![Candidate {
            namespace: namespace.to_owned(),
            value,
        }]
    };
    if let Some(namespace) = ns.map(str::trim).filter(|n| !n.is_empty()) {
        return one(namespace, normalise_for(namespace, input));
    }
    if let Some(email) = email(input) {
        return one("Email", email);
    }
    if let Some(ecid) = ecid(input) {
        return one("ECID", ecid);
    }
    if let Some(crm) = crm_id(input) {
        return one("CRMID", crm);
    }
    if let Some(loyalty) = loyalty_id(input) {
        return one("LoyaltyID", loyalty);
    }
    if let Some(phone) = phone(input) {
        return one("Phone", phone);
    }
    other_namespaces
        .iter()
        .filter(|n| {
            !["Email", "Phone", "ECID"]
                .iter()
                .any(|skip| n.eq_ignore_ascii_case(skip))
        })
        .map(|namespace| Candidate {
            namespace: (*namespace).to_owned(),
            value: input.to_owned(),
        })
        .collect()
}

/// `input` (trimmed) normalised for a namespace the agent chose.
fn normalise_for(namespace: &str, input: &str) -> String {
    let normalised = match namespace.to_ascii_lowercase().as_str() {
        "email" => Some(input.to_lowercase()),
        "phone" => phone(input),
        "ecid" => ecid(input),
        "crmid" => crm_id(input),
        "loyaltyid" => loyalty_id(input),
        _ => None,
    };
    normalised.unwrap_or_else(|| input.to_owned())
}

fn email(input: &str) -> Option<String> {
    let (local, domain) = input.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !input.chars().any(char::is_whitespace);
    plausible.then(|| input.to_lowercase())
}

fn ecid(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| *c != ' ').collect();
    (digits.len() == 38 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// `CRM`, an optional `-`, `_` or space, then letters and digits with at least one digit.
fn crm_id(input: &str) -> Option<String> {
    let prefix = input.get(..3)?;
    if !prefix.eq_ignore_ascii_case("crm") {
        return None;
    }
    let rest = input[3..].trim_start_matches(['-', '_', ' ']);
    let valid = !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        && rest.bytes().any(|b| b.is_ascii_digit());
    valid.then(|| format!("CRM-{}", rest.to_ascii_uppercase()))
}

/// `LY` and digits (spaces ignored).
fn loyalty_id(input: &str) -> Option<String> {
    let compact: String = input.chars().filter(|c| *c != ' ').collect();
    let prefix = compact.get(..2)?;
    let digits = &compact[2..];
    let valid = prefix.eq_ignore_ascii_case("ly")
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| format!("LY{digits}"))
}

/// E.164: `+` and digits. Ten digits (or eleven starting with 1) are North American; `+` or
/// `00` starts an international number of 8 to 15 digits.
fn phone(input: &str) -> Option<String> {
    let (international, rest) = match input.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.' | '/'))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if international {
        return (8..=15)
            .contains(&digits.len())
            .then(|| format!("+{digits}"));
    }
    if let Some(after) = digits.strip_prefix("00") {
        return (8..=15).contains(&after.len()).then(|| format!("+{after}"));
    }
    match digits.len() {
        10 => Some(format!("+1{digits}")),
        11 if digits.starts_with('1') => Some(format!("+{digits}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOX: &[&str] = &["ECID", "Email", "Phone", "CRMID", "LoyaltyID", "GAID"];

    fn detect(input: &str) -> Vec<(String, String)> {
        candidates(input, None, SANDBOX)
            .into_iter()
            .map(|c| (c.namespace, c.value))
            .collect()
    }

    fn single(namespace: &str, value: &str) -> Vec<(String, String)> {
        vec![(namespace.to_owned(), value.to_owned())]
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            detect("  Sam.Rivera@Example.COM "),
            single("Email", "sam.rivera@example.com")
        );
        assert_eq!(
            detect("jon.smith@exmaple.com"),
            single("Email", "jon.smith@exmaple.com")
        );
    }

    #[test]
    fn phones_in_common_formats_become_e164() {
        for typed in [
            "(404) 820-4050",
            "404.820.4050",
            "+1 404 820 4050",
            "4048204050",
            "1-404-820-4050",
            "404-820-4050",
            "+1 (404) 820-4050",
            " 404 820 4050 ",
        ] {
            assert_eq!(detect(typed), single("Phone", "+14048204050"), "{typed}");
        }
        assert_eq!(detect("+44 20 7946 0958"), single("Phone", "+442079460958"));
        assert_eq!(
            detect("0044 20 7946 0958"),
            single("Phone", "+442079460958")
        );
    }

    #[test]
    fn ecids_are_38_digits() {
        let ecid = "09743996305272453072193982390422594820";
        assert_eq!(detect(ecid), single("ECID", ecid));
        assert_eq!(
            detect("0974399630 5272453072 1939823904 22594820"),
            single("ECID", ecid)
        );
    }

    #[test]
    fn crm_ids_are_upper_case_with_a_dash() {
        for typed in ["CRM-0008414", "crm-0008414", "Crm 0008414", "crm0008414"] {
            assert_eq!(detect(typed), single("CRMID", "CRM-0008414"), "{typed}");
        }
    }

    #[test]
    fn loyalty_ids_are_ly_and_digits() {
        assert_eq!(detect("ly0406116268"), single("LoyaltyID", "LY0406116268"));
        assert_eq!(
            detect("LY 0406 116268"),
            single("LoyaltyID", "LY0406116268")
        );
    }

    #[test]
    fn anything_else_tries_the_other_namespaces_in_order() {
        assert_eq!(
            detect("0008414"),
            vec![
                ("CRMID".to_owned(), "0008414".to_owned()),
                ("LoyaltyID".to_owned(), "0008414".to_owned()),
                ("GAID".to_owned(), "0008414".to_owned()),
            ]
        );
        assert_eq!(detect("Sam Rivera").len(), 3);
        assert!(detect("   ").is_empty());
        assert!(candidates("x", None, &[]).is_empty());
    }

    #[test]
    fn an_explicit_namespace_overrides_detection_but_still_normalises() {
        let chosen = |input, ns| candidates(input, Some(ns), SANDBOX);
        assert_eq!(
            chosen("(404) 820-4050", "Phone"),
            vec![Candidate {
                namespace: "Phone".into(),
                value: "+14048204050".into()
            }]
        );
        assert_eq!(chosen("4048204050", "CRMID")[0].value, "4048204050");
        assert_eq!(chosen(" crm-0008414 ", "CRMID")[0].value, "CRM-0008414");
        assert_eq!(
            chosen("Sam@Example.com ", "Email")[0].value,
            "sam@example.com"
        );
        assert_eq!(chosen("ly123", "LoyaltyID")[0].value, "LY123");
        assert_eq!(chosen("Mixed Case", "GAID")[0].value, "Mixed Case");
        assert_eq!(chosen("sam@example.com", "GAID")[0].namespace, "GAID");
    }
}
