//! Benchmark: one `inviteOrganizations` call inviting 150 EMBs, and a partner's
//! nested invitation query, over HTTP against a real server, on SQLite and (when
//! `TEST_DATABASE_URL` is set) PostgreSQL. Prints its figures; asserts nothing
//! about time.
//!
//! Run: `cargo bench --bench invite` (add `TEST_DATABASE_URL=postgres://…/postgres`).

use std::time::{Duration, Instant};

use embhub::auth::Role;
use embhub::config::Settings;
use embhub::domain::OrganizationKind;
use embhub::seed::{OrganizationSeed, ensure_organization};
use embhub::service::clients;
use embhub::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

const ORGANIZATIONS: usize = 150;
const ROUNDS: usize = 5;

struct Server {
    address: String,
    http: reqwest::Client,
    db: sea_orm::DatabaseConnection,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(url: String, data_dir: &std::path::Path) -> Server {
    let mut settings = Settings::local(url, data_dir.to_path_buf());
    settings.production = true;
    settings.request_timeout = Duration::from_secs(60);
    settings.expiry_sweep_interval = Duration::from_secs(3600);
    // The benchmark measures the work, not the rate limiter.
    settings.limits.rate.per_minute = 1_000_000;
    settings.limits.rate.burst = 1_000_000;
    let app = Application::build(settings, false)
        .await
        .expect("server builds");
    let address = format!("http://{}", app.address());
    let db = app.db().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    Server {
        address,
        http: reqwest::Client::new(),
        db,
        stop,
    }
}

impl Server {
    async fn token(&self, organization: uuid::Uuid, role: Role) -> String {
        let client = clients::register(&self.db, organization, &[role], "bench")
            .await
            .unwrap();
        let body: Value = self
            .http
            .post(format!("{}/oauth/token", self.address))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client.info.id.to_string()),
                ("client_secret", &client.secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body
    }
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{label}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} rounds",
        median.as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len()
    );
}

async fn run(backend: &str, url: String) {
    let data = tempfile::tempdir().unwrap();
    let server = start(url, data.path()).await;
    let host = ensure_organization(
        &server.db,
        OrganizationSeed {
            kind: OrganizationKind::ElectionManagementBody,
            name: "National Election Commission",
            local_name: None,
            acronym: Some("NEC"),
            country_code: Some("KR"),
            website: None,
            aweb_member: true,
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..ORGANIZATIONS * ROUNDS {
        let name = format!("Election Commission {i}");
        let created = ensure_organization(
            &server.db,
            OrganizationSeed {
                kind: OrganizationKind::ElectionManagementBody,
                name: &name,
                local_name: None,
                acronym: None,
                country_code: Some("UZ"),
                website: None,
                aweb_member: true,
            },
        )
        .await
        .unwrap();
        ids.push(created);
    }
    let coordinator = server.token(host.id, Role::Coordinator).await;

    let mut invite_samples = Vec::new();
    for round in 0..ROUNDS {
        let event = server
            .gql(&coordinator, "mutation($title: String!) { createEvent(input: { kind: ELECTION_VISITOR_PROGRAM, title: $title,
                timeZone: \"Asia/Seoul\", startDate: \"2030-05-04\", endDate: \"2030-05-10\" }) { event { id } } }",
                json!({ "title": format!("Visitor program {round}") }))
            .await;
        let event = event["data"]["createEvent"]["event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        server
            .gql(
                &coordinator,
                "mutation($id: ID!) { publishEvent(input: { id: $id }) { event { id } } }",
                json!({ "id": event }),
            )
            .await;
        let batch: Vec<String> = ids[round * ORGANIZATIONS..(round + 1) * ORGANIZATIONS]
            .iter()
            .map(|o| base64_id("Organization", o.id))
            .collect();
        let started = Instant::now();
        let response = server
            .gql(&coordinator, "mutation($input: InviteOrganizationsInput!) { inviteOrganizations(input: $input) { invitations { id } } }",
                json!({ "input": { "eventId": event, "organizationIds": batch, "seatsOffered": 2, "fundedSeats": 2,
                    "fundingCovers": ["AIRFARE", "ACCOMMODATION"], "send": true } }))
            .await;
        invite_samples.push(started.elapsed());
        assert_eq!(
            response["data"]["inviteOrganizations"]["invitations"]
                .as_array()
                .unwrap()
                .len(),
            ORGANIZATIONS
        );
    }
    summary(
        &format!("{backend}: inviteOrganizations with {ORGANIZATIONS} organizations"),
        invite_samples,
    );

    // The partner invited to every round's event reads its invitations.
    let partner = server.token(ids[0].id, Role::Partner).await;
    let mut query_samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        server
            .gql(&partner, "{ invitations(first: 100) { totalCount nodes { status event { title host { name } sessions { title } }
                delegation { participants { fullName } } } } }", json!({}))
            .await;
        query_samples.push(started.elapsed());
    }
    summary(
        &format!("{backend}: a partner's nested invitations query"),
        query_samples,
    );
    let _ = server.stop.send(());
}

fn base64_id(type_name: &str, id: uuid::Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}"))
}

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().unwrap();
    run(
        "SQLite",
        format!(
            "sqlite://{}?mode=rwc",
            data.path().join("bench.db").display()
        ),
    )
    .await;
    if let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") {
        let name = format!("embhub_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').unwrap().0;
        run("PostgreSQL", format!("{base}/{name}")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .unwrap();
    }
}
