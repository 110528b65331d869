//! Participants' personal data: sealed at rest, shown only to who may read it,
//! exported and erased on request, erased after retention, re-encrypted under a
//! new key while the server runs, and never in logs, audit entries or webhooks.

use std::time::Duration;

use chrono::{Days, Utc};
use embhub::auth::Role;
use embhub::entity::{event, participant};
use embhub::service::personal_data::{DataKeySource, DataKeys, retention, rotation};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, invite, member, published_event};
use crate::helpers::{TestApp, captured_logs, each_backend, each_backend_with, global_uuid};

const PASSPORT: &str = "K12345678";

const ADD: &str = "mutation($input: AddParticipantInput!) {
    addParticipant(input: $input) { participant { id fullName email passportNumber nationality
        dateOfBirth dietaryNeeds accessibilityNeeds } } }";

const READ: &str = "query($id: ID!) { node(id: $id) { ... on Participant { id fullName role email
    passportNumber nationality dateOfBirth dietaryNeeds accessibilityNeeds } } }";

const EXPORT: &str = "mutation($id: ID!) {
    exportPersonalData(input: { participantId: $id }) { participantId data } }";

const ERASE: &str = "mutation($id: ID!) {
    erasePersonalData(input: { participantId: $id }) { participant { id fullName role email
        passportNumber nationality dateOfBirth dietaryNeeds accessibilityNeeds } } }";

/// A host, a co-host, the invited partner with its delegation, and an
/// unrelated partner.
struct World {
    host: Member,
    co_host: Member,
    partner: Member,
    other: Member,
    event: String,
    delegation: String,
}

async fn world(app: &TestApp, seats: i32) -> World {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let co_host = member(app, "A-WEB", None, &[Role::Coordinator]).await;
    let partner = member(
        app,
        "Central Election Commission",
        Some("UZ"),
        &[Role::Partner],
    )
    .await;
    let other = member(
        app,
        "Superior Electoral Court",
        Some("BR"),
        &[Role::Partner],
    )
    .await;
    let event = published_event(app, &host, json!({})).await;
    app.gql(
        Some(&host.token),
        "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
        json!({ "input": { "eventId": event, "organizationId": co_host.id } }),
    )
    .await
    .data();
    let invitation = invite(app, &host, &event, &[&partner.id], seats, 0)
        .await
        .remove(0);
    let delegation = accept(app, &partner.token, &invitation).await;
    World {
        host,
        co_host,
        partner,
        other,
        event,
        delegation,
    }
}

/// Registers a participant with every sensitive field; returns its id.
async fn register(app: &TestApp, w: &World, name: &str, passport: &str) -> String {
    let added = app
        .gql(
            Some(&w.partner.token),
            ADD,
            json!({ "input": { "delegationId": w.delegation, "fullName": name,
                "email": "delegate@cec.uz", "nationality": "UZ", "dateOfBirth": "1980-01-02",
                "passportNumber": passport, "dietaryNeeds": "Halal",
                "accessibilityNeeds": "Step-free access" } }),
        )
        .await;
    let p = &added.data()["addParticipant"]["participant"];
    assert_eq!(p["passportNumber"], passport, "{p}");
    p["id"].as_str().unwrap().to_owned()
}

async fn read(app: &TestApp, token: &str, id: &str) -> crate::helpers::GqlResponse {
    app.gql(Some(token), READ, json!({ "id": id })).await
}

/// Every text the database holds in `table`, one string per row, read with SQL.
async fn raw_rows(app: &TestApp, table: &str) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT row_to_json(t)::text AS row FROM {table} t"),
        _ => {
            // Every column, whatever its type, as text.
            let columns = app
                .db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT name FROM pragma_table_info('{table}')"),
                ))
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.try_get::<String>("", "name").unwrap())
                .map(|c| {
                    format!(
                        "COALESCE(CASE WHEN typeof({c}) = 'blob' THEN hex({c}) ELSE CAST({c} AS TEXT) END, '')"
                    )
                })
                .collect::<Vec<_>>();
            format!("SELECT {} AS row FROM {table}", columns.join(" || '|' || "))
        }
    };
    app.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "row").unwrap())
        .collect()
}

/// The bytes of the SQLite database files (after a checkpoint, so the WAL's pages
/// are in the main file too); `None` on PostgreSQL.
async fn sqlite_file_bytes(app: &TestApp) -> Option<Vec<u8>> {
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    app.db
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&app.data_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("embhub.db") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    Some(bytes)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn sealed_passport(app: &TestApp, id: &str) -> Option<String> {
    participant::Entity::find_by_id(global_uuid(id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the participant row")
        .passport_number_sealed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passport_is_stored_only_encrypted_and_shown_only_to_who_may_read_it() {
    each_backend(|app| async move {
        let w = world(&app, 2).await;
        let id = register(&app, &w, "Delegate One", PASSPORT).await;

        // The API shows it to the delegation's organization and the host…
        for token in [&w.partner.token, &w.host.token] {
            let seen = read(&app, token, &id).await;
            let p = &seen.data()["node"];
            assert_eq!(p["passportNumber"], PASSPORT, "{p}");
            assert_eq!(p["nationality"], "UZ");
            assert_eq!(p["dateOfBirth"], "1980-01-02");
            assert_eq!(p["dietaryNeeds"], "Halal");
            assert_eq!(p["accessibilityNeeds"], "Step-free access");
        }
        // …never to a co-host, which sees the member without personal data.
        let seen = read(&app, &w.co_host.token, &id).await;
        let p = &seen.data()["node"];
        assert_eq!(p["fullName"], "Delegate One");
        for field in [
            "passportNumber",
            "nationality",
            "dateOfBirth",
            "dietaryNeeds",
            "accessibilityNeeds",
        ] {
            assert_eq!(p[field], Value::Null, "{field} shown to a co-host: {p}");
        }

        // The raw database holds none of it in the clear.
        for table in ["participants", "audit_entries"] {
            for row in raw_rows(&app, table).await {
                for secret in [PASSPORT, "Halal", "Step-free access", "1980-01-02"] {
                    assert!(
                        !row.contains(secret),
                        "{secret} in the clear in {table}: {row}"
                    );
                }
            }
        }
        let sealed = sealed_passport(&app, &id).await.expect("sealed");
        assert!(sealed.starts_with("1:"), "stored with its key id: {sealed}");
        if let Some(bytes) = sqlite_file_bytes(&app).await {
            assert!(contains(&bytes, &sealed), "the check reads the real file");
            assert!(!contains(&bytes, PASSPORT), "{PASSPORT} in the SQLite file");
            assert!(!contains(&bytes, "Step-free access"));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    each_backend(|app| async move {
        let w = world(&app, 2).await;
        let first = register(&app, &w, "Delegate One", PASSPORT).await;
        let second = register(&app, &w, "Delegate Two", "K87654321").await;

        // Someone with write access to the database copies the first row's
        // sealed passport number onto the second row.
        let sealed = sealed_passport(&app, &first).await.unwrap();
        participant::Entity::update_many()
            .col_expr(
                participant::Column::PassportNumberSealed,
                Expr::value(sealed.clone()),
            )
            .filter(participant::Column::Id.eq(global_uuid(&second)))
            .exec(&app.db)
            .await
            .unwrap();

        let moved = read(&app, &w.partner.token, &second).await;
        assert_eq!(moved.error_code(), "INTERNAL", "{:?}", moved.body);
        let text = moved.body.to_string();
        assert!(!text.contains(PASSPORT), "another person's data: {text}");
        assert!(
            !text.contains(&sealed),
            "the ciphertext in an error: {text}"
        );
        // The first row still opens, and the log names the failure without values.
        assert_eq!(
            read(&app, &w.partner.token, &first).await.data()["node"]["passportNumber"],
            PASSPORT
        );
        assert!(captured_logs().contains("cannot decrypt passport_number of participant"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_returns_every_field_to_the_owner_and_not_found_to_anyone_else() {
    each_backend(|app| async move {
        let w = world(&app, 1).await;
        let id = register(&app, &w, "Delegate One", PASSPORT).await;

        for token in [&w.partner.token, &w.host.token] {
            let exported = app.gql(Some(token), EXPORT, json!({ "id": id })).await;
            let data = &exported.data()["exportPersonalData"]["data"];
            let p = &data["participant"];
            assert_eq!(p["passportNumber"], PASSPORT, "{data}");
            assert_eq!(p["nationality"], "UZ");
            assert_eq!(p["dateOfBirth"], "1980-01-02");
            assert_eq!(p["dietaryNeeds"], "Halal");
            assert_eq!(p["accessibilityNeeds"], "Step-free access");
            assert_eq!(p["email"], "delegate@cec.uz");
            assert_eq!(p["fullName"], "Delegate One");
            assert_eq!(data["event"]["endDate"], "2030-05-10");
            assert_eq!(data["retention"]["personalDataKeptUntil"], "2030-08-08");
            assert_eq!(data["history"][0]["action"], "participant.add", "{data}");
        }

        let reader = app.token_for(w.other.uuid, &[Role::Reader]).await;
        for token in [&w.co_host.token, &w.other.token, &reader, &app.admin_token] {
            let refused = app.gql(Some(token), EXPORT, json!({ "id": id })).await;
            assert_eq!(refused.error_code(), "NOT_FOUND", "{:?}", refused.body);
            assert!(!refused.body.to_string().contains(PASSPORT));
        }

        // Each export is audited, without the data.
        let exports: Vec<String> = raw_rows(&app, "audit_entries")
            .await
            .into_iter()
            .filter(|r| r.contains("participant.export_personal_data"))
            .collect();
        assert_eq!(exports.len(), 2, "{exports:?}");
        assert!(exports.iter().all(|r| !r.contains(PASSPORT)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_nothing_recoverable_through_the_api_or_in_the_database() {
    each_backend(|app| async move {
        let w = world(&app, 1).await;
        let id = register(&app, &w, "Delegate One", PASSPORT).await;
        let sealed = sealed_passport(&app, &id).await.unwrap();

        // Only the delegation's organization erases: the host may read, not erase;
        // others do not see the participant at all. Nothing changes meanwhile.
        let refused = app.gql(Some(&w.host.token), ERASE, json!({ "id": id })).await;
        assert_eq!(refused.error_code(), "FORBIDDEN", "{:?}", refused.body);
        for token in [&w.co_host.token, &w.other.token] {
            let refused = app.gql(Some(token), ERASE, json!({ "id": id })).await;
            assert_eq!(refused.error_code(), "NOT_FOUND", "{:?}", refused.body);
        }
        assert_eq!(sealed_passport(&app, &id).await.as_deref(), Some(sealed.as_str()));

        let erased = app.gql(Some(&w.partner.token), ERASE, json!({ "id": id })).await;
        let p = &erased.data()["erasePersonalData"]["participant"];
        assert_eq!(p["fullName"], "Delegate One");
        assert_eq!(p["role"], "MEMBER");
        for field in ["email", "passportNumber", "nationality", "dateOfBirth", "dietaryNeeds", "accessibilityNeeds"] {
            assert_eq!(p[field], Value::Null, "{field} after erasure: {p}");
        }

        // Through the API: the record, the export, the delegation.
        for token in [&w.partner.token, &w.host.token] {
            let p = read(&app, token, &id).await.data()["node"].clone();
            assert_eq!(p["passportNumber"], Value::Null);
            assert_eq!(p["email"], Value::Null);
        }
        let exported = app.gql(Some(&w.partner.token), EXPORT, json!({ "id": id })).await;
        let data = &exported.data()["exportPersonalData"]["data"];
        assert_eq!(data["participant"]["passportNumber"], Value::Null, "{data}");
        assert!(data["retention"]["erasedAt"].is_string(), "{data}");
        let members = app
            .gql(
                Some(&w.host.token),
                "query($id: ID!) { node(id: $id) { ... on Delegation { participants { nodes { fullName passportNumber } } } } }",
                json!({ "id": w.delegation }),
            )
            .await;
        assert_eq!(
            members.data()["node"]["participants"]["nodes"],
            json!([{ "fullName": "Delegate One", "passportNumber": null }])
        );

        // In the database: no sealed value, no e-mail address, no key id; the
        // audit entry records the erasure without the data.
        assert_eq!(sealed_passport(&app, &id).await, None);
        for row in raw_rows(&app, "participants").await {
            assert!(!row.contains(&sealed) && !row.contains("delegate@cec.uz"), "{row}");
        }
        let audit: Vec<String> = raw_rows(&app, "audit_entries").await;
        assert!(audit.iter().any(|r| r.contains("participant.erase_personal_data")));
        for row in &audit {
            assert!(!row.contains(PASSPORT) && !row.contains("delegate@cec.uz"), "{row}");
        }
        if let Some(bytes) = sqlite_file_bytes(&app).await {
            assert!(!contains(&bytes, &sealed), "the erased ciphertext is still in the file");
            assert!(!contains(&bytes, "delegate@cec.uz"), "the erased e-mail is still in the file");
        }
    })
    .await;
}

/// Moves an event's dates so that it ended `days` ago.
async fn ended_days_ago(app: &TestApp, event: &str, days: u64) {
    let end = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(days))
        .unwrap();
    let start = end.checked_sub_days(Days::new(3)).unwrap();
    event::Entity::update_many()
        .col_expr(event::Column::StartDate, Expr::value(start))
        .col_expr(event::Column::EndDate, Expr::value(end))
        .filter(event::Column::Id.eq(global_uuid(event)))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn sweep(app: &TestApp) -> retention::Swept {
    retention::sweep(&app.db, &app.feed, 90, Utc::now().date_naive())
        .await
        .expect("the sweep runs")
}

async fn audit_count(app: &TestApp, action: &str) -> usize {
    raw_rows(app, "audit_entries")
        .await
        .into_iter()
        .filter(|r| r.contains(action))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_personal_data_after_its_period_and_keeps_names_and_counts() {
    each_backend(|app| async move {
        let old = world(&app, 2).await;
        let old_one = register(&app, &old, "Old Delegate One", "K00000091").await;
        let old_two = register(&app, &old, "Old Delegate Two", "K00000092").await;
        // A second event of the same host, with another partner delegation.
        let recent_event = published_event(&app, &old.host, json!({ "title": "Forum" })).await;
        let invitation = invite(&app, &old.host, &recent_event, &[&old.other.id], 1, 0)
            .await
            .remove(0);
        let recent_delegation = accept(&app, &old.other.token, &invitation).await;
        let recent = World {
            host: old.host.clone(),
            co_host: old.co_host.clone(),
            partner: old.other.clone(),
            other: old.partner.clone(),
            event: recent_event.clone(),
            delegation: recent_delegation,
        };
        let recent_one = register(&app, &recent, "Recent Delegate", "K00000089").await;

        ended_days_ago(&app, &old.event, 91).await;
        ended_days_ago(&app, &recent.event, 89).await;
        let swept = sweep(&app).await;
        assert_eq!(swept.delegations, 1);
        assert_eq!(swept.participants, 2);

        for id in [&old_one, &old_two] {
            let p = read(&app, &old.partner.token, id).await.data()["node"].clone();
            assert!(p["fullName"].as_str().unwrap().starts_with("Old Delegate"), "{p}");
            assert_eq!(p["role"], "MEMBER");
            for field in ["email", "passportNumber", "nationality", "dateOfBirth", "dietaryNeeds", "accessibilityNeeds"] {
                assert_eq!(p[field], Value::Null, "{field} kept past retention: {p}");
            }
            assert_eq!(sealed_passport(&app, id).await, None);
        }
        let kept = read(&app, &recent.partner.token, &recent_one).await.data()["node"].clone();
        assert_eq!(kept["passportNumber"], "K00000089", "{kept}");
        // Counts remain: both members are still in the delegation.
        let members = app
            .gql(
                Some(&old.host.token),
                "query($id: ID!) { node(id: $id) { ... on Delegation { participants { nodes { fullName } } } } }",
                json!({ "id": old.delegation }),
            )
            .await;
        assert_eq!(members.data()["node"]["participants"]["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(audit_count(&app, "delegation.erase_personal_data").await, 1);

        // The next round finds nothing more to do.
        assert_eq!(sweep(&app).await, retention::Swept::default());
        assert_eq!(audit_count(&app, "delegation.erase_personal_data").await, 1);

        // The host shortens the recent event's retention: the next sweep erases it.
        const SET: &str = "mutation($input: SetPersonalDataRetentionInput!) {
            setPersonalDataRetention(input: $input) { days keptUntil } }";
        let too_long = app
            .gql(Some(&recent.host.token), SET, json!({ "input": { "eventId": recent.event, "days": 91 } }))
            .await;
        assert_eq!(too_long.error_code(), "BAD_USER_INPUT");
        assert_eq!(too_long.error_field(), "days");
        for token in [&recent.partner.token, &recent.co_host.token] {
            let refused = app
                .gql(Some(token), SET, json!({ "input": { "eventId": recent.event, "days": 30 } }))
                .await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{:?}", refused.body);
        }
        let set = app
            .gql(Some(&recent.host.token), SET, json!({ "input": { "eventId": recent.event, "days": 30 } }))
            .await;
        assert_eq!(set.data()["setPersonalDataRetention"]["days"], 30);
        assert_eq!(sweep(&app).await.participants, 1);
        let erased = read(&app, &recent.partner.token, &recent_one).await.data()["node"].clone();
        assert_eq!(erased["passportNumber"], Value::Null);
        assert_eq!(erased["fullName"], "Recent Delegate");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retention_sweeps_erase_once_with_one_audit_entry_per_delegation() {
    each_backend(|app| async move {
        let w = world(&app, 2).await;
        register(&app, &w, "Delegate One", "K00000001").await;
        register(&app, &w, "Delegate Two", "K00000002").await;
        ended_days_ago(&app, &w.event, 200).await;
        let (a, b) = tokio::join!(sweep(&app), sweep(&app));
        assert_eq!(a.participants + b.participants, 2, "{a:?} {b:?}");
        assert_eq!(audit_count(&app, "delegation.erase_personal_data").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_key_rotates_while_the_server_runs_and_the_old_key_goes() {
    each_backend_with(
        |settings| settings.personal_data.key_refresh = Duration::from_millis(100),
        |app| async move {
            let w = world(&app, 5).await;
            let passports = ["K10000001", "K10000002", "K10000003"];
            let mut ids = Vec::new();
            for (n, passport) in passports.iter().enumerate() {
                ids.push(register(&app, &w, &format!("Delegate {n}"), passport).await);
            }
            for id in &ids {
                assert!(sealed_passport(&app, id).await.unwrap().starts_with("1:"));
            }

            // Reads run throughout the rotation and must always be right.
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let reader = {
                let (app_address, token, ids, stop) = (
                    app.address.clone(),
                    w.partner.token.clone(),
                    ids.clone(),
                    stop.clone(),
                );
                let http = app.http.clone();
                tokio::spawn(async move {
                    let mut reads = 0;
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        for (id, passport) in ids.iter().zip(passports) {
                            let body: Value = http
                                .post(format!("{app_address}/graphql"))
                                .bearer_auth(&token)
                                .json(&json!({ "query": READ, "variables": { "id": id } }))
                                .send()
                                .await
                                .unwrap()
                                .json()
                                .await
                                .unwrap();
                            assert_eq!(body["data"]["node"]["passportNumber"], passport, "{body}");
                            reads += 1;
                        }
                    }
                    reads
                })
            };

            // `embhub keys rotate-data-key`, as a separate process would run it:
            // its own key handle from the same data key (the data folder's).
            let master = DataKeySource::DataDir(app.data_dir.clone()).load().unwrap();
            let keys = DataKeys::load_or_create(&app.db, master).await.unwrap();
            let rotation = tokio::spawn({
                let db = app.db.clone();
                async move { rotation::rotate(&db, &keys, 1, Duration::from_millis(500)).await }
            });
            // A write while the rotation runs is sealed with one key or the other,
            // and ends up under the new one.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let late = register(&app, &w, "Late Delegate", "K10000004").await;
            let done = rotation.await.unwrap().expect("the rotation finishes");
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let reads = reader
                .await
                .expect("every read during the rotation was right");
            assert!(reads > 0);

            assert_eq!(done.key_id, 2);
            assert_eq!(done.removed_key_ids, vec![1]);
            for id in ids.iter().chain([&late]) {
                let sealed = sealed_passport(&app, id).await.unwrap();
                assert!(sealed.starts_with("2:"), "not re-encrypted: {sealed}");
            }
            let keys_left = raw_rows(&app, "data_keys").await;
            assert_eq!(keys_left.len(), 1, "the old key is removed: {keys_left:?}");
            // The server reads and writes on with the new key alone.
            for (id, passport) in ids.iter().zip(passports) {
                assert_eq!(
                    read(&app, &w.partner.token, id).await.data()["node"]["passportNumber"],
                    passport
                );
            }
            let after = register(&app, &w, "After Rotation", "K10000005").await;
            assert!(
                sealed_passport(&app, &after)
                    .await
                    .unwrap()
                    .starts_with("2:")
            );
        },
    )
    .await;
}

/// Every passport number the API tests use: each string literal in their sources
/// shaped like one (one or two capital letters, then seven or eight digits).
fn test_passport_numbers() -> Vec<String> {
    let looks_like_a_passport = |s: &str| {
        let letters = s.chars().take_while(char::is_ascii_uppercase).count();
        let digits = &s[letters..];
        (1..=2).contains(&letters)
            && (7..=8).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
    };
    let mut found = Vec::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        for literal in source.split(['"', '\\']) {
            if looks_like_a_passport(literal) {
                found.push(literal.to_owned());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_passport_number_reaches_logs_audit_entries_or_webhook_payloads() {
    each_backend(|app| async move {
        let passports = test_passport_numbers();
        assert!(passports.contains(&PASSPORT.to_owned()), "{passports:?}");
        assert!(passports.contains(&"FA1234567".to_owned()), "{passports:?}");

        let w = world(&app, 1).await;
        // Both organizations listen for every change (to a receiver that is not there).
        for owner in [&w.partner, &w.host, &w.co_host] {
            app.gql(
                Some(&owner.token),
                "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }",
                json!({ "input": { "url": "http://127.0.0.1:9/hooks" } }),
            )
            .await
            .data();
        }
        let id = register(&app, &w, "Delegate One", PASSPORT).await;
        // A refused registration (no seat left) with its passport in the input.
        let refused = app
            .gql(
                Some(&w.partner.token),
                ADD,
                json!({ "input": { "delegationId": w.delegation, "fullName": "Two",
                    "passportNumber": "K99999999" } }),
            )
            .await;
        assert_eq!(refused.error_code(), "CONFLICT");
        assert!(!refused.body.to_string().contains("K99999999"));
        // A refused change: an invalid nationality beside a new passport number.
        let invalid = app
            .gql(
                Some(&w.partner.token),
                "mutation($input: UpdateParticipantInput!) { updateParticipant(input: $input) { participant { id } } }",
                json!({ "input": { "id": id, "nationality": "XX1", "passportNumber": "K88888888" } }),
            )
            .await;
        assert_eq!(invalid.error_code(), "BAD_USER_INPUT");
        assert!(!invalid.body.to_string().contains("K88888888"));
        app.gql(
            Some(&w.partner.token),
            "mutation($input: UpdateParticipantInput!) { updateParticipant(input: $input) { participant { id } } }",
            json!({ "input": { "id": id, "passportNumber": "K77777777" } }),
        )
        .await
        .data();
        app.gql(Some(&w.host.token), EXPORT, json!({ "id": id })).await.data();
        app.gql(Some(&w.partner.token), ERASE, json!({ "id": id })).await.data();

        // Wait until the changes are fanned out to the endpoints.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while raw_rows(&app, "webhook_deliveries").await.len() < 4 {
            assert!(tokio::time::Instant::now() < deadline, "no webhook deliveries");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut all = passports.clone();
        all.extend(["K99999999", "K88888888", "K77777777"].map(str::to_owned));
        let logs = captured_logs();
        assert!(logs.contains("addParticipant") || logs.contains("graphql request"), "the capture works");
        let audit = raw_rows(&app, "audit_entries").await;
        let deliveries = raw_rows(&app, "webhook_deliveries").await;
        assert!(audit.iter().any(|r| r.contains("participant.update")));
        for passport in &all {
            assert!(!logs.contains(passport.as_str()), "{passport} in the logs");
            for row in audit.iter().chain(&deliveries) {
                assert!(!row.contains(passport.as_str()), "{passport} in {row}");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_before_encryption_are_sealed_and_their_plaintext_cleared() {
    use sea_orm::sea_query::Alias;
    each_backend(|app| async move {
        let w = world(&app, 2).await;
        let id = register(&app, &w, "Delegate One", "K55555555").await;
        // As a row written before the encryption migration: its values in the
        // plaintext columns, nothing sealed.
        participant::Entity::update_many()
            .col_expr(
                participant::Column::DataKeyId,
                Expr::value(Option::<i32>::None),
            )
            .col_expr(
                participant::Column::PassportNumberSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                participant::Column::NationalitySealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                participant::Column::DateOfBirthSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                participant::Column::DietaryNeedsSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                participant::Column::AccessibilityNeedsSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(Alias::new("passport_number"), Expr::value("L1234567"))
            .col_expr(Alias::new("nationality"), Expr::value("UZ"))
            .col_expr(
                Alias::new("date_of_birth"),
                Expr::value(chrono::NaiveDate::from_ymd_opt(1971, 3, 4).unwrap()),
            )
            .col_expr(Alias::new("dietary_needs"), Expr::value("Kosher"))
            .filter(participant::Column::Id.eq(global_uuid(&id)))
            .exec(&app.db)
            .await
            .unwrap();
        assert!(
            raw_rows(&app, "participants")
                .await
                .iter()
                .any(|r| r.contains("L1234567"))
        );

        // What every start runs.
        let sealed = rotation::seal_legacy(&app.db, &app.personal_data.keys, 10)
            .await
            .unwrap();
        assert_eq!(sealed, 1);
        assert_eq!(
            rotation::seal_legacy(&app.db, &app.personal_data.keys, 10)
                .await
                .unwrap(),
            0
        );

        for row in raw_rows(&app, "participants").await {
            assert!(
                !row.contains("L1234567") && !row.contains("Kosher"),
                "{row}"
            );
        }
        let p = read(&app, &w.partner.token, &id).await.data()["node"].clone();
        assert_eq!(p["passportNumber"], "L1234567", "{p}");
        assert_eq!(p["nationality"], "UZ");
        assert_eq!(p["dateOfBirth"], "1971-03-04");
        assert_eq!(p["dietaryNeeds"], "Kosher");
        assert_eq!(p["accessibilityNeeds"], Value::Null);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_data_key_is_a_clear_startup_error() {
    each_backend(|app| async move {
        // The whole app, not just the fields used (its data folder must live on).
        let app = app;
        let data = tempfile::tempdir().unwrap();
        let wrong = data.path().join("wrong-data-key");
        std::fs::write(
            &wrong,
            embhub::auth::key_store::KeyEncryptionKey::generate().to_base64(),
        )
        .unwrap();
        let mut settings =
            embhub::config::Settings::local(app.database_url.clone(), data.path().to_path_buf());
        settings.database.max_connections = 3;
        settings.personal_data.data_key_file = Some(wrong);
        let refused = match embhub::startup::Application::build(settings, false).await {
            Ok(_) => panic!("an instance started with another data key"),
            Err(error) => error.to_string(),
        };
        assert!(refused.contains("cannot decrypt data key 1"), "{refused}");
        assert!(refused.contains("EMBHUB_DATA_KEY_FILE"), "{refused}");

        // Not 32 bytes of base64: refused, naming the setting.
        let short = data.path().join("short-data-key");
        std::fs::write(&short, "c2hvcnQ=").unwrap();
        let mut settings =
            embhub::config::Settings::local(app.database_url.clone(), data.path().to_path_buf());
        settings.database.max_connections = 3;
        settings.personal_data.data_key_file = Some(short);
        let refused = match embhub::startup::Application::build(settings, false).await {
            Ok(_) => panic!("an instance started with a short data key"),
            Err(error) => error.to_string(),
        };
        assert!(
            refused.contains("EMBHUB_DATA_KEY_FILE holds 5 bytes"),
            "{refused}"
        );
    })
    .await;
}
