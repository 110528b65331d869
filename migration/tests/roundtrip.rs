//! Runs the migrations up, down to nothing and up again, and checks that the
//! schema enforces its constraints, on SQLite and, when `TEST_DATABASE_URL` is
//! set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`), on a throwaway
//! PostgreSQL database created and dropped by the test.

use migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use migration::{Migrator, MigratorTrait};

/// Every table the migrations create, sorted.
const TABLES: &[&str] = &[
    "api_clients",
    "applications",
    "audit_entries",
    "calendar_feeds",
    "data_keys",
    "delegations",
    "directory_sources",
    "event_co_hosts",
    "event_date_changes",
    "events",
    "invitations",
    "organization_external_ids",
    "organizations",
    "participants",
    "people",
    "presentations",
    "sessions",
    "token_signing_keys",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_outbox",
];

/// sea-orm-migration's bookkeeping table, which `down` leaves in place.
const MIGRATIONS_TABLE: &str = "seaql_migrations";

const NOW: &str = "2026-11-28T10:00:00Z";

#[tokio::test]
async fn roundtrip_on_sqlite() {
    // sea-orm gives a SQLite pool a single connection unless told otherwise, so
    // every statement sees the same in-memory database; sqlx turns on
    // `PRAGMA foreign_keys` by default (the foreign key checks below rely on it).
    let db = Database::connect("sqlite::memory:").await.unwrap();
    roundtrip(&db).await;
}

/// Needs a server; listed as ignored (with the reason) when none is configured.
#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres)"
)]
async fn roundtrip_on_postgres() {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .expect("this test needs TEST_DATABASE_URL (a PostgreSQL server)");
    let admin_url = admin_url.as_str();
    let admin = Database::connect(admin_url).await.unwrap();
    let name = format!("embhub_migration_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();

    let url = with_database(admin_url, &name);
    // Run in a task so that a failed assertion still lets us drop the database.
    let outcome = tokio::spawn(async move {
        let db = Database::connect(&url).await.unwrap();
        roundtrip(&db).await;
        db.close().await.unwrap();
    })
    .await;

    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn roundtrip(db: &DatabaseConnection) {
    activity_backfill(db).await;
    webhook_queue(db).await;
    Migrator::down(db, None).await.unwrap();

    let mut all_tables: Vec<&str> = TABLES.iter().copied().chain([MIGRATIONS_TABLE]).collect();
    all_tables.sort_unstable();

    Migrator::up(db, None).await.unwrap();
    assert_eq!(tables(db).await, all_tables);
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );

    check_constraints(db).await;

    // Down with rows still present: drop order must respect the foreign keys.
    Migrator::down(db, None).await.unwrap();
    assert_eq!(tables(db).await, [MIGRATIONS_TABLE]);
    assert!(
        Migrator::get_applied_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::up(db, None).await.unwrap();
    assert_eq!(tables(db).await, all_tables);
    assert_eq!(
        Migrator::get_applied_migrations(db).await.unwrap().len(),
        Migrator::migrations().len()
    );
}

/// Migration 000020 gives existing audit entries their event: from the record
/// when it still exists, from the entry's snapshot when it was removed; none
/// for an organization.
async fn activity_backfill(db: &DatabaseConnection) {
    // Every migration before the activity one (later ones may follow it).
    let before_activity = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261207_000020_activity")
        .expect("the activity migration") as u32;
    Migrator::up(db, Some(before_activity)).await.unwrap();
    // UUIDs as the application stores them: 16-byte blobs on SQLite.
    let sqlite = db.get_database_backend() == migration::sea_orm::DbBackend::Sqlite;
    let lit = |n: u32| {
        if sqlite {
            format!("X'{}'", uid(n).replace('-', ""))
        } else {
            format!("'{}'", uid(n))
        }
    };
    let (nec, ph, event, session, invitation, delegation, member) =
        (lit(1), lit(2), lit(10), lit(15), lit(20), lit(30), lit(31));
    for sql in [
        format!(
            "INSERT INTO organizations (id, kind, name, country_code, created_at, updated_at) \
             VALUES ({nec}, 'ELECTION_MANAGEMENT_BODY', 'NEC', 'KR', '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO organizations (id, kind, name, country_code, created_at, updated_at) \
             VALUES ({ph}, 'ELECTION_MANAGEMENT_BODY', 'COMELEC', 'PH', '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO events (id, kind, host_organization_id, title, time_zone, start_date, \
             end_date, date_status, status, participation_mode, created_at, updated_at) \
             VALUES ({event}, 'FORUM', {nec}, 'Forum', 'Asia/Seoul', '2026-12-01', '2026-12-05', \
             'CONFIRMED', 'DRAFT', 'INVITATION_ONLY', '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO sessions (id, event_id, kind, title, starts_at, ends_at, created_at, \
             updated_at) VALUES ({session}, {event}, 'BRIEFING', 'Opening', '{NOW}', '{NOW}', \
             '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO invitations (id, event_id, organization_id, status, seats_offered, \
             funded_seats, funding_covers, created_at, updated_at) \
             VALUES ({invitation}, {event}, {ph}, 'DRAFT', 2, 1, '[\"AIRFARE\"]', '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO delegations (id, event_id, organization_id, invitation_id, status, \
             created_at, updated_at) \
             VALUES ({delegation}, {event}, {ph}, {invitation}, 'FORMING', '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO participants (id, delegation_id, full_name, role, created_at, updated_at) \
             VALUES ({member}, {delegation}, 'Maria Santos', 'HEAD', '{NOW}', '{NOW}')"
        ),
    ] {
        ok(db, &sql).await;
    }
    let snapshot = |field: &str, n: u32| format!("'{{\"{field}\": \"{}\"}}'", uid(n));
    let entries = [
        (lit(100), "Event", event.clone(), "NULL".to_owned()),
        (lit(101), "Session", session.clone(), "NULL".to_owned()),
        (
            lit(102),
            "Invitation",
            invitation.clone(),
            "NULL".to_owned(),
        ),
        (lit(103), "Participant", member.clone(), "NULL".to_owned()),
        // A removed session and a removed member: only their snapshots remain.
        (lit(104), "Session", lit(16), snapshot("event_id", 10)),
        (
            lit(105),
            "Participant",
            lit(32),
            snapshot("delegation_id", 30),
        ),
        (lit(106), "Organization", nec.clone(), "NULL".to_owned()),
    ];
    for (id, entity_type, entity_id, before) in &entries {
        ok(
            db,
            &format!(
                "INSERT INTO audit_entries (id, action, entity_type, entity_id, before, \
                 created_at) VALUES ({id}, 'x.y', '{entity_type}', {entity_id}, {before}, \
                 '{NOW}')"
            ),
        )
        .await;
    }

    Migrator::up(db, None).await.unwrap();

    for (id, entity_type, _, _) in &entries[..6] {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM audit_entries WHERE id = {id} AND event_id = {event}"
        );
        assert_eq!(
            count(db, &sql).await,
            1,
            "the {entity_type} entry {id} has its event"
        );
    }
    let organization_entry = format!(
        "SELECT COUNT(*) AS n FROM audit_entries WHERE id = {} AND event_id IS NULL",
        lit(106)
    );
    assert_eq!(count(db, &organization_entry).await, 1);
}

/// The webhook queue migration carries the entries not yet fanned out over (and
/// back down), and its trigger queues every new entry. Runs on the entries
/// `activity_backfill` left, none of them fanned out yet.
async fn webhook_queue(db: &DatabaseConnection) {
    let sqlite = db.get_database_backend() == migration::sea_orm::DbBackend::Sqlite;
    let lit = |n: u32| {
        if sqlite {
            format!("X'{}'", uid(n).replace('-', ""))
        } else {
            format!("'{}'", uid(n))
        }
    };
    let entry = |n: u32| {
        format!(
            "INSERT INTO audit_entries (id, action, entity_type, entity_id, created_at) \
             VALUES ({}, 'x.y', 'Organization', {}, '{NOW}')",
            lit(n),
            lit(1)
        )
    };
    let queued = |n: u32| {
        format!(
            "SELECT COUNT(*) AS n FROM webhook_outbox WHERE audit_entry_id = {}",
            lit(n)
        )
    };
    let stamped = |n: u32| {
        format!(
            "SELECT COUNT(*) AS n FROM audit_entries WHERE id = {} \
             AND webhooks_fanned_out_at IS NOT NULL",
            lit(n)
        )
    };
    assert_eq!(
        count(db, "SELECT COUNT(*) AS n FROM webhook_outbox").await,
        7
    );

    // Down: what was queued is pending again, nothing else.
    Migrator::down(db, Some(1)).await.unwrap();
    assert_eq!(count(db, &stamped(100)).await, 0);
    ok(
        db,
        &format!(
            "UPDATE audit_entries SET webhooks_fanned_out_at = created_at WHERE id = {}",
            lit(106)
        ),
    )
    .await;
    ok(db, &entry(107)).await;

    // Up: the pending ones are queued, the fanned-out one is not.
    Migrator::up(db, None).await.unwrap();
    assert_eq!(
        count(db, "SELECT COUNT(*) AS n FROM webhook_outbox").await,
        7
    );
    assert_eq!(count(db, &queued(107)).await, 1);
    assert_eq!(count(db, &queued(106)).await, 0);

    // The trigger queues a new entry in its own statement, once an endpoint is
    // active (nobody could receive it before).
    ok(db, &entry(108)).await;
    assert_eq!(count(db, &queued(108)).await, 0);
    ok(
        db,
        &format!(
            "INSERT INTO webhook_endpoints (id, organization_id, url, signing_secret, \
             event_types, active, created_at, updated_at) \
             VALUES ({}, {}, 'https://ems.example/hooks', 'whsec_x', '[]', {}, '{NOW}', '{NOW}')",
            lit(200),
            lit(1),
            if sqlite { "1" } else { "TRUE" }
        ),
    )
    .await;
    ok(db, &entry(109)).await;
    assert_eq!(count(db, &queued(109)).await, 1);
    ok(
        db,
        &format!(
            "DELETE FROM webhook_outbox WHERE audit_entry_id = {}",
            lit(100)
        ),
    )
    .await;
    Migrator::down(db, Some(1)).await.unwrap();
    assert_eq!(count(db, &stamped(100)).await, 1);
    assert_eq!(count(db, &stamped(106)).await, 1);
    assert_eq!(count(db, &stamped(108)).await, 1);
    assert_eq!(count(db, &stamped(109)).await, 0);
    Migrator::up(db, None).await.unwrap();
}

/// The user tables present in the database, sorted.
async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        migration::sea_orm::DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY name"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn check_constraints(db: &DatabaseConnection) {
    let (kr_body, ph_body, international) = (uid(1), uid(2), uid(3));
    let (event, forum, invitation, delegation) = (uid(10), uid(11), uid(20), uid(30));

    let valid = [
        organization(&kr_body, "National Election Commission", Some("KR")),
        organization(&ph_body, "Commission on Elections", Some("PH")),
        organization(&international, "A-WEB", None),
        // The same name is fine in another country.
        organization(&uid(4), "National Election Commission", Some("PH")),
        event_row(&event, &kr_body, "2026-12-01", "2026-12-05"),
        event_row(&forum, &kr_body, "2026-12-02", "2026-12-02"),
        invitation_row(&invitation, &event, &ph_body, 2, 1),
        format!(
            "INSERT INTO delegations (id, event_id, organization_id, invitation_id, status, \
             created_at, updated_at) \
             VALUES ('{delegation}', '{event}', '{ph_body}', '{invitation}', 'FORMING', \
             '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO participants (id, delegation_id, full_name, role, created_at, updated_at) \
             VALUES ('{}', '{delegation}', 'Maria Santos', 'HEAD', '{NOW}', '{NOW}')",
            uid(31)
        ),
        format!(
            "INSERT INTO directory_sources (source, steward_organization_id, created_at, updated_at) \
             VALUES ('AWEB', '{international}', '{NOW}', '{NOW}')"
        ),
        external_id(&kr_body, "AWEB", "KR-1"),
    ];
    for sql in &valid {
        ok(db, sql).await;
    }

    // (statement, what its error must mention: the constraint's name, or
    // "unique" / "foreign key" where SQLite names no constraint).
    let invalid = [
        (
            organization(&uid(5), "NATIONAL election commission", Some("KR")),
            "ux_organizations_country_name",
        ),
        (
            organization(&uid(5), "a-web", None),
            "ux_organizations_country_name",
        ),
        (
            organization(&uid(5), "Short code", Some("K")),
            "ck_organizations_country_code",
        ),
        (
            organization(&uid(5), "Party", None).replace("ELECTION_MANAGEMENT_BODY", "PARTY"),
            "ck_organizations_kind",
        ),
        (
            event_row(&uid(12), &kr_body, "2026-12-05", "2026-12-01"),
            "ck_events_dates",
        ),
        (
            event_row(&uid(12), &kr_body, "2026-12-01", "2026-12-05").replace("'DRAFT'", "'OPEN'"),
            "ck_events_status",
        ),
        (invitation_row(&uid(21), &event, &ph_body, 3, 0), "unique"),
        (
            invitation_row(&uid(21), &event, &international, 2, 3),
            "ck_invitations_funded_seats_within_offer",
        ),
        (
            invitation_row(&uid(21), &event, &international, 0, 0),
            "ck_invitations_seats_offered",
        ),
        (
            invitation_row(&uid(21), &event, &uid(99), 1, 0),
            "foreign key",
        ),
        // One id per source and organization, one organization per id in a source,
        // and only registered sources.
        (external_id(&kr_body, "AWEB", "KR-2"), "unique"),
        (external_id(&ph_body, "AWEB", "KR-1"), "unique"),
        (external_id(&ph_body, "NOPE", "PH-1"), "foreign key"),
        // RESTRICT: an invited organization cannot be deleted.
        (
            format!("DELETE FROM organizations WHERE id = '{ph_body}'"),
            "foreign key",
        ),
    ];
    for (sql, needle) in &invalid {
        rejected(db, sql, needle).await;
    }

    let defaults = format!(
        "SELECT COUNT(*) AS n FROM organizations \
         WHERE id = '{kr_body}' AND version = 1 AND aweb_member = FALSE"
    );
    assert_eq!(
        count(db, &defaults).await,
        1,
        "version and aweb_member defaults"
    );

    // SET NULL unlinks the side event; CASCADE removes what the event owns.
    ok(
        db,
        &format!("UPDATE events SET held_alongside_event_id = '{event}' WHERE id = '{forum}'"),
    )
    .await;
    ok(db, &format!("DELETE FROM events WHERE id = '{event}'")).await;
    let unlinked = "SELECT COUNT(*) AS n FROM events WHERE held_alongside_event_id IS NULL";
    assert_eq!(
        count(db, unlinked).await,
        1,
        "held_alongside_event_id set to NULL"
    );
    for table in ["invitations", "delegations", "participants"] {
        let rows = count(db, &format!("SELECT COUNT(*) AS n FROM {table}")).await;
        assert_eq!(rows, 0, "{table} rows should cascade with their event");
    }
    ok(
        db,
        &format!("DELETE FROM organizations WHERE id = '{ph_body}'"),
    )
    .await;
}

/// A UUID literal distinct per `n`.
fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn organization(id: &str, name: &str, country: Option<&str>) -> String {
    let country = country.map_or("NULL".to_owned(), |code| format!("'{code}'"));
    format!(
        "INSERT INTO organizations (id, kind, name, country_code, created_at, updated_at) \
         VALUES ('{id}', 'ELECTION_MANAGEMENT_BODY', '{name}', {country}, '{NOW}', '{NOW}')"
    )
}

fn external_id(organization: &str, source: &str, id: &str) -> String {
    format!(
        "INSERT INTO organization_external_ids (organization_id, source, external_id, created_at) \
         VALUES ('{organization}', '{source}', '{id}', '{NOW}')"
    )
}

fn event_row(id: &str, host: &str, start: &str, end: &str) -> String {
    format!(
        "INSERT INTO events (id, kind, host_organization_id, title, time_zone, start_date, \
         end_date, date_status, status, participation_mode, created_at, updated_at) \
         VALUES ('{id}', 'FORUM', '{host}', 'Forum', 'Asia/Seoul', '{start}', '{end}', \
         'CONFIRMED', 'DRAFT', 'INVITATION_ONLY', '{NOW}', '{NOW}')"
    )
}

fn invitation_row(id: &str, event: &str, organization: &str, seats: i32, funded: i32) -> String {
    format!(
        "INSERT INTO invitations (id, event_id, organization_id, status, seats_offered, \
         funded_seats, funding_covers, created_at, updated_at) \
         VALUES ('{id}', '{event}', '{organization}', 'DRAFT', {seats}, {funded}, \
         '[\"AIRFARE\"]', '{NOW}', '{NOW}')"
    )
}

async fn ok(db: &DatabaseConnection, sql: &str) {
    if let Err(error) = db.execute_unprepared(sql).await {
        panic!("expected success: {sql}\n{error}");
    }
}

/// Asserts that `sql` fails with an error mentioning `needle` (case-insensitive):
/// a constraint name, or "unique"/"foreign key" where SQLite reports no name.
async fn rejected(db: &DatabaseConnection, sql: &str, needle: &str) {
    match db.execute_unprepared(sql).await {
        Ok(_) => panic!("expected a violation of {needle}: {sql}"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.to_lowercase().contains(needle),
                "expected a violation of {needle}, got: {message}\n{sql}"
            );
        }
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("COUNT returns a row")
        .try_get("", "n")
        .unwrap()
}

/// `url` with its database (path) replaced by `database`, query kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = base[authority..]
        .find('/')
        .map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}
