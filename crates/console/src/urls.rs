//! The console's URL scheme: every link and htmx request the pages make, and the route patterns
//! (axum 0.8 syntax) the server mounts them on.
//!
//! | route | what it serves |
//! |---|---|
//! | `GET /console?q=&ns=` | [`crate::search_page`]; with `q`, the search outcome |
//! | `GET /console/login?next={path}` | [`crate::login_page`] |
//! | `POST /console/login` | signs in (form: `name`, `password`, `_login`, `next`) |
//! | `POST /console/logout` | signs out (form: `_csrf`) |
//! | `GET /console/lang?to={en\|es}&back={path}` | sets [`crate::LANG_COOKIE`], redirects to `back` (a `/console` path only) |
//! | `GET /console/assets/{name}?v={hash}` | [`crate::assets`] |
//! | `GET /console/profile/{ns}/{id}` | [`crate::profile_page`] |
//! | `GET /console/profile/{ns}/{id}/panel/{panel}` | [`crate::panel`], one panel's inner HTML |
//! | `GET /console/profile/{ns}/{id}/timeline?kind=&from=&to=&start=` | [`crate::timeline_fragment`] |
//! | `GET /console/profile/{ns}/{id}/live` | server-sent events (see the crate docs) |
//! | `GET /console/profile/{ns}/{id}/segments/{segment}/explain` | [`crate::explanation_fragment`] |
//! | `GET /console/audit?from=&to=&actor=&action=&profile=&cursor=` | [`crate::audit_page`]: the audit log, newest first, for roles holding `audit.read` |
//! | `GET /console/audit/profile/{profile}` | opens the profile an audit entry names by its id: redirects to its profile page |
//!
//! Path segments are percent-encoded (so `+14048204050` or an email survive); axum's `Path`
//! decodes them.

use crate::Lang;

/// The console's root.
pub const BASE: &str = "/console";
/// Route pattern of the search page.
pub const ROUTE_SEARCH: &str = "/console";
/// Route pattern of the sign-in page (and of the sign-in form's target).
pub const ROUTE_LOGIN: &str = "/console/login";
/// Route pattern of signing out.
pub const ROUTE_LOGOUT: &str = "/console/logout";
/// Route pattern of the language switch.
pub const ROUTE_LANG: &str = "/console/lang";
/// Route pattern of the assets.
pub const ROUTE_ASSET: &str = "/console/assets/{name}";
/// Route pattern of the profile page.
pub const ROUTE_PROFILE: &str = "/console/profile/{ns}/{id}";
/// Route pattern of one panel.
pub const ROUTE_PANEL: &str = "/console/profile/{ns}/{id}/panel/{panel}";
/// Route pattern of the timeline.
pub const ROUTE_TIMELINE: &str = "/console/profile/{ns}/{id}/timeline";
/// Route pattern of the server-sent events.
pub const ROUTE_LIVE: &str = "/console/profile/{ns}/{id}/live";
/// Route pattern of a segment explanation.
pub const ROUTE_EXPLAIN: &str = "/console/profile/{ns}/{id}/segments/{segment}/explain";
/// Route pattern of the audit log page.
pub const ROUTE_AUDIT: &str = "/console/audit";
/// Route pattern of opening, from the audit log, the profile with a profile id (`P…`).
pub const ROUTE_AUDIT_PROFILE: &str = "/console/audit/profile/{profile}";

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string (`?a=1&b=2`) of the pairs whose value is not empty; `""` when none is.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}

/// The search page, with a search filled in when `q` is not empty.
pub fn search(q: &str, ns: Option<&str>) -> String {
    format!(
        "{ROUTE_SEARCH}{}",
        query(&[("q", q), ("ns", ns.unwrap_or(""))])
    )
}

/// The sign-in page, going on to `next` (a `/console` path) once signed in.
pub fn login(next: &str) -> String {
    format!("{ROUTE_LOGIN}{}", query(&[("next", next)]))
}

/// Whether `path` may be gone to after signing in or switching language: a path of the
/// console's own, never another site (`//host`) nor a scheme.
pub fn is_console_path(path: &str) -> bool {
    (path == BASE || path.starts_with("/console/") || path.starts_with("/console?"))
        && !path.starts_with("//")
        && !path.contains('\\')
}

/// The language switch, coming back to `back` (a `/console` path).
pub fn lang_switch(to: Lang, back: &str) -> String {
    format!(
        "{ROUTE_LANG}{}",
        query(&[("to", to.code()), ("back", back)])
    )
}

/// The audit log page with its filters, as typed in its form (empty ones are left out), and the
/// audit API's cursor of the page to show (`""` for the newest entries).
pub fn audit(
    from: &str,
    to: &str,
    actor: &str,
    action: &str,
    profile: &str,
    cursor: &str,
) -> String {
    format!(
        "{ROUTE_AUDIT}{}",
        query(&[
            ("from", from),
            ("to", to),
            ("actor", actor),
            ("action", action),
            ("profile", profile),
            ("cursor", cursor),
        ])
    )
}

/// Opens the profile with this profile id (`P…`), as an audit entry names it: the server finds
/// one of its identities and redirects to [`ProfileUrls::page`].
pub fn audit_profile(profile_id: &str) -> String {
    format!("{ROUTE_AUDIT}/profile/{}", encode(profile_id))
}

/// The URLs of one profile, opened through one of its identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileUrls<'a> {
    /// Namespace code of the identity.
    pub ns: &'a str,
    /// Identity value.
    pub id: &'a str,
}

impl ProfileUrls<'_> {
    /// The profile page.
    pub fn page(&self) -> String {
        format!("{BASE}/profile/{}/{}", encode(self.ns), encode(self.id))
    }

    /// One panel's inner HTML.
    pub fn panel(&self, panel: &str) -> String {
        format!("{}/panel/{}", self.page(), encode(panel))
    }

    /// The timeline with its filters (`start`: the events API's next-page cursor).
    pub fn timeline(&self, kind: &str, from: &str, to: &str, start: &str) -> String {
        format!(
            "{}/timeline{}",
            self.page(),
            query(&[("kind", kind), ("from", from), ("to", to), ("start", start)])
        )
    }

    /// The server-sent events of the profile.
    pub fn live(&self) -> String {
        format!("{}/live", self.page())
    }

    /// Why the profile is (or is not) in a segment.
    pub fn explain(&self, segment_id: &str) -> String {
        format!("{}/segments/{}/explain", self.page(), encode(segment_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_percent_encoded() {
        let urls = ProfileUrls {
            ns: "Phone",
            id: "+14048204050",
        };
        assert_eq!(urls.page(), "/console/profile/Phone/%2B14048204050");
        let urls = ProfileUrls {
            ns: "Email",
            id: "sam.rivera@example.com",
        };
        assert_eq!(
            urls.timeline("email", "2026-01-01", "", "gAAB"),
            "/console/profile/Email/sam.rivera%40example.com/timeline?kind=email&from=2026-01-01&start=gAAB"
        );
        assert_eq!(search("a b", Some("CRMID")), "/console?q=a%20b&ns=CRMID");
        assert_eq!(search("", None), "/console");
        assert_eq!(audit("", "", "", "", "", ""), "/console/audit");
        assert_eq!(
            audit("2026-05-01T10:00", "", "key:abc", "", "", "gAAB"),
            "/console/audit?from=2026-05-01T10%3A00&actor=key%3Aabc&cursor=gAAB"
        );
        assert_eq!(
            audit_profile("P00000000000039e4"),
            "/console/audit/profile/P00000000000039e4"
        );
    }
}
