//! Integration tests of API keys and the master key against a real LMDB store in a temporary
//! directory; those of console users, roles and sessions are in `console.rs`.

mod console;

use std::path::Path;
use std::sync::Arc;

use auth::{AuthError, KeyId, KeyPatch, Keys, MasterKey, NewKey, SandboxScope};
use rapport_types::{ActionSet, Code};
use sha2::{Digest, Sha256};
use store::{LmdbOptions, LmdbStore, Store, Table};
use tempfile::TempDir;

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const INVALID_API_KEY_MESSAGE: &str = "Authorization: not a valid Rapport API key";

fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        LmdbStore::open(
            dir,
            &LmdbOptions {
                map_size_bytes: 64 << 20,
            },
        )
        .unwrap(),
    )
}

struct Fixture {
    dir: TempDir,
    store: Arc<dyn Store>,
    keys: Keys,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = Keys::open(Arc::clone(&store)).unwrap();
    Fixture { dir, store, keys }
}

fn actions(names: &[&str]) -> ActionSet {
    ActionSet::parse(names.iter().copied()).unwrap()
}

fn sandboxes(names: &[&str]) -> SandboxScope {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    SandboxScope::parse(&names).unwrap()
}

fn new_key(name: &str, action_names: &[&str], sandbox_names: &[&str]) -> NewKey {
    NewKey {
        name: name.to_owned(),
        description: None,
        actions: actions(action_names),
        sandboxes: sandboxes(sandbox_names),
        expires_ms: None,
        role: None,
        rate_limit: None,
    }
}

/// Creates a key as the master key would: every action, every sandbox.
fn create_as_admin(keys: &Keys, new: NewKey) -> (Arc<auth::ApiKeyRecord>, String) {
    keys.create(new, (ActionSet::all(), &SandboxScope::All), "master", NOW)
        .unwrap()
}

fn secret_of(token: &str) -> &str {
    &token["rpk_".len() + 20 + 1..]
}

fn assert_invalid_api_key(result: auth::Result<Arc<auth::ApiKeyRecord>>) {
    let error = result.unwrap_err();
    assert_eq!(error.code, Code::InvalidApiKey, "{error}");
    assert_eq!(error.message, INVALID_API_KEY_MESSAGE);
}

fn assert_invalid_body<T: std::fmt::Debug>(result: auth::Result<T>, message: &str) {
    let error: AuthError = result.unwrap_err();
    assert_eq!(error.code, Code::InvalidApiKeyBody, "{error}");
    assert_eq!(error.message, message);
}

/// Every byte of every key and value in `Table::Auth`.
fn auth_table_bytes(store: &dyn Store) -> Vec<u8> {
    let txn = store.read().unwrap();
    let rows = store::collect_prefix(&*txn, Table::Auth, b"").unwrap();
    rows.into_iter()
        .flat_map(|(k, v)| k.into_iter().chain(v))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_created_key_authenticates_and_its_token_has_the_documented_shape() {
    let fixture = fixture();
    let (record, token) = create_as_admin(
        &fixture.keys,
        new_key("crm-loader", &["ingest.write"], &["prod"]),
    );

    assert!(token.starts_with(&record.prefix()));
    assert_eq!(record.prefix(), format!("rpk_{}_", record.id));
    assert_eq!(KeyId::parse(&token[4..24]), Some(record.id.clone()));
    let secret = secret_of(&token);
    assert_eq!(secret.len(), 43);
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(record.created_by, "master");
    assert_eq!((record.created_ms, record.updated_ms), (NOW, NOW));
    assert!(!record.is_revoked());

    let authenticated = fixture.keys.authenticate(&token, NOW + MINUTE).unwrap();
    assert_eq!(authenticated.id, record.id);
    assert_eq!(authenticated.actions, actions(&["ingest.write"]));
    assert!(authenticated
        .sandboxes
        .allows(&rapport_types::SandboxName::parse("prod").unwrap()));
}

#[test]
fn only_the_hash_of_the_secret_is_stored() {
    let fixture = fixture();
    let (record, token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let secret = secret_of(&token);

    let mut expected_hash = Sha256::new();
    expected_hash.update(b"rapport-api-key-v1\0");
    expected_hash.update(secret.as_bytes());
    let expected_hash: [u8; 32] = expected_hash.finalize().into();
    assert_eq!(record.secret_sha256, Some(expected_hash));

    let stored = auth_table_bytes(&*fixture.store);
    assert!(contains(&stored, &expected_hash));
    assert!(contains(&stored, record.id.as_str().as_bytes()));
    assert!(!contains(&stored, secret.as_bytes()));
    assert!(!contains(&stored, token.as_bytes()));

    let data_file = std::fs::read(fixture.dir.path().join("data.mdb")).unwrap();
    assert!(!contains(&data_file, secret.as_bytes()));
}

#[test]
fn list_and_get_never_expose_the_secret() {
    let fixture = fixture();
    let (record, token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let secret = secret_of(&token);

    let listed = fixture.keys.list();
    let got = fixture.keys.get(record.id.as_str()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], got);
    for shown in [format!("{listed:?}"), format!("{got:?}")] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("secret_sha256: Some(***)"), "{shown}");
        assert!(shown.contains(record.id.as_str()));
    }
}

#[test]
fn rotating_with_grace_keeps_the_old_secret_working_until_the_grace_ends() {
    let fixture = fixture();
    let (record, old_token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));

    let (rotated, new_token) = fixture.keys.rotate(record.id.as_str(), HOUR, NOW).unwrap();
    assert_eq!(rotated.id, record.id);
    assert_ne!(new_token, old_token);
    assert!(new_token.starts_with(&record.prefix()));
    assert_eq!(
        rotated.previous_secret,
        Some((record.secret_sha256.unwrap(), NOW + HOUR))
    );
    assert_eq!(rotated.updated_ms, NOW);

    assert_eq!(
        fixture.keys.authenticate(&new_token, NOW).unwrap().id,
        record.id
    );
    assert_eq!(
        fixture
            .keys
            .authenticate(&old_token, NOW + HOUR - 1)
            .unwrap()
            .id,
        record.id
    );
    assert_invalid_api_key(fixture.keys.authenticate(&old_token, NOW + HOUR));
    assert!(fixture.keys.authenticate(&new_token, NOW + HOUR).is_ok());
}

#[test]
fn rotating_without_grace_stops_the_old_secret_at_once() {
    let fixture = fixture();
    let (record, old_token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));

    let (rotated, new_token) = fixture.keys.rotate(record.id.as_str(), 0, NOW).unwrap();
    assert_eq!(rotated.previous_secret, None);
    assert_invalid_api_key(fixture.keys.authenticate(&old_token, NOW));
    assert!(fixture.keys.authenticate(&new_token, NOW).is_ok());
}

#[test]
fn a_second_rotation_ends_the_first_rotations_grace() {
    let fixture = fixture();
    let (record, first_token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let (_, second_token) = fixture.keys.rotate(record.id.as_str(), HOUR, NOW).unwrap();
    let (_, third_token) = fixture
        .keys
        .rotate(record.id.as_str(), HOUR, NOW + 1)
        .unwrap();

    assert_invalid_api_key(fixture.keys.authenticate(&first_token, NOW + 2));
    assert!(fixture.keys.authenticate(&second_token, NOW + 2).is_ok());
    assert!(fixture.keys.authenticate(&third_token, NOW + 2).is_ok());
}

#[test]
fn a_grace_outside_zero_to_seven_days_is_rejected() {
    let fixture = fixture();
    let (record, _) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let seven_days_ms = 604_800 * 1000;

    for grace_ms in [-1, seven_days_ms + 1] {
        assert_invalid_body(
            fixture.keys.rotate(record.id.as_str(), grace_ms, NOW),
            "/graceSeconds: 0 to 604800",
        );
    }
    assert!(fixture
        .keys
        .rotate(record.id.as_str(), seven_days_ms, NOW)
        .is_ok());
}

#[test]
fn a_revoked_key_is_an_invalid_api_key_and_its_record_stays() {
    let fixture = fixture();
    let (record, old_token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let (_, token) = fixture.keys.rotate(record.id.as_str(), HOUR, NOW).unwrap();

    let revoked = fixture
        .keys
        .revoke(record.id.as_str(), NOW + MINUTE)
        .unwrap();
    assert_eq!(revoked.revoked_ms, Some(NOW + MINUTE));
    assert_eq!(revoked.secret_sha256, None);
    assert_eq!(revoked.previous_secret, None);
    assert!(revoked.is_revoked());
    assert_invalid_api_key(fixture.keys.authenticate(&token, NOW + MINUTE));
    assert_invalid_api_key(fixture.keys.authenticate(&old_token, NOW + MINUTE));

    let again = fixture.keys.revoke(record.id.as_str(), NOW + HOUR).unwrap();
    assert_eq!(again.revoked_ms, Some(NOW + MINUTE));
    assert_eq!(fixture.keys.list().len(), 1);
    assert_eq!(fixture.keys.get(record.id.as_str()).unwrap(), revoked);

    let rename = KeyPatch {
        name: Some("renamed".to_owned()),
        ..KeyPatch::default()
    };
    assert_invalid_body(
        fixture.keys.patch(record.id.as_str(), rename, NOW + HOUR),
        "the key is revoked",
    );
    assert_invalid_body(
        fixture.keys.rotate(record.id.as_str(), 0, NOW + HOUR),
        "the key is revoked",
    );
}

#[test]
fn an_expired_key_is_refused_as_expired_naming_its_prefix_and_expiry() {
    let fixture = fixture();
    let (record, token) = create_as_admin(
        &fixture.keys,
        NewKey {
            expires_ms: Some(NOW + MINUTE),
            ..new_key("short-lived", &["profiles.read"], &["prod"])
        },
    );

    assert!(fixture.keys.authenticate(&token, NOW + MINUTE - 1).is_ok());
    let error = fixture.keys.authenticate(&token, NOW + MINUTE).unwrap_err();
    assert_eq!(error.code, Code::ApiKeyExpired);
    assert!(error.message.contains(&record.prefix()), "{error}");
    assert!(error.message.contains("2026-01-01T00:01:00Z"), "{error}");
    assert!(!error.message.contains(secret_of(&token)));

    let wrong_secret = format!("{}{}", record.prefix(), "A".repeat(43));
    assert_invalid_api_key(fixture.keys.authenticate(&wrong_secret, NOW + MINUTE));
}

#[test]
fn reopening_keys_on_the_same_store_keeps_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let (listed_before, kept_token, old_token, revoked_token) = {
        let keys = Keys::open(open_store(dir.path())).unwrap();
        let (_, kept_token) = create_as_admin(&keys, new_key("kept", &["profiles.*"], &["prod"]));
        let (rotated, old_token) = create_as_admin(&keys, new_key("rotated", &["*"], &["*"]));
        let (_, new_token) = keys.rotate(rotated.id.as_str(), HOUR, NOW).unwrap();
        let (revoked, revoked_token) = create_as_admin(&keys, new_key("revoked", &["*"], &["*"]));
        keys.revoke(revoked.id.as_str(), NOW).unwrap();
        assert!(keys.authenticate(&new_token, NOW).is_ok());
        (keys.list(), kept_token, old_token, revoked_token)
    };

    let keys = Keys::open(open_store(dir.path())).unwrap();
    assert_eq!(keys.list(), listed_before);
    assert_eq!(keys.list().len(), 3);
    assert!(keys.authenticate(&kept_token, NOW).is_ok());
    assert!(keys.authenticate(&old_token, NOW + HOUR - 1).is_ok());
    assert_invalid_api_key(keys.authenticate(&old_token, NOW + HOUR));
    assert_invalid_api_key(keys.authenticate(&revoked_token, NOW));
}

#[test]
fn a_creator_with_profiles_read_cannot_create_a_key_with_events_read() {
    let fixture = fixture();
    let creator_sandboxes = SandboxScope::All;
    let granted = (actions(&["profiles.read"]), &creator_sandboxes);

    let error = fixture
        .keys
        .create(
            new_key("k", &["profiles.read", "events.read"], &["prod"]),
            granted,
            "alice",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error.code, Code::ActionNotPermitted);
    assert!(error.message.contains("events.read"), "{error}");
    assert!(fixture.keys.list().is_empty());

    assert!(fixture
        .keys
        .create(
            new_key("k", &["profiles.read"], &["prod"]),
            granted,
            "alice",
            NOW
        )
        .is_ok());
}

#[test]
fn a_creator_limited_to_sandbox_prod_cannot_create_a_key_for_every_sandbox() {
    let fixture = fixture();
    let creator_sandboxes = sandboxes(&["prod"]);
    let granted = (ActionSet::all(), &creator_sandboxes);

    let error = fixture
        .keys
        .create(
            new_key("k", &["profiles.read"], &["*"]),
            granted,
            "alice",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error.code, Code::SandboxNotPermitted);
    assert!(error.message.contains("\"*\""), "{error}");

    let error = fixture
        .keys
        .create(
            new_key("k", &["profiles.read"], &["prod", "stage"]),
            granted,
            "alice",
            NOW,
        )
        .unwrap_err();
    assert_eq!(error.code, Code::SandboxNotPermitted);
    assert!(error.message.contains("\"stage\""), "{error}");
    assert!(fixture.keys.list().is_empty());

    assert!(fixture
        .keys
        .create(
            new_key("k", &["profiles.read"], &["prod"]),
            granted,
            "alice",
            NOW
        )
        .is_ok());
}

#[test]
fn validation_messages_name_the_field_and_the_rule() {
    let fixture = fixture();
    let admin = (ActionSet::all(), &SandboxScope::All);
    let create = |new: NewKey| fixture.keys.create(new, admin, "master", NOW);

    for name in ["", "   ", &"n".repeat(101)] {
        assert_invalid_body(
            create(new_key(name, &["*"], &["*"])),
            "/name: 1 to 100 characters",
        );
    }
    assert!(create(new_key(&"n".repeat(100), &["*"], &["*"])).is_ok());
    assert_invalid_body(
        create(NewKey {
            description: Some("d".repeat(1001)),
            ..new_key("k", &["*"], &["*"])
        }),
        "/description: at most 1000 characters",
    );
    assert_invalid_body(
        create(NewKey {
            actions: ActionSet::empty(),
            ..new_key("k", &["*"], &["*"])
        }),
        "/actions: at least one action",
    );
    assert_invalid_body(
        create(new_key("k", &["profiles.read", "keys.manage"], &["prod"])),
        "/sandboxes: keys.manage is server-wide; use [\"*\"]",
    );
    assert_invalid_body(
        create(NewKey {
            sandboxes: SandboxScope::Only(Default::default()),
            ..new_key("k", &["*"], &["*"])
        }),
        "/sandboxes: at least one sandbox, or [\"*\"] for all",
    );
    for expires_ms in [NOW, NOW - 1] {
        assert_invalid_body(
            create(NewKey {
                expires_ms: Some(expires_ms),
                ..new_key("k", &["*"], &["*"])
            }),
            "/expiresAt: must be in the future",
        );
    }
    for (per_second, burst, message) in [
        (
            0,
            10,
            "/rateLimit/perSecond: 1 to 100000 requests a second, got 0",
        ),
        (
            100_001,
            10,
            "/rateLimit/perSecond: 1 to 100000 requests a second, got 100001",
        ),
        (
            10,
            0,
            "/rateLimit/burst: 1 to 1000000 requests at once, got 0",
        ),
    ] {
        assert_invalid_body(
            create(NewKey {
                rate_limit: Some(auth::KeyRateLimit { per_second, burst }),
                ..new_key("k", &["*"], &["*"])
            }),
            message,
        );
    }

    let (record, _) = create(new_key("k", &["*"], &["*"])).unwrap();
    let id = record.id.as_str();
    let empty_name = KeyPatch {
        name: Some(String::new()),
        ..KeyPatch::default()
    };
    assert_invalid_body(
        fixture.keys.patch(id, empty_name, NOW),
        "/name: 1 to 100 characters",
    );
    let past_expiry = KeyPatch {
        expires_ms: Some(Some(NOW - 1)),
        ..KeyPatch::default()
    };
    assert_invalid_body(
        fixture.keys.patch(id, past_expiry, NOW),
        "/expiresAt: must be in the future",
    );
    assert_eq!(fixture.keys.get(id).unwrap(), record);
}

#[test]
fn sandbox_scope_parse_errors_say_what_is_wrong() {
    let parse = |names: &[&str]| {
        SandboxScope::parse(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(parse(&["*"]), Ok(SandboxScope::All));
    assert_eq!(parse(&["prod", "dev"]).unwrap().names(), ["dev", "prod"]);
    assert_eq!(SandboxScope::All.names(), ["*"]);
    assert!(parse(&[]).unwrap_err().contains("at least one sandbox"));
    assert!(parse(&["*", "prod"]).unwrap_err().contains("only entry"));
    assert!(parse(&["Prod"]).unwrap_err().contains("\"Prod\""));
}

#[test]
fn malformed_unknown_or_wrong_tokens_are_invalid_api_keys() {
    let fixture = fixture();
    let (record, token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let id = record.id.as_str();
    let secret = secret_of(&token);

    let malformed = [
        String::new(),
        "rpk_".to_owned(),
        format!("rpx_{id}_{secret}"),
        format!("{id}_{secret}"),
        format!("Bearer {token}"),
        format!("rpk_{id}_{}", &secret[..42]),
        format!("rpk_{id}_{secret}A"),
        format!("rpk_{id}{secret}"),
        format!("rpk_{}_{secret}", id.to_uppercase()),
        format!("rpk_{}g_{secret}", &id[..19]),
        format!("rpk_{}_{secret}", &id[..19]),
        format!("rpk_{id}_{}=", &secret[..42]),
    ];
    for bad in &malformed {
        let error = fixture.keys.authenticate(bad, NOW).unwrap_err();
        assert_eq!(error.code, Code::InvalidApiKey, "{bad:?}");
        assert_eq!(error.message, INVALID_API_KEY_MESSAGE);
    }

    let unknown_id = format!("rpk_{}_{secret}", "0".repeat(20));
    assert_invalid_api_key(fixture.keys.authenticate(&unknown_id, NOW));
    let wrong_secret = format!("rpk_{id}_{}", "B".repeat(43));
    assert_invalid_api_key(fixture.keys.authenticate(&wrong_secret, NOW));
    assert!(fixture.keys.authenticate(&token, NOW).is_ok());
}

#[test]
fn getting_an_unknown_or_malformed_id_is_api_key_not_found() {
    let fixture = fixture();
    for id in ["0123456789abcdef0123", "not-an-id"] {
        let error = fixture.keys.get(id).unwrap_err();
        assert_eq!(error.code, Code::ApiKeyNotFound);
        assert_eq!(error.message, format!("no API key \"{id}\""));
        assert_eq!(
            fixture.keys.revoke(id, NOW).unwrap_err().code,
            Code::ApiKeyNotFound
        );
        assert_eq!(
            fixture.keys.rotate(id, 0, NOW).unwrap_err().code,
            Code::ApiKeyNotFound
        );
    }
    let (_, token) = create_as_admin(&fixture.keys, new_key("crm", &["*"], &["*"]));
    let error = fixture.keys.get(&token).unwrap_err();
    assert_eq!(error.code, Code::ApiKeyNotFound);
    assert!(!error.message.contains(secret_of(&token)), "{error}");
}

#[test]
fn patching_changes_name_description_and_expiry_and_is_stored() {
    let fixture = fixture();
    let (record, token) = create_as_admin(
        &fixture.keys,
        NewKey {
            description: Some("nightly".to_owned()),
            expires_ms: Some(NOW + MINUTE),
            ..new_key("crm", &["ingest.write"], &["prod"])
        },
    );
    let id = record.id.as_str();

    let patched = fixture
        .keys
        .patch(
            id,
            KeyPatch {
                name: Some("crm-loader".to_owned()),
                description: Some(None),
                expires_ms: Some(Some(NOW + HOUR)),
                rate_limit: Some(Some(auth::KeyRateLimit {
                    per_second: 10,
                    burst: 30,
                })),
            },
            NOW + 1,
        )
        .unwrap();
    assert_eq!(patched.name, "crm-loader");
    assert_eq!(patched.description, None);
    assert_eq!(patched.expires_ms, Some(NOW + HOUR));
    assert_eq!(
        patched.rate_limit,
        Some(auth::KeyRateLimit {
            per_second: 10,
            burst: 30
        })
    );
    assert_eq!(patched.updated_ms, NOW + 1);
    assert_eq!(
        (patched.actions, &patched.sandboxes),
        (record.actions, &record.sandboxes)
    );
    assert!(fixture.keys.authenticate(&token, NOW + MINUTE).is_ok());

    let unchanged_fields = fixture
        .keys
        .patch(id, KeyPatch::default(), NOW + 2)
        .unwrap();
    assert_eq!(unchanged_fields.name, "crm-loader");
    assert_eq!(unchanged_fields.expires_ms, Some(NOW + HOUR));

    let no_expiry = KeyPatch {
        expires_ms: Some(None),
        ..KeyPatch::default()
    };
    fixture.keys.patch(id, no_expiry, NOW + 3).unwrap();
    let reopened = Keys::open(Arc::clone(&fixture.store)).unwrap();
    let stored = reopened.get(id).unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.expires_ms),
        ("crm-loader", None)
    );
    assert_eq!(stored.rate_limit.map(|l| l.burst), Some(30), "stored");
}

#[test]
fn list_is_ordered_by_creation_time_then_id() {
    let fixture = fixture();
    let admin = (ActionSet::all(), &SandboxScope::All);
    let create = |name: &str, now_ms: i64| {
        fixture
            .keys
            .create(new_key(name, &["*"], &["*"]), admin, "master", now_ms)
            .unwrap()
            .0
    };
    let late = create("late", NOW + 2);
    let early = create("early", NOW);
    let tie_a = create("tie-a", NOW + 1);
    let tie_b = create("tie-b", NOW + 1);
    let (tie_first, tie_second) = if tie_a.id < tie_b.id {
        (tie_a, tie_b)
    } else {
        (tie_b, tie_a)
    };

    assert_eq!(fixture.keys.list(), [early, tie_first, tie_second, late]);
}

#[test]
fn concurrent_creates_lose_no_key() {
    let fixture = fixture();
    let keys = Arc::new(fixture.keys);
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let keys = Arc::clone(&keys);
            std::thread::spawn(move || {
                keys.create(
                    new_key(&format!("key-{n}"), &["*"], &["*"]),
                    (ActionSet::all(), &SandboxScope::All),
                    "master",
                    NOW,
                )
                .unwrap()
                .1
            })
        })
        .collect();
    let tokens: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    assert_eq!(keys.list().len(), 8);
    let reopened = Keys::open(Arc::clone(&fixture.store)).unwrap();
    assert_eq!(reopened.list().len(), 8);
    for token in &tokens {
        assert!(reopened.authenticate(token, NOW).is_ok());
    }
}

#[test]
fn the_master_key_needs_32_characters_and_verifies_only_itself() {
    let short = "k".repeat(31);
    let error = MasterKey::new(&short).unwrap_err();
    assert_eq!(error.code, Code::InvalidApiKeyBody);
    assert_eq!(error.message, "master key: at least 32 characters");

    let key = "k".repeat(32);
    let master = MasterKey::new(&key).unwrap();
    assert!(master.verify(&key));
    assert!(!master.verify(&"k".repeat(33)));
    assert!(!master.verify(&short));
    assert!(!master.verify(""));
    assert_eq!(format!("{master:?}"), "MasterKey(***)");
}

#[test]
fn a_generated_master_key_is_43_base64url_characters_and_accepted() {
    let generated = MasterKey::generate().unwrap();
    assert_eq!(generated.len(), 43);
    assert!(generated
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(generated, MasterKey::generate().unwrap());
    assert!(MasterKey::new(&generated).unwrap().verify(&generated));
}

#[test]
fn key_ids_parse_only_twenty_lowercase_hex_characters() {
    let id = KeyId::parse("0123456789abcdef0123").unwrap();
    assert_eq!(id.as_str(), "0123456789abcdef0123");
    assert_eq!(id.to_string(), "0123456789abcdef0123");
    for bad in [
        "",
        "0123456789abcdef012",
        "0123456789abcdef01234",
        "0123456789ABCDEF0123",
        "0123456789abcdef012g",
    ] {
        assert_eq!(KeyId::parse(bad), None, "{bad}");
    }
}
