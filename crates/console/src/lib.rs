//! The agent console's HTML: turns the JSON the HTTP API returns into pages and htmx fragments.
//!
//! This crate knows nothing of the engine, the store or HTTP: the server calls the API (or the
//! engine directly) and hands the JSON to these functions, which return HTML strings. Every
//! value from the data is escaped (maud); every identity in a URL is percent-encoded.
//!
//! # Pages and fragments
//!
//! | function | route ([`urls`]) | fed by |
//! |---|---|---|
//! | [`search_page`] | `/console?q=&ns=` | [`identity_input::candidates`], then one entity lookup per candidate |
//! | [`profile_page`] | `/console/profile/{ns}/{id}` | [`ProfileData`] (see below) |
//! | [`panel`] | `…/panel/{panel}` | the fields of [`ProfileData`] that the [`Panel`] reads |
//! | [`timeline_fragment`] | `…/timeline?kind=&from=&to=&start=` | one events page, [`TimelineQuery::api_query`] |
//! | [`identity_panel`] | (`…/panel/identity`) | `GET /data/core/identity/graph?ns=&id=` |
//! | [`explanation_fragment`] | `…/segments/{segment}/explain` | `GET /data/core/ups/segment/definitions/{segment}/explain?entityId=&entityIdNS=` |
//! | [`login_page`] | `/console/login?next=&notice=` | — (the server checks the form) |
//! | [`audit_page`] | `/console/audit?from=&to=&actor=&action=&profile=&cursor=` | `GET /data/foundation/audit/events?` + [`AuditFilter::api_query`] |
//! | [`error_page`] | any | — |
//!
//! [`ProfileData`] for the profile page, all for the identity `(ns, id)` in the URL:
//! - `profile`: `GET /data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={id}&entityIdNS={ns}&withCA=true`;
//! - `events`: the events of the last 12 months, newest first:
//!   `GET /data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId={id}&relatedEntityIdNS={ns}&orderby=-timestamp&limit=1000&startTime={now − 365 days, ms}`,
//!   following `_page.next` up to a cap of your choice (set `events_truncated` when it is hit);
//! - `timeline`: the same call with `TimelineQuery::default().api_query()` (30 events);
//! - `segments`: `GET /data/core/ups/segment/definitions?limit=100` (cache it);
//! - `computed_attributes`: `GET /data/core/ca/attributes` (cache it);
//! - `graph`: `GET /data/core/identity/graph?ns={ns}&id={id}`, or `None` to let the panel load
//!   itself after the page (`hx-trigger="load"`), which keeps the first response small;
//! - `datasets`: dataset id → name from `GET /data/foundation/catalog/dataSets` (cache it).
//!
//! # Live updates (server-sent events)
//!
//! The profile page's `<body>` carries `data-live-url` (`/console/profile/{ns}/{id}/live`) and
//! `data-live-events`. `console.js` opens an `EventSource` on it and, for each message, refreshes
//! the panels whose `data-live` lists the message's **event name** (each panel's `hx-get`, fired
//! by an htmx `refresh` trigger, debounced 200 ms per panel). The server sends:
//!
//! | `event:` | when | refreshes ([`Panel::live_events`]) |
//! |---|---|---|
//! | `profile` | attributes, consents, computed attributes or scores changed | overview, scores, computed |
//! | `events` | a new experience event | scores, purchases, spend, campaigns, support, computed, timeline |
//! | `segments` | a segment membership changed | segments |
//! | `identity` | the identity graph changed | identity |
//! | `reload` | the profile was merged away or deleted: the page reloads | — |
//!
//! The `data:` line is ignored (send a short JSON summary, useful when debugging). When in doubt
//! send `profile`, `events` and `segments`: a refresh costs one small request. A comment line
//! (`: keep-alive`) every 15 s keeps proxies from closing the stream; the browser reconnects by
//! itself and the page shows "Reconnecting…" meanwhile.
//!
//! # Language
//!
//! [`Lang::negotiate`] chooses from the [`LANG_COOKIE`] cookie and `Accept-Language`; every page
//! links `/console/lang?to={en|es}&back={path}`, where the server sets the cookie and redirects
//! to `back` (only when it starts with `/console`).

pub mod assets;
pub mod identity_input;
pub mod urls;

mod audit;
mod chart;
mod customer;
mod error;
mod explain;
mod format;
mod identity;
mod lang;
mod layout;
mod profile;
mod search;
mod signin;
mod timeline;

pub use audit::{audit_page, AuditFilter, AuditPage, AUDIT_PAGE};
pub use error::{error_page, ErrorKind};
pub use explain::explanation_fragment;
pub use identity::identity_panel;
pub use lang::{Lang, LANG_COOKIE};
pub use layout::{Viewer, CSRF_FIELD, CSRF_HEADER};
pub use profile::{
    panel, profile_page, Panel, ProfileData, CHURN_HIGH, CHURN_MEDIUM, VALUE_HIGH, VALUE_MEDIUM,
};
pub use search::{search_page, Match, Recent, SearchOutcome, SearchPage};
pub use signin::{login_page, LoginNotice, LoginPage, LOGIN_COOKIE, LOGIN_FIELD};
pub use timeline::{event_kind, timeline_fragment, EventKind, TimelineQuery, TIMELINE_PAGE};
