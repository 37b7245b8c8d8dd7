//! The sign-in page: user name and password, what went wrong with the last attempt, and why
//! the agent is asked (signed out, or the session ended after inactivity).

use maud::html;

use crate::lang::{Lang, Msg};
use crate::layout::{page, Shell};
use crate::urls;

/// The form field that carries the sign-in form's own anti-forgery token, which must equal the
/// [`LOGIN_COOKIE`] cookie set with the page (there is no session yet to hold one).
pub const LOGIN_FIELD: &str = "_login";
/// The cookie the sign-in page sets beside the form.
pub const LOGIN_COOKIE: &str = "rapport_login";

/// What the sign-in page shows.
#[derive(Debug, Clone, Copy)]
pub struct LoginPage<'a> {
    /// The console path to go on to once signed in.
    pub next: &'a str,
    /// The value of [`LOGIN_FIELD`] (and of the [`LOGIN_COOKIE`] cookie).
    pub login_token: &'a str,
    /// The user name typed last time, kept after a failed attempt.
    pub name: &'a str,
    /// Why the page is shown, beyond asking to sign in.
    pub notice: Option<LoginNotice>,
}

/// Why the sign-in page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNotice {
    /// The name or the password is wrong (one message for both, on purpose).
    InvalidCredentials,
    /// Too many failed attempts: the next may be made in this many seconds.
    Throttled { seconds: u64 },
    /// The form was not the one this page gave (expired, or sent from another site).
    FormExpired,
    /// The session ended (inactivity, or an administrator ended it).
    SessionEnded,
    /// The agent signed out.
    SignedOut,
}

impl LoginNotice {
    /// The HTTP status to send the page with.
    pub fn status(&self) -> u16 {
        match self {
            LoginNotice::InvalidCredentials => 401,
            LoginNotice::Throttled { .. } => 429,
            LoginNotice::FormExpired => 403,
            LoginNotice::SessionEnded | LoginNotice::SignedOut => 200,
        }
    }

    /// Whether the notice reports a failure (an alert) rather than a state (a status).
    fn is_failure(&self) -> bool {
        matches!(
            self,
            LoginNotice::InvalidCredentials
                | LoginNotice::Throttled { .. }
                | LoginNotice::FormExpired
        )
    }

    fn text(&self, lang: Lang) -> String {
        match self {
            LoginNotice::InvalidCredentials => lang.t(Msg::SignInInvalid).to_owned(),
            LoginNotice::Throttled { seconds } => lang.f(Msg::SignInThrottled, &[seconds]),
            LoginNotice::FormExpired => lang.t(Msg::SignInFormExpired).to_owned(),
            LoginNotice::SessionEnded => lang.t(Msg::SignInSessionEnded).to_owned(),
            LoginNotice::SignedOut => lang.t(Msg::SignInSignedOut).to_owned(),
        }
    }

    /// The notice named in the sign-in page's URL (`?notice=`), as the server redirects with.
    pub fn parse(name: &str) -> Option<LoginNotice> {
        match name {
            "ended" => Some(LoginNotice::SessionEnded),
            "signed-out" => Some(LoginNotice::SignedOut),
            _ => None,
        }
    }
}

/// The sign-in page, a full HTML document.
pub fn login_page(lang: Lang, login: &LoginPage<'_>) -> String {
    let here = urls::login(login.next);
    let content = html! {
        section.signin aria-labelledby="signin-h" {
            h1 #signin-h { (lang.t(Msg::SignInTitle)) }
            @if let Some(notice) = login.notice {
                @if notice.is_failure() {
                    p #signin-notice.notice.failure role="alert" { (notice.text(lang)) }
                } @else {
                    p #signin-notice.notice role="status" { (notice.text(lang)) }
                }
            }
            form.signin-form method="post" action=(urls::ROUTE_LOGIN) {
                input type="hidden" name=(LOGIN_FIELD) value=(login.login_token);
                input type="hidden" name="next" value=(login.next);
                p {
                    label for="name" { (lang.t(Msg::SignInName)) }
                    input #name type="text" name="name" value=(login.name) required
                        autocomplete="username" autocapitalize="none" spellcheck="false"
                        autofocus[login.name.is_empty()];
                }
                p {
                    label for="password" { (lang.t(Msg::SignInPassword)) }
                    input #password type="password" name="password" required
                        autocomplete="current-password" autofocus[!login.name.is_empty()];
                }
                p { button type="submit" { (lang.t(Msg::SignInButton)) } }
            }
        }
    };
    page(
        &Shell {
            lang,
            title: lang.t(Msg::SignInTitle),
            here: &here,
            live: None,
            top_search: false,
            viewer: None,
        },
        content,
    )
}
