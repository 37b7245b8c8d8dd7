//! Error pages an agent can act on: an unknown customer, a profile too large to show, the store
//! not answering, or any other failure (with a reference to quote, never the error itself).

use maud::html;

use crate::lang::{Lang, Msg};
use crate::layout::{page, Shell, Viewer};
use crate::urls;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind<'a> {
    /// No profile has this identity (as the agent typed it, or namespace and value).
    UnknownCustomer(&'a str),
    /// The profile holds more than the console can show (too many identities or events).
    ProfileTooLarge,
    /// The profile store did not answer (the engine's `unavailable`).
    Unavailable,
    /// The signed-in user's role does not allow what the page shows.
    NotPermitted,
    /// Anything else; `reference` is what the server logged the failure with (a request id).
    ServerError {
        /// A short reference the agent can quote.
        reference: &'a str,
    },
}

impl ErrorKind<'_> {
    /// The HTTP status to send the page with.
    pub fn status(&self) -> u16 {
        match self {
            ErrorKind::UnknownCustomer(_) => 404,
            ErrorKind::ProfileTooLarge => 422,
            ErrorKind::NotPermitted => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::ServerError { .. } => 500,
        }
    }
}

/// The error page, a full HTML document; `here` is the path that failed (the language switch
/// comes back to it); `viewer`, the signed-in user, if any.
pub fn error_page(
    lang: Lang,
    error: &ErrorKind<'_>,
    here: &str,
    viewer: Option<Viewer<'_>>,
) -> String {
    let (title, body) = match error {
        ErrorKind::UnknownCustomer(identity) => (
            Msg::ErrorUnknownTitle,
            lang.f(Msg::ErrorUnknownBody, &[identity]),
        ),
        ErrorKind::ProfileTooLarge => (
            Msg::ErrorTooLargeTitle,
            lang.t(Msg::ErrorTooLargeBody).to_owned(),
        ),
        ErrorKind::NotPermitted => (
            Msg::ErrorNotPermittedTitle,
            lang.t(Msg::ErrorNotPermittedBody).to_owned(),
        ),
        ErrorKind::Unavailable => (
            Msg::ErrorUnavailableTitle,
            lang.t(Msg::ErrorUnavailableBody).to_owned(),
        ),
        ErrorKind::ServerError { reference } => (
            Msg::ErrorServerTitle,
            lang.f(Msg::ErrorServerBody, &[reference]),
        ),
    };
    let content = html! {
        section.error aria-labelledby="error-h" {
            h1 #error-h { (lang.t(title)) }
            p { (body) }
            p { a href=(urls::ROUTE_SEARCH) { (lang.t(Msg::BackToSearch)) } }
        }
    };
    page(
        &Shell {
            lang,
            title: lang.t(title),
            here,
            live: None,
            top_search: true,
            viewer,
        },
        content,
    )
}
