//! The page shell every full page shares: head with the assets, skip link, top bar with the
//! search box, the links to the pages the signed-in user's role opens (the audit log), the
//! signed-in user and sign-out, the language switch, the connection status and the
//! request-error banner.

use maud::{html, Markup, DOCTYPE};

use crate::assets;
use crate::lang::{Lang, Msg};
use crate::urls;

/// What the shell needs besides the page's content.
pub(crate) struct Shell<'a> {
    pub lang: Lang,
    /// The `<title>`, before the application's name.
    pub title: &'a str,
    /// This page's path and query, where the language switch comes back to.
    pub here: &'a str,
    /// The server-sent events URL of a live page.
    pub live: Option<&'a str>,
    /// Whether the top bar carries the search box (pages other than the search page).
    pub top_search: bool,
    /// The signed-in user, when there is one.
    pub viewer: Option<Viewer<'a>>,
}

/// Who is looking at a page: the signed-in user, their session's CSRF token, which every
/// htmx request sends as `x-csrf-token` and every form as `_csrf`, and what of the console
/// their role opens besides customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// The name the top bar shows.
    pub name: &'a str,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Whether the user's role holds `audit.read`: the top bar links the audit log.
    pub audit_log: bool,
}

/// The name of the header that carries the CSRF token of a request made by a page.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The name of the form field that carries it.
pub const CSRF_FIELD: &str = "_csrf";

/// The SSE event names a live page listens to (see the crate docs).
pub(crate) const LIVE_EVENTS: &str = "profile events segments identity";

pub(crate) fn page(shell: &Shell<'_>, content: Markup) -> String {
    let lang = shell.lang;
    let document = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (shell.title) " · " (lang.t(Msg::AppName)) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::CSS.url());
                script src=(assets::HTMX.url()) defer {}
                script src=(assets::JS.url()) defer {}
                @if let Some(viewer) = shell.viewer {
                    meta name="rapport-csrf" content=(viewer.csrf);
                }
            }
            body data-live-url=[shell.live] data-live-events=[shell.live.map(|_| LIVE_EVENTS)]
                data-signin-url=(urls::ROUTE_LOGIN)
                hx-headers=[shell.viewer.map(|v| serde_json::json!({ CSRF_HEADER: v.csrf }).to_string())] {
                a.skip href="#main" { (lang.t(Msg::SkipToContent)) }
                header.top {
                    a.brand href=(urls::ROUTE_SEARCH) { (lang.t(Msg::AppName)) }
                    @if let Some(viewer) = shell.viewer.filter(|v| v.audit_log) {
                        (sections(lang, viewer, shell.here))
                    }
                    @if shell.top_search {
                        form.top-search role="search" method="get" action=(urls::ROUTE_SEARCH) {
                            label.sr-only for="q" { (lang.t(Msg::SearchLabel)) }
                            input #q type="search" name="q" autocomplete="off" autofocus
                                placeholder=(lang.t(Msg::SearchLabel));
                            button type="submit" { (lang.t(Msg::SearchButton)) }
                        }
                    }
                    @if shell.live.is_some() {
                        span #live-status.live role="status" aria-live="polite"
                            data-on=(lang.t(Msg::LiveOn)) data-off=(lang.t(Msg::LiveOff)) {}
                    }
                    (lang_switch(lang, shell.here))
                    @if let Some(viewer) = shell.viewer {
                        (sign_out(lang, viewer))
                    }
                }
                div #request-error.banner role="alert" hidden { (lang.t(Msg::RequestFailed)) }
                main #main tabindex="-1" { (content) }
            }
        }
    };
    document.into_string()
}

/// The links to the console's pages beyond customers that the viewer's role opens.
fn sections(lang: Lang, viewer: Viewer<'_>, here: &str) -> Markup {
    let on_audit = here == urls::ROUTE_AUDIT || here.starts_with("/console/audit?");
    html! {
        nav.sections aria-label=(lang.t(Msg::SectionsNav)) {
            ul {
                @if viewer.audit_log {
                    li {
                        a href=(urls::ROUTE_AUDIT) aria-current=[on_audit.then_some("page")] {
                            (lang.t(Msg::AuditTitle))
                        }
                    }
                }
            }
        }
    }
}

fn lang_switch(current: Lang, here: &str) -> Markup {
    html! {
        nav.langs aria-label=(current.t(Msg::LanguageSwitch)) {
            ul {
                @for lang in Lang::ALL {
                    li {
                        @if lang == current {
                            a aria-current="true" lang=(lang.code()) href=(urls::lang_switch(lang, here)) { (lang.native_name()) }
                        } @else {
                            a lang=(lang.code()) hreflang=(lang.code()) href=(urls::lang_switch(lang, here)) { (lang.native_name()) }
                        }
                    }
                }
            }
        }
    }
}

/// The signed-in user's name and the sign-out button (a form, so it works without script).
fn sign_out(lang: Lang, viewer: Viewer<'_>) -> Markup {
    html! {
        form.signout method="post" action=(urls::ROUTE_LOGOUT) {
            span.user { (lang.f(Msg::SignedInAs, &[&viewer.name])) }
            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
            button type="submit" { (lang.t(Msg::SignOut)) }
        }
    }
}
