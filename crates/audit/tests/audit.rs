//! Integration tests of the audit log against real LMDB environments in temporary directories:
//! recording, every query filter and paging, the HMAC-only promise (checked on the raw files),
//! export, retention, durability, reopening, and refusal when the log cannot take entries.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use audit::{
    Actor, ActorKind, AuditAction, AuditEntry, AuditError, AuditLog, AuditOptions, AuditQuery,
    Client, FieldsReturned, IdentityFilter, IdentityRef, Outcome, RequestedFields, Unavailable,
    Via, MAX_EXAMINED_PER_PAGE,
};
use proptest::prelude::*;
use store::{LmdbOptions, LmdbStore, Store, Table};

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Long enough that in a test nothing commits but a durable entry, a flush or closing.
const NEVER: Duration = Duration::from_secs(24 * 60 * 60);

/// Test options: a small map, and no pruning but the one a test asks for.
fn options() -> AuditOptions {
    AuditOptions {
        map_size_bytes: 64 << 20,
        prune_every: None,
        ..AuditOptions::default()
    }
}

fn open(dir: &Path, options: AuditOptions) -> AuditLog {
    AuditLog::open(dir, options).unwrap()
}

fn user(name: &str) -> Actor {
    Actor::new(ActorKind::User, name).with_role("agent")
}

fn key(id: &str) -> Actor {
    Actor::new(ActorKind::Key, id)
}

fn action(name: &str) -> AuditAction {
    AuditAction::parse(name).unwrap()
}

fn entry(at_ms: i64, actor: Actor, action_name: &str) -> AuditEntry {
    AuditEntry::new(
        at_ms,
        actor,
        Via::Api,
        action(action_name),
        Outcome::status(200),
    )
}

/// A lookup in `sandbox` that returned `profiles`, made with `identity`.
fn lookup(
    at_ms: i64,
    actor: Actor,
    sandbox: &str,
    profiles: &[u64],
    identity: Option<IdentityRef>,
) -> AuditEntry {
    AuditEntry {
        sandbox: Some(sandbox.to_owned()),
        profiles: profiles.to_vec(),
        identity,
        ..entry(at_ms, actor, "profile.lookup")
    }
}

/// Every entry the query matches, following cursors page by page.
fn all_pages(log: &AuditLog, query: &AuditQuery) -> Vec<AuditEntry> {
    let mut query = query.clone();
    let mut entries = Vec::new();
    for _ in 0..10_000 {
        let page = log.query(&query).unwrap();
        assert!(page.entries.len() <= query.limit);
        entries.extend(page.entries);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return entries,
        }
    }
    panic!("paging did not end");
}

/// Every entry in the log, oldest first, read through the export.
fn exported(log: &AuditLog) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    let count = log.export(0, i64::MAX, &mut out).unwrap();
    let entries: Vec<AuditEntry> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(count, entries.len() as u64);
    entries
}

fn stamps(entries: &[AuditEntry]) -> Vec<(i64, u32)> {
    entries.iter().map(|e| (e.at_ms, e.seq)).collect()
}

/// Every (key, value) of the audit table, read from the closed log's environment.
fn raw_audit_table(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let store = LmdbStore::open_tables(
        dir,
        &LmdbOptions {
            map_size_bytes: 64 << 20,
        },
        &[Table::Audit],
    )
    .unwrap();
    let txn = store.read().unwrap();
    store::collect_prefix(&*txn, Table::Audit, b"").unwrap()
}

/// The bytes of every file under `dir`.
fn raw_files(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            bytes.extend(std::fs::read(path).unwrap());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn a_rich_entry(log: &AuditLog) -> AuditEntry {
    AuditEntry {
        at_ms: NOW,
        seq: 0,
        actor: user("ana"),
        via: Via::Console,
        client: Client {
            address: Some("203.0.113.7".to_owned()),
            api_key: Some("0123456789abcdef0123".to_owned()),
        },
        action: action("profile.lookup"),
        sandbox: Some("prod".to_owned()),
        profiles: vec![42, 7],
        identity: Some(log.identity_ref("email", "ana@example.com")),
        object: None,
        fields: Some(FieldsReturned {
            requested: RequestedFields::Paths(vec![
                "person.name".to_owned(),
                "loyalty.tier".to_owned(),
            ]),
            redaction_stamp: Some(99),
            redacted: 1,
        }),
        outcome: Outcome::status(200),
    }
}

#[test]
fn recorded_entries_come_back_whole_and_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    let rich = a_rich_entry(&log);
    let change = AuditEntry {
        object: Some("0123456789abcdef0123".to_owned()),
        fields: Some(FieldsReturned {
            requested: RequestedFields::All,
            redaction_stamp: None,
            redacted: 0,
        }),
        outcome: Outcome::problem(403, "action_not_permitted"),
        ..entry(
            NOW + 2 * MINUTE,
            Actor::new(ActorKind::Master, "master"),
            "key.create",
        )
    };
    recorder.record(rich.clone()).unwrap();
    recorder.record(change.clone()).unwrap();
    // Out of time order, and three in one millisecond: each gets a number of its own.
    recorder
        .record(entry(NOW + MINUTE, key("k1"), "events.lookup"))
        .unwrap();
    recorder
        .record(entry(NOW, key("k2"), "events.lookup"))
        .unwrap();
    recorder
        .record(entry(NOW, key("k3"), "events.lookup"))
        .unwrap();
    recorder
        .record(entry(-5, key("k4"), "events.lookup"))
        .unwrap();
    log.flush().unwrap();

    let page = log.query(&AuditQuery::default()).unwrap();
    assert_eq!(page.next, None);
    assert_eq!(
        stamps(&page.entries),
        vec![
            (NOW + 2 * MINUTE, 0),
            (NOW + MINUTE, 0),
            (NOW, 2),
            (NOW, 1),
            (NOW, 0),
            (0, 0)
        ]
    );
    assert_eq!(page.entries[0], change);
    assert_eq!(page.entries[2].actor, key("k3"));
    assert_eq!(page.entries[3].actor, key("k2"));
    assert_eq!(page.entries[4], rich);
}

#[test]
fn an_entry_is_camel_case_json_without_absent_options() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let rich = a_rich_entry(&log);
    let hmac = rich.identity.as_ref().unwrap().hmac_hex();
    assert_eq!(hmac.len(), 32);
    let expected = format!(
        concat!(
            r#"{{"atMs":{},"seq":0,"actor":{{"kind":"user","id":"ana","role":"agent"}},"#,
            r#""via":"console","client":{{"address":"203.0.113.7","apiKey":"0123456789abcdef0123"}},"#,
            r#""action":"profile.lookup","sandbox":"prod","profiles":[42,7],"#,
            r#""identity":{{"namespace":"email","hmac":"{}"}},"#,
            r#""fields":{{"requested":["person.name","loyalty.tier"],"redactionStamp":99,"redacted":1}},"#,
            r#""outcome":{{"status":200}}}}"#
        ),
        NOW, hmac
    );
    assert_eq!(serde_json::to_string(&rich).unwrap(), expected);
    assert_eq!(serde_json::from_str::<AuditEntry>(&expected).unwrap(), rich);
    let all = AuditEntry {
        fields: Some(FieldsReturned {
            requested: RequestedFields::All,
            redaction_stamp: None,
            redacted: 0,
        }),
        ..entry(
            NOW,
            Actor::new(ActorKind::System, "retention"),
            "audit.export",
        )
    };
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["fields"]["requested"], "all");
    assert_eq!(json["actor"]["kind"], "system");
    assert!(json.get("sandbox").is_none());
    assert_eq!(serde_json::from_value::<AuditEntry>(json).unwrap(), all);
    assert!(serde_json::from_str::<AuditEntry>(
        &expected.replace("profile.lookup", "Profile Lookup")
    )
    .is_err());
}

#[test]
fn action_names_follow_one_rule() {
    const PROFILE_LOOKUP: AuditAction = AuditAction::from_static("profile.lookup");
    assert_eq!(PROFILE_LOOKUP, action("profile.lookup"));
    for good in [
        "key.create",
        "segment.preview.read",
        "auth.denied",
        "a",
        "x_y-z.2",
    ] {
        assert_eq!(AuditAction::parse(good).unwrap().as_str(), good);
    }
    for bad in [
        "",
        "Profile.lookup",
        "1key",
        ".x",
        "key create",
        "key\0create",
    ] {
        assert_eq!(AuditAction::parse(bad), None, "{bad:?}");
    }
    assert!(AuditAction::parse(&"a".repeat(64)).is_some());
    assert!(AuditAction::parse(&"a".repeat(65)).is_none());
}

/// A varied log: three actors, four actions, two sandboxes, overlapping profiles, identities.
fn varied_log(log: &AuditLog) -> Vec<AuditEntry> {
    let actors = [user("ana"), user("bo"), key("k1")];
    let actions = [
        "profile.lookup",
        "events.lookup",
        "key.create",
        "console.profile",
    ];
    let sandboxes = ["prod", "dev"];
    let emails = ["ana@example.com", "bo@example.com"];
    let recorder = log.recorder();
    let mut recorded = Vec::new();
    for n in 0..120u64 {
        let at = NOW + (n as i64 % 40) * MINUTE;
        let identity = (n % 3 != 0).then(|| log.identity_ref("email", emails[n as usize % 2]));
        let entry = AuditEntry {
            sandbox: (n % 5 != 0).then(|| sandboxes[n as usize % 2].to_owned()),
            profiles: vec![n % 7, (n * 3) % 11],
            identity,
            ..entry(at, actors[n as usize % 3].clone(), actions[n as usize % 4])
        };
        recorder.record(entry.clone()).unwrap();
        recorded.push(entry);
    }
    log.flush().unwrap();
    recorded
}

#[test]
fn each_filter_returns_exactly_the_matching_entries() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorded = varied_log(&log);
    let everything = exported(&log);
    assert_eq!(everything.len(), recorded.len());
    let ana_hmac = log.identity_ref("email", "ana@example.com").hmac;

    type Check = Box<dyn Fn(&AuditEntry) -> bool>;
    let cases: Vec<(AuditQuery, Check)> = vec![
        (
            AuditQuery {
                actor: Some("user:ana".to_owned()),
                ..AuditQuery::default()
            },
            Box::new(|e| e.actor.kind == ActorKind::User && e.actor.id == "ana"),
        ),
        (
            AuditQuery {
                action: Some("key.create".to_owned()),
                ..AuditQuery::default()
            },
            Box::new(|e| e.action.as_str() == "key.create"),
        ),
        (
            AuditQuery {
                sandbox: Some("dev".to_owned()),
                ..AuditQuery::default()
            },
            Box::new(|e| e.sandbox.as_deref() == Some("dev")),
        ),
        (
            AuditQuery {
                sandbox: Some("prod".to_owned()),
                profiles: vec![3, 5],
                ..AuditQuery::default()
            },
            Box::new(|e| {
                e.sandbox.as_deref() == Some("prod")
                    && e.profiles.iter().any(|p| [3, 5].contains(p))
            }),
        ),
        (
            AuditQuery {
                profiles: vec![4],
                ..AuditQuery::default()
            },
            Box::new(|e| e.profiles.contains(&4)),
        ),
        (
            AuditQuery {
                identity: Some(IdentityFilter::Value {
                    namespace: "Email".to_owned(),
                    value: "  ANA@example.com ".to_owned(),
                }),
                ..AuditQuery::default()
            },
            Box::new(move |e| e.identity.as_ref().is_some_and(|i| i.hmac == ana_hmac)),
        ),
        (
            AuditQuery {
                identity: Some(IdentityFilter::Ref(
                    log.identity_ref("email", "bo@example.com"),
                )),
                actor: Some("key:k1".to_owned()),
                ..AuditQuery::default()
            },
            Box::new(move |e| {
                e.actor.id == "k1" && e.identity.as_ref().is_some_and(|i| i.hmac != ana_hmac)
            }),
        ),
        (
            AuditQuery {
                actor: Some("user:bo".to_owned()),
                action: Some("events.lookup".to_owned()),
                start_ms: NOW + 10 * MINUTE,
                end_ms: NOW + 30 * MINUTE,
                ..AuditQuery::default()
            },
            Box::new(|e| {
                e.actor.id == "bo"
                    && e.action.as_str() == "events.lookup"
                    && (NOW + 10 * MINUTE..NOW + 30 * MINUTE).contains(&e.at_ms)
            }),
        ),
        (
            AuditQuery {
                actor: Some("user:nobody".to_owned()),
                ..AuditQuery::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (query, check) in cases {
        let expected: Vec<AuditEntry> = everything
            .iter()
            .rev()
            .filter(|e| check(e))
            .cloned()
            .collect();
        assert!(
            expected.len() < everything.len(),
            "{query:?} matches everything"
        );
        let must_match = query.actor.as_deref() != Some("user:nobody");
        assert!(
            !must_match || !expected.is_empty(),
            "{query:?} matches nothing"
        );
        for limit in [1000, 7] {
            let query = AuditQuery {
                limit,
                ..query.clone()
            };
            assert_eq!(all_pages(&log, &query), expected, "{query:?}");
        }
    }
}

#[test]
fn paging_with_a_cursor_visits_every_entry_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    // Many entries share a millisecond, so pages break inside one.
    for n in 0..250i64 {
        recorder
            .record(entry(NOW + n / 25, key("k1"), "profile.lookup"))
            .unwrap();
    }
    log.flush().unwrap();
    for query in [
        AuditQuery::default(),
        AuditQuery {
            actor: Some("key:k1".to_owned()),
            ..AuditQuery::default()
        },
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = log
                .query(&AuditQuery {
                    limit: 11,
                    cursor: cursor.clone(),
                    ..query.clone()
                })
                .unwrap();
            pages += 1;
            seen.extend(stamps(&page.entries));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 250usize.div_ceil(11));
        assert_eq!(seen.len(), 250);
        assert!(
            seen.windows(2).all(|pair| pair[0] > pair[1]),
            "newest first, no repeat"
        );
    }
}

#[test]
fn a_page_reads_at_most_its_budget_of_entries_and_says_where_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    let rare = lookup(NOW, key("busy"), "rare", &[1], None);
    recorder.record(rare.clone()).unwrap();
    let newer = MAX_EXAMINED_PER_PAGE + 50;
    for n in 0..newer {
        recorder
            .record(lookup(
                NOW + 1 + n as i64,
                key("busy"),
                "common",
                &[2],
                None,
            ))
            .unwrap();
    }
    log.flush().unwrap();
    // No index for a sandbox alone: the time order; and the actor's index, which cannot
    // tell the sandboxes apart.
    for query in [
        AuditQuery {
            sandbox: Some("rare".to_owned()),
            ..AuditQuery::default()
        },
        AuditQuery {
            sandbox: Some("rare".to_owned()),
            actor: Some("key:busy".to_owned()),
            ..AuditQuery::default()
        },
    ] {
        let first = log.query(&query).unwrap();
        assert!(first.entries.is_empty());
        let next = first.next.expect("the page stopped at its budget");
        let second = log
            .query(&AuditQuery {
                cursor: Some(next),
                ..query.clone()
            })
            .unwrap();
        assert_eq!(second.entries, vec![rare.clone()]);
        assert_eq!(second.next, None);
    }
    // Through the profile index the one entry is found at once.
    let page = log
        .query(&AuditQuery {
            sandbox: Some("rare".to_owned()),
            profiles: vec![1],
            actor: Some("key:busy".to_owned()),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!((page.entries, page.next), (vec![rare], None));
}

#[test]
fn identity_values_never_reach_the_audit_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    let values = [
        ("email", "  Ana.Lima+Audit@Example.COM "),
        ("phone", "+34 600 111 222"),
        ("crmId", "CRM-Zx81-Unique-Customer"),
    ];
    for (n, (namespace, value)) in values.iter().enumerate() {
        let identity = recorder.identity_ref(namespace, value);
        assert_eq!(identity, log.identity_ref(namespace, value));
        for minute in 0..20 {
            recorder
                .record(lookup(
                    NOW + minute * MINUTE,
                    user("supervisor-zeta"),
                    "prod",
                    &[n as u64],
                    Some(identity.clone()),
                ))
                .unwrap();
        }
    }
    log.flush().unwrap();
    let found = log
        .query(&AuditQuery {
            identity: Some(IdentityFilter::Value {
                namespace: "phone".to_owned(),
                value: "+34 600 111 222".to_owned(),
            }),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(found.entries.len(), 20);
    log.close().unwrap();

    let files = raw_files(dir.path());
    // The scan does see what was recorded.
    assert!(contains(&files, b"supervisor-zeta"));
    for (_, value) in values {
        for form in [
            value.to_owned(),
            value.trim().to_owned(),
            value.trim().to_lowercase(),
            value.trim().to_uppercase(),
        ] {
            assert!(
                !contains(&files, form.as_bytes()),
                "{form:?} is in the audit files"
            );
        }
    }
}

#[test]
fn export_writes_json_lines_oldest_first_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    // More than one read transaction's worth, recorded newest first.
    for n in (0..2_600i64).rev() {
        recorder
            .record(lookup(
                NOW + n * 1_000,
                user("ana"),
                "prod",
                &[n as u64],
                None,
            ))
            .unwrap();
    }
    log.flush().unwrap();
    let (start, end) = (NOW + 100_000, NOW + 2_300_000);
    let mut out = Vec::new();
    let count = log.export(start, end, &mut out).unwrap();
    assert_eq!(count, 2_200);
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2_200);
    let mut previous = None;
    for (n, line) in lines.iter().enumerate() {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let at_ms = json["atMs"].as_i64().unwrap();
        assert_eq!(at_ms, start + n as i64 * 1_000);
        assert_eq!(json["profiles"][0].as_u64(), Some(100 + n as u64));
        assert!(previous < Some(at_ms));
        previous = Some(at_ms);
    }
    let window = all_pages(
        &log,
        &AuditQuery {
            start_ms: start,
            end_ms: end,
            limit: 1000,
            ..AuditQuery::default()
        },
    );
    let parsed: Vec<AuditEntry> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(parsed, window.into_iter().rev().collect::<Vec<_>>());

    let mut empty = Vec::new();
    assert_eq!(log.export(end + DAY, end + 2 * DAY, &mut empty).unwrap(), 0);
    assert!(empty.is_empty());
}

#[test]
fn prune_removes_exactly_the_entries_past_retention_and_their_index_keys() {
    let dir = tempfile::tempdir().unwrap();
    let retention = AuditOptions {
        retention_days: 30,
        ..options()
    };
    let cutoff = NOW - 30 * DAY;
    let log = open(dir.path(), retention.clone());
    let recorder = log.recorder();
    let mut times: Vec<i64> = (0..60).map(|days| NOW - days * DAY - HOUR).collect();
    times.extend([cutoff, cutoff - 1, cutoff + 1]);
    for (n, &at) in times.iter().enumerate() {
        let identity =
            (n % 2 == 0).then(|| log.identity_ref("email", &format!("p{n}@example.com")));
        recorder
            .record(lookup(
                at,
                key("k1"),
                "prod",
                &[n as u64, 1_000 + n as u64, n as u64],
                identity,
            ))
            .unwrap();
    }
    log.close().unwrap();
    let before = raw_audit_table(dir.path());

    let log = open(dir.path(), retention.clone());
    let expected_deleted = times.iter().filter(|&&at| at < cutoff).count();
    assert_eq!(log.prune(NOW).unwrap(), expected_deleted as u64);
    assert_eq!(log.prune(NOW).unwrap(), 0);
    let kept = exported(&log);
    let mut kept_times: Vec<i64> = kept.iter().map(|e| e.at_ms).collect();
    let mut expected_times: Vec<i64> = times.iter().copied().filter(|&at| at >= cutoff).collect();
    kept_times.sort_unstable();
    expected_times.sort_unstable();
    assert_eq!(kept_times, expected_times);
    log.close().unwrap();

    let after = raw_audit_table(dir.path());
    let entry_stamps = |rows: &[(Vec<u8>, Vec<u8>)]| -> BTreeSet<Vec<u8>> {
        rows.iter()
            .filter(|(k, _)| k[0] == b't')
            .map(|(k, _)| k[1..].to_vec())
            .collect()
    };
    let index_keys = |rows: &[(Vec<u8>, Vec<u8>)]| -> Vec<Vec<u8>> {
        rows.iter()
            .filter(|(k, _)| k[0] != b't' && !k.starts_with(b"meta\0"))
            .map(|(k, _)| k.clone())
            .collect()
    };
    // One entry key per entry; per entry an actor, an action, one key per distinct profile,
    // and one for the identity when there is one.
    let index_count = |entries: &mut dyn Iterator<Item = usize>| -> usize {
        entries.map(|n| 2 + 2 + usize::from(n % 2 == 0)).sum()
    };
    assert_eq!(entry_stamps(&before).len(), times.len());
    assert_eq!(
        index_keys(&before).len(),
        index_count(&mut (0..times.len()))
    );
    let kept_stamps = entry_stamps(&after);
    assert_eq!(kept_stamps.len(), expected_times.len());
    let kept_indexes = index_keys(&after);
    assert_eq!(
        kept_indexes.len(),
        index_count(&mut (0..times.len()).filter(|&n| times[n] >= cutoff))
    );
    for index_key in &kept_indexes {
        assert!(
            kept_stamps.contains(&index_key[index_key.len() - 12..]),
            "index key {index_key:?} outlived its entry"
        );
    }
    for stamp in &kept_stamps {
        let ms = i64::from_be_bytes(stamp[..8].try_into().unwrap());
        assert!(ms >= cutoff);
    }
    assert!(after
        .iter()
        .any(|(k, v)| k == b"meta\0pepper" && v.len() == 32));
}

#[test]
fn record_durably_is_visible_as_soon_as_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        AuditOptions {
            flush_interval: NEVER,
            ..options()
        },
    );
    let recorder = log.recorder();
    recorder
        .record(entry(NOW, key("k1"), "profile.lookup"))
        .unwrap();
    assert!(log
        .query(&AuditQuery::default())
        .unwrap()
        .entries
        .is_empty());
    let change = AuditEntry {
        object: Some("ab12".to_owned()),
        ..entry(NOW + 1, user("admin"), "key.revoke")
    };
    recorder.record_durably(change.clone()).unwrap();
    // The durable entry, and what was queued before it.
    let page = log.query(&AuditQuery::default()).unwrap();
    assert_eq!(
        page.entries,
        vec![change, entry(NOW, key("k1"), "profile.lookup")]
    );
}

#[test]
fn the_log_survives_close_and_reopen_with_the_same_pepper() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let identity = log.identity_ref("email", "ana@example.com");
    log.recorder()
        .record(lookup(
            NOW,
            user("ana"),
            "prod",
            &[1],
            Some(identity.clone()),
        ))
        .unwrap();
    log.recorder()
        .record(lookup(NOW, user("bo"), "prod", &[2], None))
        .unwrap();
    log.close().unwrap();

    let log = open(dir.path(), options());
    assert_eq!(log.identity_ref("email", "ana@example.com"), identity);
    // Recorded in the same millisecond as the last entry before closing: a new number.
    log.recorder()
        .record(lookup(
            NOW,
            user("cy"),
            "prod",
            &[3],
            Some(identity.clone()),
        ))
        .unwrap();
    log.flush().unwrap();
    let page = log
        .query(&AuditQuery {
            identity: Some(IdentityFilter::Value {
                namespace: "email".to_owned(),
                value: "ana@example.com".to_owned(),
            }),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        page.entries
            .iter()
            .map(|e| (e.actor.id.as_str(), e.seq))
            .collect::<Vec<_>>(),
        vec![("cy", 2), ("ana", 0)]
    );
    assert_eq!(exported(&log).len(), 3);
    drop(log);

    let other = tempfile::tempdir().unwrap();
    let other_log = open(other.path(), options());
    assert_ne!(other_log.identity_ref("email", "ana@example.com"), identity);
}

#[test]
fn record_refuses_while_the_queue_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        AuditOptions {
            channel_capacity: 1,
            flush_interval: NEVER,
            ..options()
        },
    );
    let recorder = log.recorder();
    let first = entry(NOW, key("k1"), "profile.lookup");
    recorder.record(first.clone()).unwrap();
    assert_eq!(
        recorder.record(entry(NOW + 1, key("k1"), "profile.lookup")),
        Err(Unavailable)
    );
    assert!(matches!(
        recorder.record_durably(entry(NOW + 2, key("k1"), "key.create")),
        Err(AuditError::Unavailable(Unavailable))
    ));
    log.flush().unwrap();
    let second = entry(NOW + 3, key("k1"), "profile.lookup");
    recorder.record(second.clone()).unwrap();
    log.flush().unwrap();
    assert_eq!(
        log.query(&AuditQuery::default()).unwrap().entries,
        vec![second, first]
    );
}

#[test]
fn record_refuses_once_the_log_is_closed_and_closing_commits_what_was_queued() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        AuditOptions {
            flush_interval: NEVER,
            ..options()
        },
    );
    let recorder = log.recorder();
    recorder
        .record(entry(NOW, key("k1"), "profile.lookup"))
        .unwrap();
    log.close().unwrap();
    assert_eq!(
        recorder.record(entry(NOW + 1, key("k1"), "profile.lookup")),
        Err(Unavailable)
    );
    assert!(matches!(
        recorder.record_durably(entry(NOW + 2, key("k1"), "key.create")),
        Err(AuditError::Unavailable(Unavailable))
    ));
    let log = open(dir.path(), options());
    assert_eq!(exported(&log).len(), 1);
}

#[test]
fn a_failed_writer_makes_record_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        AuditOptions {
            map_size_bytes: 1 << 20,
            ..options()
        },
    );
    let recorder = log.recorder();
    let mut refused = None;
    for n in 0..1_000u64 {
        let profiles: Vec<u64> = (n * 1_000..(n + 1) * 1_000).collect();
        if let Err(error) =
            recorder.record_durably(lookup(NOW + n as i64, key("k1"), "prod", &profiles, None))
        {
            refused = Some((n, error));
            break;
        }
    }
    let (n, error) = refused.expect("a 1 MiB log fills up");
    assert!(n > 0, "the first entries fit");
    assert!(matches!(error, AuditError::Unavailable(Unavailable)));
    assert_eq!(
        recorder.record(entry(NOW, key("k1"), "profile.lookup")),
        Err(Unavailable)
    );
    assert!(matches!(log.flush(), Err(AuditError::Unavailable(_))));
    // What committed before the failure is still there.
    assert_eq!(all_pages(&log, &AuditQuery::default()).len() as u64, n);
    assert!(matches!(log.close(), Err(AuditError::Unavailable(_))));
}

#[test]
fn a_query_that_breaks_a_rule_names_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let cases = [
        (
            AuditQuery {
                limit: 0,
                ..AuditQuery::default()
            },
            "limit: 0 is not between 1 and 1000",
        ),
        (
            AuditQuery {
                limit: 1001,
                ..AuditQuery::default()
            },
            "limit: 1001 is not between 1 and 1000",
        ),
        (
            AuditQuery {
                start_ms: 10,
                end_ms: 5,
                ..AuditQuery::default()
            },
            "start: 10 is after end 5",
        ),
        (
            AuditQuery {
                actor: Some("ana".to_owned()),
                ..AuditQuery::default()
            },
            "actor: \"ana\" is not kind:id, where kind is master, dev, key, user or system",
        ),
        (
            AuditQuery {
                action: Some("Key Create".to_owned()),
                ..AuditQuery::default()
            },
            "action: \"Key Create\" is not an audit action name",
        ),
        (
            AuditQuery {
                cursor: Some("not!base64".to_owned()),
                ..AuditQuery::default()
            },
            "cursor: \"not!base64\" is not a cursor from a previous page",
        ),
        (
            AuditQuery {
                profiles: (0..1001).collect(),
                ..AuditQuery::default()
            },
            "profileId: at most 1000 profile ids, not 1001",
        ),
    ];
    for (query, message) in cases {
        match log.query(&query) {
            Err(AuditError::InvalidQuery(text)) => assert_eq!(text, message),
            other => panic!("{query:?} answered {other:?}"),
        }
    }
    assert!(matches!(
        log.export(10, 5, &mut Vec::new()),
        Err(AuditError::InvalidQuery(_))
    ));
}

/// One generated entry: a minute, and indexes into small sets of actors, actions, sandboxes,
/// profiles and identities, so filters match some entries and not others.
#[derive(Debug, Clone)]
struct EntrySpec {
    minute: i64,
    actor: usize,
    action: usize,
    sandbox: usize,
    profiles: Vec<u64>,
    identity: Option<usize>,
}

#[derive(Debug, Clone)]
struct QuerySpec {
    actor: Option<usize>,
    action: Option<usize>,
    sandbox: Option<usize>,
    profiles: Vec<u64>,
    identity: Option<usize>,
    window: Option<(i64, i64)>,
    limit: usize,
}

const ACTORS: [&str; 3] = ["user:ana", "user:bo", "key:k1"];
const ACTIONS: [&str; 3] = ["profile.lookup", "events.lookup", "key.create"];
const SANDBOXES: [Option<&str>; 3] = [None, Some("prod"), Some("dev")];
const EMAILS: [&str; 3] = ["ana@example.com", "bo@example.com", "cy@example.com"];

fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    (
        0..30i64,
        0..ACTORS.len(),
        0..ACTIONS.len(),
        0..SANDBOXES.len(),
        prop::collection::vec(0..6u64, 0..4),
        prop::option::of(0..EMAILS.len()),
    )
        .prop_map(
            |(minute, actor, action, sandbox, profiles, identity)| EntrySpec {
                minute,
                actor,
                action,
                sandbox,
                profiles,
                identity,
            },
        )
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        prop::option::of(0..ACTORS.len()),
        prop::option::of(0..ACTIONS.len()),
        prop::option::of(0..SANDBOXES.len()),
        prop::collection::vec(0..6u64, 0..3),
        prop::option::of(0..EMAILS.len()),
        prop::option::of((0..30i64, 0..30i64)),
        1..15usize,
    )
        .prop_map(
            |(actor, action, sandbox, profiles, identity, window, limit)| QuerySpec {
                actor,
                action,
                sandbox,
                profiles,
                identity,
                window: window.map(|(a, b)| (a.min(b), a.max(b))),
                limit,
            },
        )
}

fn actor_of(text: &str) -> Actor {
    let (kind, id) = text.split_once(':').unwrap();
    Actor::new(ActorKind::parse(kind).unwrap(), id)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the entries and the filter, following the cursors yields exactly the entries
    /// a plain scan of the export says match, newest first, each once.
    #[test]
    fn paging_any_filter_yields_exactly_the_matching_entries_once(
        specs in prop::collection::vec(entry_spec(), 0..80),
        query in query_spec(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), options());
        let recorder = log.recorder();
        for spec in &specs {
            let entry = AuditEntry {
                sandbox: SANDBOXES[spec.sandbox].map(str::to_owned),
                profiles: spec.profiles.clone(),
                identity: spec.identity.map(|n| log.identity_ref("email", EMAILS[n])),
                ..entry(NOW + spec.minute * MINUTE, actor_of(ACTORS[spec.actor]), ACTIONS[spec.action])
            };
            recorder.record(entry).unwrap();
        }
        log.flush().unwrap();
        let everything = exported(&log);
        prop_assert_eq!(everything.len(), specs.len());

        let (start_ms, end_ms) = query
            .window
            .map_or((0, i64::MAX), |(a, b)| (NOW + a * MINUTE, NOW + b * MINUTE));
        let audit_query = AuditQuery {
            start_ms,
            end_ms,
            actor: query.actor.map(|n| ACTORS[n].to_owned()),
            action: query.action.map(|n| ACTIONS[n].to_owned()),
            sandbox: query.sandbox.and_then(|n| SANDBOXES[n]).map(str::to_owned),
            profiles: query.profiles.clone(),
            // Asked for as typed: other case, stray spaces.
            identity: query.identity.map(|n| IdentityFilter::Value {
                namespace: "EMAIL".to_owned(),
                value: format!(" {} ", EMAILS[n].to_uppercase()),
            }),
            limit: query.limit,
            cursor: None,
        };
        let wanted_hmac = query.identity.map(|n| log.identity_ref("email", EMAILS[n]).hmac);
        let expected: Vec<AuditEntry> = everything
            .iter()
            .rev()
            .filter(|e| {
                (start_ms..end_ms).contains(&e.at_ms)
                    && audit_query.actor.as_ref().is_none_or(|a| e.actor.to_string() == *a)
                    && audit_query.action.as_ref().is_none_or(|a| e.action.as_str() == a)
                    && audit_query.sandbox.as_ref().is_none_or(|s| e.sandbox.as_ref() == Some(s))
                    && (query.profiles.is_empty()
                        || e.profiles.iter().any(|p| query.profiles.contains(p)))
                    && wanted_hmac.is_none_or(|h| e.identity.as_ref().is_some_and(|i| i.hmac == h))
            })
            .cloned()
            .collect();
        let paged = all_pages(&log, &audit_query);
        prop_assert_eq!(stamps(&paged), stamps(&expected));
        prop_assert_eq!(paged, expected);
    }
}

#[test]
fn an_entry_keeps_at_most_a_thousand_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    let recorder = log.recorder();
    let many_profiles: Vec<u64> = (0..1_500).collect();
    let big = AuditEntry {
        profiles: many_profiles,
        ..entry(NOW, key("k1"), "profile.lookup")
    };
    recorder.record(big).unwrap();
    log.flush().unwrap();
    let stored = log.query(&AuditQuery::default()).unwrap().entries;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].profiles, (0..1_000).collect::<Vec<u64>>());
    assert_eq!(stored[0].profiles.len(), audit::MAX_PROFILES_PER_ENTRY);
    // A profile past the cap is not indexed either.
    let past_cap = log
        .query(&AuditQuery {
            profiles: vec![1_200],
            ..AuditQuery::default()
        })
        .unwrap();
    assert!(past_cap.entries.is_empty());
}

#[test]
fn the_writer_prunes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let retention = AuditOptions {
        retention_days: 30,
        ..options()
    };
    let now = audit::now_ms();
    let log = open(dir.path(), retention.clone());
    for n in 0..5 {
        log.recorder()
            .record(entry(now - 40 * DAY + n, key("old"), "profile.lookup"))
            .unwrap();
    }
    for n in 0..3 {
        log.recorder()
            .record(entry(now + n, key("new"), "profile.lookup"))
            .unwrap();
    }
    log.close().unwrap();

    let log = open(
        dir.path(),
        AuditOptions {
            prune_every: Some(Duration::from_millis(1)),
            ..retention
        },
    );
    // Waits for the writer's round, however long it takes to come (up to a minute).
    for _ in 0..6_000 {
        log.flush().unwrap();
        if exported(&log).len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let kept = exported(&log);
    assert_eq!(
        kept.iter().map(|e| e.actor.id.as_str()).collect::<Vec<_>>(),
        vec!["new"; 3]
    );
}

#[test]
fn the_log_and_its_recorders_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<AuditLog>();
    shareable::<audit::Recorder>();

    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), options());
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let recorder = log.recorder();
            scope.spawn(move || {
                for n in 0..250 {
                    recorder
                        .record(entry(NOW + n, key(&format!("k{thread}")), "profile.lookup"))
                        .unwrap();
                }
            });
        }
    });
    log.flush().unwrap();
    let everything = exported(&log);
    assert_eq!(everything.len(), 1_000);
    let unique: BTreeSet<(i64, u32)> = stamps(&everything).into_iter().collect();
    assert_eq!(unique.len(), 1_000, "every entry has a stamp of its own");
}

/// The profile index keys (`p ...`) in the raw table.
fn profile_index_keys(dir: &Path) -> usize {
    raw_audit_table(dir)
        .iter()
        .filter(|(key, _)| key.first() == Some(&b'p'))
        .count()
}

/// Lookups at `NOW + n` for each `n`: of profile 7 with Ana's email when `n` is even, else of
/// profile 8 without an identity; flushed.
fn record_alternating(log: &AuditLog, range: std::ops::Range<i64>) {
    let recorder = log.recorder();
    for n in range {
        let (profiles, identity) = match n % 2 {
            0 => (vec![7], Some(log.identity_ref("Email", "ana@example.com"))),
            _ => (vec![8], None),
        };
        recorder
            .record(lookup(NOW + n, key("k1"), "prod", &profiles, identity))
            .unwrap();
    }
    log.flush().unwrap();
}

#[test]
fn profile_and_identity_keys_held_back_are_found_before_and_after_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let reference = |log: &AuditLog| log.identity_ref("Email", "ana@example.com");
    let by_profile = AuditQuery {
        sandbox: Some("prod".to_owned()),
        profiles: vec![7],
        limit: 3,
        ..AuditQuery::default()
    };
    let by_identity = |log: &AuditLog| AuditQuery {
        identity: Some(IdentityFilter::Ref(reference(log))),
        limit: 3,
        ..AuditQuery::default()
    };
    // Ten lookups of profile 7 (with Ana's email), mixed with others, before a restart; the
    // closing writes the held-back keys.
    {
        let log = open(dir.path(), options());
        record_alternating(&log, 0..20);
        // Not yet written: found by time.
        assert_eq!(all_pages(&log, &by_profile).len(), 10);
        assert_eq!(all_pages(&log, &by_identity(&log)).len(), 10);
        log.close().unwrap();
    }
    assert_eq!(
        profile_index_keys(dir.path()),
        20,
        "written sorted on closing"
    );

    // Ten more after the restart, still held back: the query pages from them into the index,
    // newest first, each entry once.
    let log = open(dir.path(), options());
    record_alternating(&log, 20..40);
    let expected: Vec<(i64, u32)> = (0..40)
        .rev()
        .filter(|n| n % 2 == 0)
        .map(|n| (NOW + n, 0))
        .collect();
    assert_eq!(stamps(&all_pages(&log, &by_profile)), expected);
    assert_eq!(stamps(&all_pages(&log, &by_identity(&log))), expected);
    // A window wholly before the held-back entries is read from the index alone.
    let early = AuditQuery {
        end_ms: NOW + 10,
        ..by_profile.clone()
    };
    assert_eq!(all_pages(&log, &early).len(), 5);
    drop(log);
}

#[test]
fn held_back_keys_lost_in_a_crash_are_made_again_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path(), options());
        for n in 0..6 {
            log.recorder()
                .record(lookup(NOW + n, key("k1"), "prod", &[n as u64], None))
                .unwrap();
        }
        log.close().unwrap();
    }
    // A crash after the entries committed and before their keys were written: the keys are
    // gone and `indexed-until` still says the entries wait.
    {
        let store = LmdbStore::open_tables(
            dir.path(),
            &LmdbOptions {
                map_size_bytes: 64 << 20,
            },
            &[Table::Audit],
        )
        .unwrap();
        let rows = {
            let txn = store.read().unwrap();
            store::collect_prefix(&*txn, Table::Audit, b"").unwrap()
        };
        let mut txn = store.write().unwrap();
        for (key, _) in &rows {
            if key.first() == Some(&b'p') {
                txn.delete(Table::Audit, key).unwrap();
            }
        }
        txn.put(Table::Audit, b"meta\0indexed-until", &[0u8; 12])
            .unwrap();
        txn.commit().unwrap();
    }
    assert_eq!(profile_index_keys(dir.path()), 0);
    let log = open(dir.path(), options());
    for n in 0..6u64 {
        let query = AuditQuery {
            sandbox: Some("prod".to_owned()),
            profiles: vec![n],
            ..AuditQuery::default()
        };
        assert_eq!(all_pages(&log, &query).len(), 1, "profile {n}");
    }
    log.close().unwrap();
    assert_eq!(profile_index_keys(dir.path()), 6, "made again and written");
}
