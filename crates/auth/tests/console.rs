//! Integration tests of console users, roles, sign-in and sessions against a real LMDB store in
//! a temporary directory. Passwords are hashed with tiny Argon2 parameters so the tests run
//! fast; `now` is always given explicitly.

use std::collections::BTreeSet;
use std::sync::Arc;

use auth::{
    AuthError, LabelGrant, NewUser, PasswordParams, SandboxScope, UserPatch, UserSettings, Users,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rapport_types::{ActionSet, Code};
use store::Store;
use tempfile::TempDir;

use super::{actions, auth_table_bytes, contains, open_store, sandboxes, HOUR, MINUTE, NOW};

const SECOND: i64 = 1000;
const PASSWORD: &str = "correct horse battery";
const WRONG_PASSWORD: &str = "incorrect horse battery";
const INVALID_CREDENTIALS_MESSAGE: &str = "user name or password is wrong";

fn settings() -> UserSettings {
    UserSettings {
        password: PasswordParams {
            memory_kib: 64,
            iterations: 1,
        },
        ..UserSettings::production()
    }
}

struct Fixture {
    dir: TempDir,
    store: Arc<dyn Store>,
    users: Users,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let users = Users::open(Arc::clone(&store), settings()).unwrap();
    Fixture { dir, store, users }
}

fn new_user(name: &str, role: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        display_name: None,
        password: Some(PASSWORD.to_owned()),
        role: role.to_owned(),
        sandboxes: sandboxes(&["prod"]),
    }
}

fn labels(names: &[&str]) -> LabelGrant {
    LabelGrant::Only(names.iter().map(|n| n.to_string()).collect())
}

fn assert_error<T: std::fmt::Debug>(result: auth::Result<T>, code: Code, message: &str) {
    let error: AuthError = result.unwrap_err();
    assert_eq!(error.code, code, "{error}");
    assert_eq!(error.message, message);
}

fn assert_invalid_credentials<T: std::fmt::Debug>(result: auth::Result<T>) {
    let error = result.unwrap_err();
    assert_eq!(error.code, Code::InvalidCredentials, "{error}");
    assert_eq!(error.message, INVALID_CREDENTIALS_MESSAGE);
    assert_eq!(error.retry_after_seconds, None);
}

/// Asserts a `429 login_throttled` telling the caller to wait `seconds`.
fn assert_throttled<T: std::fmt::Debug>(result: auth::Result<T>, seconds: u64) {
    let error = result.unwrap_err();
    assert_eq!(error.code, Code::LoginThrottled, "{error}");
    assert_eq!(error.retry_after_seconds, Some(seconds));
    let unit = if seconds == 1 { "second" } else { "seconds" };
    assert_eq!(
        error.message,
        format!("/name: too many failed sign-ins; try again in {seconds} {unit}")
    );
}

#[test]
fn built_in_roles_are_seeded_and_admin_cannot_be_changed_or_deleted() {
    let fixture = fixture();
    let roles = fixture.users.roles();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["admin", "agent", "integration", "sales", "supervisor"]
    );
    assert!(roles.iter().all(|r| r.built_in));

    let agent_actions = actions(&[
        "profiles.read",
        "events.read",
        "identities.read",
        "segments.read",
        "attributes.read",
        "models.read",
    ]);
    let admin = fixture.users.role("admin").unwrap();
    assert_eq!(
        (&admin.labels, admin.actions),
        (&LabelGrant::All, ActionSet::all())
    );
    let supervisor = fixture.users.role("supervisor").unwrap();
    let mut supervisor_actions = agent_actions;
    supervisor_actions.insert(rapport_types::Action::AuditRead);
    assert_eq!(
        (&supervisor.labels, supervisor.actions),
        (&LabelGrant::All, supervisor_actions),
        "a supervisor may also read the audit log"
    );
    let agent = fixture.users.role("agent").unwrap();
    assert_eq!(agent.actions, agent_actions);
    assert_eq!(
        agent.labels.names(),
        [
            "C1", "C10", "C11", "C12", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "I1", "I2",
            "S2", "SUPPORT"
        ]
    );
    assert!(!agent.labels.allows("S1"));
    let sales = fixture.users.role("sales").unwrap();
    assert_eq!(sales.actions, agent_actions);
    assert!(sales.labels.allows("C7") && sales.labels.allows("I1") && sales.labels.allows("S2"));
    assert!(!sales.labels.allows("I2") && !sales.labels.allows("SUPPORT"));
    assert_eq!(sales.labels.names().len(), 14);
    let integration = fixture.users.role("integration").unwrap();
    assert_eq!(
        (&integration.labels, integration.actions),
        (&LabelGrant::All, ActionSet::all())
    );
    assert_eq!(LabelGrant::All.names(), ["*"]);

    assert_error(
        fixture
            .users
            .put_role("admin", labels(&["C1"]), actions(&["profiles.read"]), NOW),
        Code::InvalidRole,
        "/name: admin is built in and cannot be changed",
    );
    assert_error(
        fixture.users.delete_role("admin"),
        Code::InvalidRole,
        "/name: admin is built in and cannot be deleted",
    );
    assert_eq!(fixture.users.role("admin").unwrap(), admin);

    // Seeded once: an edited built-in role keeps its edit, a deleted one stays deleted.
    fixture
        .users
        .put_role("agent", labels(&["C1"]), actions(&["profiles.read"]), NOW)
        .unwrap();
    fixture.users.delete_role("sales").unwrap();
    let reopened = Users::open(Arc::clone(&fixture.store), settings()).unwrap();
    let agent = reopened.role("agent").unwrap();
    assert_eq!(agent.labels, labels(&["C1"]));
    assert!(agent.built_in);
    assert_eq!(reopened.role("sales").unwrap_err().code, Code::RoleNotFound);
    assert_eq!(reopened.role("admin").unwrap(), admin);
}

#[test]
fn roles_are_created_replaced_and_deleted_unless_a_user_holds_them() {
    let fixture = fixture();
    let users = &fixture.users;

    let created = users
        .put_role(
            "auditor",
            labels(&["C1", "I1", "Custom_label-2"]),
            actions(&["profiles.read"]),
            NOW,
        )
        .unwrap();
    assert_eq!(
        (created.name.as_str(), created.built_in, created.updated_ms),
        ("auditor", false, NOW)
    );
    assert_eq!(users.role("auditor").unwrap(), created);
    assert_eq!(users.roles().len(), 6);

    let replaced = users
        .put_role(
            "auditor",
            LabelGrant::All,
            actions(&["events.read"]),
            NOW + 1,
        )
        .unwrap();
    assert_eq!(replaced.labels, LabelGrant::All);
    assert_eq!(replaced.actions, actions(&["events.read"]));
    assert_eq!(replaced.updated_ms, NOW + 1);
    assert_eq!(users.role("auditor").unwrap(), replaced);

    for bad_name in ["", "Auditor", "1st", "-x", "a b", &"r".repeat(65)] {
        assert_error(
            users.put_role(bad_name, LabelGrant::All, actions(&["*"]), NOW),
            Code::InvalidRole,
            "/name: 1 to 64 characters of a-z, 0-9 and -, starting with a letter",
        );
    }
    assert!(users
        .put_role(&"r".repeat(64), LabelGrant::All, actions(&["*"]), NOW)
        .is_ok());
    assert_error(
        users.put_role("bad", labels(&["C1", "no spaces"]), actions(&["*"]), NOW),
        Code::InvalidRole,
        "/labels: \"no spaces\" is not a label: a letter, then up to 63 letters, digits, _ and -",
    );
    assert_error(
        users.put_role("bad", LabelGrant::All, ActionSet::empty(), NOW),
        Code::InvalidRole,
        "/actions: at least one action",
    );
    assert_error(users.role("bad"), Code::RoleNotFound, "no role \"bad\"");

    users.create_user(new_user("bob", "auditor"), NOW).unwrap();
    users.create_user(new_user("amy", "auditor"), NOW).unwrap();
    assert_error(
        users.delete_role("auditor"),
        Code::RoleInUse,
        "role \"auditor\" is held by user \"amy\" and 1 other: give them another role first",
    );
    users.delete_user("amy").unwrap();
    assert_error(
        users.delete_role("auditor"),
        Code::RoleInUse,
        "role \"auditor\" is held by user \"bob\": give them another role first",
    );
    users
        .update_user(
            "bob",
            UserPatch {
                role: Some("agent".to_owned()),
                ..UserPatch::default()
            },
            NOW,
        )
        .unwrap();
    users.delete_role("auditor").unwrap();
    assert_eq!(users.role("auditor").unwrap_err().code, Code::RoleNotFound);
    assert_error(
        users.delete_role("auditor"),
        Code::RoleNotFound,
        "no role \"auditor\"",
    );
    // A built-in role other than admin can be deleted.
    users.delete_role("integration").unwrap();
}

#[test]
fn a_user_is_created_with_a_given_or_a_generated_password() {
    let fixture = fixture();
    let users = &fixture.users;

    let (alice, generated) = users
        .create_user(
            NewUser {
                name: "Alice@Example.com".to_owned(),
                display_name: Some("Alice Smith".to_owned()),
                ..new_user("", "agent")
            },
            NOW,
        )
        .unwrap();
    assert_eq!(generated, None);
    assert_eq!(alice.name, "alice@example.com");
    assert_eq!(alice.display_name.as_deref(), Some("Alice Smith"));
    assert_eq!(alice.role, "agent");
    assert_eq!(alice.sandboxes, sandboxes(&["prod"]));
    assert!(!alice.disabled);
    assert_eq!(
        (
            alice.created_ms,
            alice.updated_ms,
            alice.password_changed_ms
        ),
        (NOW, NOW, NOW)
    );
    assert_eq!((alice.failed_logins, alice.locked_until_ms), (0, None));
    assert_eq!(users.user("ALICE@example.com").unwrap(), alice);
    let signed_in = users.sign_in("alice@EXAMPLE.com", PASSWORD, NOW).unwrap();
    assert_eq!(signed_in.user, alice);
    let shown = format!("{alice:?} {signed_in:?}");
    assert!(
        !shown.contains("argon2") && !shown.contains(&signed_in.token),
        "{shown}"
    );

    let (bob, generated) = users
        .create_user(
            NewUser {
                password: None,
                sandboxes: SandboxScope::All,
                ..new_user("bob", "admin")
            },
            NOW,
        )
        .unwrap();
    let generated = generated.unwrap();
    assert_eq!(generated.chars().count(), 20);
    assert!(generated.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(users.sign_in("bob", &generated, NOW).is_ok());
    assert_eq!(users.users(), [alice, bob]);

    assert_error(
        users.create_user(new_user("ALICE@example.com", "sales"), NOW),
        Code::UserExists,
        "a user \"alice@example.com\" already exists",
    );
    assert_error(
        users.create_user(new_user("carol", "nobody"), NOW),
        Code::InvalidUser,
        "/role: no role \"nobody\"",
    );
    assert_error(users.user("carol"), Code::UserNotFound, "no user \"carol\"");
    assert_eq!(users.users().len(), 2);
}

#[test]
fn user_fields_are_checked_and_messages_name_the_field_and_the_rule() {
    let fixture = fixture();
    let users = &fixture.users;
    for bad in ["", "al ice", "bob!", "zoë", &"n".repeat(65)] {
        assert_error(
            users.create_user(new_user(bad, "agent"), NOW),
            Code::InvalidUser,
            "/name: 1 to 64 characters of a-z, 0-9, ., _, @ and -",
        );
    }
    for display_name in ["", "  ", &"d".repeat(101)] {
        assert_error(
            users.create_user(
                NewUser {
                    display_name: Some(display_name.to_owned()),
                    ..new_user("carol", "agent")
                },
                NOW,
            ),
            Code::InvalidUser,
            "/displayName: 1 to 100 characters",
        );
    }
    assert_error(
        users.create_user(
            NewUser {
                sandboxes: SandboxScope::Only(BTreeSet::new()),
                ..new_user("carol", "agent")
            },
            NOW,
        ),
        Code::InvalidUser,
        "/sandboxes: at least one sandbox, or [\"*\"] for all",
    );
    assert!(users.users().is_empty());

    let (carol, _) = users.create_user(new_user("carol", "agent"), NOW).unwrap();
    let patched = users
        .update_user(
            "Carol",
            UserPatch {
                display_name: Some(Some("Carol C.".to_owned())),
                role: Some("sales".to_owned()),
                sandboxes: Some(sandboxes(&["prod", "dev"])),
                disabled: None,
            },
            NOW + 1,
        )
        .unwrap();
    assert_eq!(patched.display_name.as_deref(), Some("Carol C."));
    assert_eq!(patched.role, "sales");
    assert_eq!(patched.sandboxes, sandboxes(&["dev", "prod"]));
    assert_eq!((patched.created_ms, patched.updated_ms), (NOW, NOW + 1));
    assert_eq!(users.user("carol").unwrap(), patched);

    let cleared = users
        .update_user(
            "carol",
            UserPatch {
                display_name: Some(None),
                ..UserPatch::default()
            },
            NOW + 2,
        )
        .unwrap();
    assert_eq!(cleared.display_name, None);
    assert_error(
        users.update_user(
            "carol",
            UserPatch {
                role: Some("nobody".to_owned()),
                ..UserPatch::default()
            },
            NOW,
        ),
        Code::InvalidUser,
        "/role: no role \"nobody\"",
    );
    assert_error(
        users.update_user("dave", UserPatch::default(), NOW),
        Code::UserNotFound,
        "no user \"dave\"",
    );
    assert_eq!(users.user("carol").unwrap(), cleared);
    assert_ne!(cleared, carol);
}

#[test]
fn passwords_need_12_to_200_characters_and_must_not_be_the_user_name() {
    let fixture = fixture();
    let users = &fixture.users;
    let with_password = |name: &str, password: &str| NewUser {
        password: Some(password.to_owned()),
        ..new_user(name, "agent")
    };

    assert_error(
        users.create_user(with_password("dave", &"p".repeat(11)), NOW),
        Code::InvalidUser,
        "/password: at least 12 characters",
    );
    assert_error(
        users.create_user(with_password("dave", &"p".repeat(201)), NOW),
        Code::InvalidUser,
        "/password: at most 200 characters",
    );
    assert_error(
        users.create_user(with_password("dave.the.agent", "Dave.The.Agent"), NOW),
        Code::InvalidUser,
        "/password: must not be the user name",
    );
    assert!(users.users().is_empty());

    // Counted in characters, not bytes.
    let twelve_chars = "ééééééééééé1";
    assert_eq!(twelve_chars.chars().count(), 12);
    users
        .create_user(with_password("dave", twelve_chars), NOW)
        .unwrap();
    assert!(users.sign_in("dave", twelve_chars, NOW).is_ok());
    users
        .create_user(with_password("erin", &"p".repeat(200)), NOW)
        .unwrap();

    assert_error(
        users.set_password("dave", "short", NOW),
        Code::InvalidUser,
        "/password: at least 12 characters",
    );
    assert_error(
        users.set_password("dave.the.agent", PASSWORD, NOW),
        Code::UserNotFound,
        "no user \"dave.the.agent\"",
    );
    let (frank, _) = users
        .create_user(new_user("frank.franklin", "agent"), NOW)
        .unwrap();
    assert_error(
        users.set_password("frank.franklin", "FRANK.FRANKLIN", NOW + 1),
        Code::InvalidUser,
        "/password: must not be the user name",
    );
    assert_eq!(users.user("frank.franklin").unwrap(), frank);

    let changed = users
        .set_password("frank.franklin", "a new long password", NOW + 1)
        .unwrap();
    assert_eq!(changed.password_changed_ms, NOW + 1);
    assert_invalid_credentials(users.sign_in("frank.franklin", PASSWORD, NOW + 2));
    assert!(users
        .sign_in("frank.franklin", "a new long password", NOW + 2)
        .is_ok());
}

#[test]
fn a_wrong_password_an_unknown_user_and_a_disabled_user_get_the_same_error() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    users.create_user(new_user("bob", "agent"), NOW).unwrap();
    users
        .update_user(
            "bob",
            UserPatch {
                disabled: Some(true),
                ..UserPatch::default()
            },
            NOW,
        )
        .unwrap();

    let signed_in = users.sign_in("alice", PASSWORD, NOW).unwrap();
    assert_eq!(signed_in.user.name, "alice");
    assert_eq!(signed_in.token.len(), 43);
    assert_eq!(URL_SAFE_NO_PAD.decode(&signed_in.token).unwrap().len(), 32);
    assert_eq!(URL_SAFE_NO_PAD.decode(&signed_in.csrf).unwrap().len(), 32);
    assert_ne!(signed_in.token, signed_in.csrf);

    assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, NOW));
    assert_invalid_credentials(users.sign_in("alice", "", NOW));
    assert_invalid_credentials(users.sign_in("alice", &"x".repeat(10_000), NOW));
    assert_invalid_credentials(users.sign_in("nobody", PASSWORD, NOW));
    assert_invalid_credentials(users.sign_in("not a valid name!", PASSWORD, NOW));
    assert_invalid_credentials(users.sign_in("bob", PASSWORD, NOW));

    // Each sign-in opens a new session with its own tokens.
    let again = users.sign_in("alice", PASSWORD, NOW).unwrap();
    assert_ne!(again.token, signed_in.token);
    assert_ne!(again.csrf, signed_in.csrf);
}

#[test]
fn after_five_failures_sign_in_is_throttled_with_a_growing_wait_and_a_success_resets_it() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();

    for failure in 1..=4 {
        assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, NOW));
        let alice = users.user("alice").unwrap();
        assert_eq!(
            (alice.failed_logins, alice.locked_until_ms),
            (failure, None)
        );
    }
    // The fifth failure locks the user for 2^0 = 1 second.
    assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, NOW));
    let alice = users.user("alice").unwrap();
    assert_eq!(alice.failed_logins, 5);
    assert_eq!(alice.locked_until_ms, Some(NOW + SECOND));
    assert!(alice.is_locked(NOW) && !alice.is_locked(NOW + SECOND));

    // While locked, even the right password is refused without being checked or counted.
    assert_throttled(users.sign_in("alice", PASSWORD, NOW), 1);
    assert_throttled(users.sign_in("ALICE", WRONG_PASSWORD, NOW + 999), 1);
    assert_eq!(users.user("alice").unwrap().failed_logins, 5);

    // Each further failure doubles the wait: 2, 4, 8 ... seconds.
    let mut now = NOW + SECOND;
    for (failures, wait_seconds) in [(6, 2), (7, 4), (8, 8), (9, 16)] {
        assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, now));
        let alice = users.user("alice").unwrap();
        assert_eq!(alice.failed_logins, failures);
        assert_eq!(alice.locked_until_ms, Some(now + wait_seconds * SECOND));
        assert_throttled(users.sign_in("alice", PASSWORD, now), wait_seconds as u64);
        // Rounded up to whole seconds.
        assert_throttled(
            users.sign_in("alice", PASSWORD, now + wait_seconds * SECOND - 1500),
            2,
        );
        now += wait_seconds * SECOND;
    }

    // A success after the wait clears the count.
    let signed_in = users.sign_in("alice", PASSWORD, now).unwrap();
    assert_eq!(
        (signed_in.user.failed_logins, signed_in.user.locked_until_ms),
        (0, None)
    );
    let alice = users.user("alice").unwrap();
    assert_eq!((alice.failed_logins, alice.locked_until_ms), (0, None));
    for _ in 1..=4 {
        assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, now));
    }
    assert!(users.sign_in("alice", PASSWORD, now).is_ok());

    // The wait stops growing at 15 minutes.
    let mut now = now + SECOND;
    let mut waits = Vec::new();
    for _ in 0..16 {
        assert_invalid_credentials(users.sign_in("alice", WRONG_PASSWORD, now));
        if let Some(until) = users.user("alice").unwrap().locked_until_ms {
            waits.push((until - now) / SECOND);
            now = until;
        }
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    assert_throttled(users.sign_in("alice", PASSWORD, now - 900 * SECOND), 900);

    // An administrator's password reset also clears the count.
    let reset = users
        .set_password("alice", "another long password", now)
        .unwrap();
    assert_eq!((reset.failed_logins, reset.locked_until_ms), (0, None));
    assert!(users.sign_in("alice", "another long password", now).is_ok());
}

#[test]
fn a_session_is_found_by_its_token_until_it_is_idle_too_long() {
    let fixture = fixture();
    let users = &fixture.users;
    let (alice, _) = users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let signed_in = users.sign_in("alice", PASSWORD, NOW).unwrap();
    let idle = settings().session_idle_ms;
    assert_eq!(idle, 30 * MINUTE);

    let active = users
        .session(&signed_in.token, NOW + MINUTE)
        .unwrap()
        .unwrap();
    assert_eq!(active.user, alice);
    assert_eq!(active.csrf, signed_in.csrf);
    assert_eq!(
        (active.created_ms, active.last_seen_ms),
        (NOW, NOW + MINUTE)
    );
    assert!(active.csrf_matches(&signed_in.csrf));
    assert!(!active.csrf_matches(&signed_in.token));
    assert!(!active.csrf_matches(""));
    assert!(!format!("{active:?}").contains(&signed_in.csrf));

    // Each use moves the idle deadline: idle exactly 30 minutes is still alive.
    let last_use = NOW + MINUTE + idle;
    assert!(users.session(&signed_in.token, last_use).unwrap().is_some());
    assert!(users
        .session(&signed_in.token, last_use + idle)
        .unwrap()
        .is_some());
    // One millisecond more and it has ended, for good.
    let later = last_use + 2 * idle + 1;
    assert!(users.session(&signed_in.token, later).unwrap().is_none());
    assert!(users.session(&signed_in.token, last_use).unwrap().is_none());

    // Unknown and malformed tokens find nothing.
    let unknown = URL_SAFE_NO_PAD.encode([0u8; 32]);
    for token in [unknown.as_str(), "", "not a token", &signed_in.csrf] {
        assert!(users.session(token, NOW).unwrap().is_none(), "{token}");
    }
}

#[test]
fn a_session_ends_twelve_hours_after_sign_in_however_busy() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let signed_in = users.sign_in("alice", PASSWORD, NOW).unwrap();
    let max = settings().session_max_ms;
    assert_eq!(max, 12 * HOUR);

    let mut now = NOW;
    while now + 20 * MINUTE <= NOW + max {
        now += 20 * MINUTE;
        assert!(
            users.session(&signed_in.token, now).unwrap().is_some(),
            "{now}"
        );
    }
    assert_eq!(now, NOW + max);
    assert!(users
        .session(&signed_in.token, NOW + max + 1)
        .unwrap()
        .is_none());
    assert!(users
        .session(&signed_in.token, NOW + max)
        .unwrap()
        .is_none());

    // Settings decide the limits.
    let short = Users::open(
        Arc::clone(&fixture.store),
        UserSettings {
            session_idle_ms: MINUTE,
            session_max_ms: 5 * MINUTE,
            ..settings()
        },
    )
    .unwrap();
    let signed_in = short.sign_in("alice", PASSWORD, NOW).unwrap();
    assert!(short
        .session(&signed_in.token, NOW + MINUTE)
        .unwrap()
        .is_some());
    assert!(short
        .session(&signed_in.token, NOW + 2 * MINUTE + 1)
        .unwrap()
        .is_none());
    let signed_in = short.sign_in("alice", PASSWORD, NOW).unwrap();
    for minute in 1..=5 {
        assert!(short
            .session(&signed_in.token, NOW + minute * MINUTE)
            .unwrap()
            .is_some());
    }
    assert!(short
        .session(&signed_in.token, NOW + 5 * MINUTE + 1)
        .unwrap()
        .is_none());
}

#[test]
fn signing_out_ends_only_that_session() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let first = users.sign_in("alice", PASSWORD, NOW).unwrap();
    let second = users.sign_in("alice", PASSWORD, NOW).unwrap();

    users.sign_out(&first.token).unwrap();
    assert!(users.session(&first.token, NOW).unwrap().is_none());
    assert!(users.session(&second.token, NOW).unwrap().is_some());
    // Signing out twice, or with a malformed token, changes nothing.
    users.sign_out(&first.token).unwrap();
    users.sign_out("garbage").unwrap();
    assert!(users.session(&second.token, NOW).unwrap().is_some());

    assert_eq!(users.end_sessions_of("ALICE").unwrap(), 1);
    assert!(users.session(&second.token, NOW).unwrap().is_none());
    assert_eq!(users.end_sessions_of("alice").unwrap(), 0);
}

#[test]
fn a_password_change_disabling_or_deleting_the_user_ends_its_sessions() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    users.create_user(new_user("bob", "agent"), NOW).unwrap();
    let bob = users.sign_in("bob", PASSWORD, NOW).unwrap();
    let still_signed_in = |token: &str| users.session(token, NOW + 1).unwrap().is_some();

    let alice = users.sign_in("alice", PASSWORD, NOW).unwrap();
    users
        .set_password("alice", "a brand new password", NOW)
        .unwrap();
    assert!(!still_signed_in(&alice.token));
    assert!(still_signed_in(&bob.token));

    let alice = users.sign_in("alice", "a brand new password", NOW).unwrap();
    let other_change = UserPatch {
        display_name: Some(Some("Alice".to_owned())),
        ..UserPatch::default()
    };
    users.update_user("alice", other_change, NOW).unwrap();
    assert!(still_signed_in(&alice.token));
    let disable = UserPatch {
        disabled: Some(true),
        ..UserPatch::default()
    };
    assert!(users.update_user("alice", disable, NOW).unwrap().disabled);
    assert!(!still_signed_in(&alice.token));
    assert_invalid_credentials(users.sign_in("alice", "a brand new password", NOW));
    let enable = UserPatch {
        disabled: Some(false),
        ..UserPatch::default()
    };
    users.update_user("alice", enable, NOW).unwrap();
    let alice = users.sign_in("alice", "a brand new password", NOW).unwrap();
    assert!(still_signed_in(&alice.token));

    users.delete_user("alice").unwrap();
    assert!(!still_signed_in(&alice.token));
    assert_error(users.user("alice"), Code::UserNotFound, "no user \"alice\"");
    assert_invalid_credentials(users.sign_in("alice", "a brand new password", NOW));
    assert_error(
        users.delete_user("alice"),
        Code::UserNotFound,
        "no user \"alice\"",
    );
    assert!(still_signed_in(&bob.token));

    // None of those sessions is left in the store.
    let reopened = Users::open(Arc::clone(&fixture.store), settings()).unwrap();
    assert!(reopened.session(&alice.token, NOW + 1).unwrap().is_none());
    assert!(reopened.session(&bob.token, NOW + 1).unwrap().is_some());
}

#[test]
fn expired_sessions_are_swept() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let old = users.sign_in("alice", PASSWORD, NOW).unwrap();
    let fresh = users.sign_in("alice", PASSWORD, NOW + HOUR).unwrap();

    assert_eq!(users.end_expired_sessions(NOW + HOUR).unwrap(), 1);
    assert_eq!(users.end_expired_sessions(NOW + HOUR).unwrap(), 0);
    let reopened = Users::open(Arc::clone(&fixture.store), settings()).unwrap();
    assert!(reopened
        .session(&fresh.token, NOW + HOUR)
        .unwrap()
        .is_some());
    assert!(reopened.session(&old.token, NOW).unwrap().is_none());
}

#[test]
fn users_roles_and_sessions_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (users_before, roles_before, token, csrf) = {
        let users = Users::open(open_store(dir.path()), settings()).unwrap();
        users
            .put_role("auditor", labels(&["C1"]), actions(&["profiles.read"]), NOW)
            .unwrap();
        users
            .create_user(new_user("alice", "auditor"), NOW)
            .unwrap();
        users.create_user(new_user("bob", "agent"), NOW).unwrap();
        for _ in 0..2 {
            assert_invalid_credentials(users.sign_in("bob", WRONG_PASSWORD, NOW));
        }
        let signed_in = users.sign_in("alice", PASSWORD, NOW).unwrap();
        // A use within the minute stays in memory; the one after is written.
        assert!(users
            .session(&signed_in.token, NOW + 30 * 1000)
            .unwrap()
            .is_some());
        assert!(users
            .session(&signed_in.token, NOW + 2 * MINUTE)
            .unwrap()
            .is_some());
        assert!(users
            .session(&signed_in.token, NOW + 2 * MINUTE + 30 * 1000)
            .unwrap()
            .is_some());
        (
            users.users(),
            users.roles(),
            signed_in.token,
            signed_in.csrf,
        )
    };

    let users = Users::open(open_store(dir.path()), settings()).unwrap();
    assert_eq!(users.users(), users_before);
    assert_eq!(users.roles(), roles_before);
    assert_eq!(users.user("bob").unwrap().failed_logins, 2);
    assert!(users.sign_in("bob", PASSWORD, NOW).is_ok());

    // The last use written was at 2 minutes (the one 30 seconds later stayed in memory): idle
    // is counted from there.
    let idle = settings().session_idle_ms;
    let written = NOW + 2 * MINUTE;
    let active = users.session(&token, written + idle).unwrap().unwrap();
    assert_eq!(active.user.name, "alice");
    assert_eq!(active.csrf, csrf);
    assert_eq!(active.created_ms, NOW);
    // That use is written (a minute or more after the last write); the next is not.
    let written = written + idle;
    assert!(users
        .session(&token, written + 30 * 1000)
        .unwrap()
        .is_some());
    drop(users);
    let users = Users::open(open_store(dir.path()), settings()).unwrap();
    assert!(users
        .session(&token, written + 30 * 1000 + idle)
        .unwrap()
        .is_none());
}

#[test]
fn the_auth_table_holds_neither_passwords_nor_session_tokens() {
    let fixture = fixture();
    let users = &fixture.users;
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let (_, generated) = users
        .create_user(
            NewUser {
                password: None,
                ..new_user("bob", "agent")
            },
            NOW,
        )
        .unwrap();
    let generated = generated.unwrap();
    let changed_password = "alice's second password";
    users.set_password("alice", changed_password, NOW).unwrap();
    let alice = users.sign_in("alice", changed_password, NOW).unwrap();
    let bob = users.sign_in("bob", &generated, NOW).unwrap();
    assert!(users
        .session(&alice.token, NOW + 5 * MINUTE)
        .unwrap()
        .is_some());

    let stored = auth_table_bytes(&*fixture.store);
    assert!(contains(&stored, b"user\0alice"));
    assert!(contains(&stored, b"$argon2id$v=19$"));
    assert!(contains(&stored, b"session\0"));
    for secret in [
        PASSWORD,
        changed_password,
        &generated,
        &alice.token,
        &bob.token,
    ] {
        assert!(!contains(&stored, secret.as_bytes()), "{secret}");
    }
    for token in [&alice.token, &bob.token] {
        let raw = URL_SAFE_NO_PAD.decode(token).unwrap();
        assert!(!contains(&stored, &raw));
    }
    let data_file = std::fs::read(fixture.dir.path().join("data.mdb")).unwrap();
    for secret in [
        PASSWORD,
        changed_password,
        &generated,
        &alice.token,
        &bob.token,
    ] {
        assert!(!contains(&data_file, secret.as_bytes()), "{secret}");
    }
}

#[test]
fn concurrent_sign_ins_lose_no_session() {
    let fixture = fixture();
    let users = Arc::new(fixture.users);
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let users = Arc::clone(&users);
            std::thread::spawn(move || users.sign_in("alice", PASSWORD, NOW).unwrap().token)
        })
        .collect();
    let tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let reopened = Users::open(Arc::clone(&fixture.store), settings()).unwrap();
    for token in &tokens {
        assert!(reopened.session(token, NOW).unwrap().is_some());
    }
    assert_eq!(reopened.end_sessions_of("alice").unwrap(), 8);
}

/// Every sign-in that is not throttled checks one password, whether the name is known, unknown
/// (against a dummy hash) or disabled, so the time taken does not tell which names exist.
#[test]
fn an_unknown_user_costs_a_password_verification_like_a_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let users = Users::open(open_store(dir.path()), settings()).unwrap();
    users.create_user(new_user("alice", "agent"), NOW).unwrap();
    let checked = |name: &str, password: &str| {
        let before = users.password_verifications();
        let _ = users.sign_in(name, password, NOW);
        users.password_verifications() - before
    };
    assert_eq!(checked("alice", "wrong password here"), 1);
    assert_eq!(
        checked("nobody", PASSWORD),
        1,
        "an unknown name is checked too"
    );
    let disable = UserPatch {
        disabled: Some(true),
        ..UserPatch::default()
    };
    users.update_user("alice", disable, NOW).unwrap();
    assert_eq!(
        checked("alice", PASSWORD),
        1,
        "a disabled user is checked too"
    );
}
