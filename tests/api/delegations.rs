//! Changing a delegation: the common changes (notes, travel dates) and everything
//! that must refuse them, with the audit trail, under concurrency.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, invite, member, published_event};
use crate::helpers::{TestApp, each_backend};

const UPDATE: &str = "mutation($input: UpdateDelegationInput!) { updateDelegation(input: $input) {
    delegation { id notes arrivalAt departureAt version status } } }";
const AUDIT: &str = "query($id: ID!) { auditLog(entityId: $id) { nodes { action before after actorOrganization { name } } } }";

/// A host, the Uzbek partner and its FORMING delegation at a published event.
async fn world(app: &TestApp) -> (Member, Member, String) {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let uz = member(
        app,
        "Central Election Commission",
        Some("UZ"),
        &[Role::Partner],
    )
    .await;
    let event = published_event(app, &host, json!({})).await;
    let invitation = invite(app, &host, &event, &[&uz.id], 2, 0).await;
    let delegation = accept(app, &uz.token, &invitation[0]).await;
    (host, uz, delegation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delegation_sets_its_notes_and_dates_and_the_change_is_audited() {
    each_backend(|app| async move {
        let (host, uz, delegation) = world(&app).await;

        let noted = app
            .gql(
                Some(&uz.token),
                UPDATE,
                json!({ "input": { "id": delegation,
            "notes": "Two vegetarians", "expectedVersion": 1 } }),
            )
            .await;
        let updated = &noted.data()["updateDelegation"]["delegation"];
        assert_eq!(updated["notes"], "Two vegetarians");
        assert_eq!(updated["version"], 2);

        let dated = app
            .gql(
                Some(&uz.token),
                UPDATE,
                json!({ "input": { "id": delegation,
            "arrivalAt": "2030-05-03T06:00:00Z", "departureAt": "2030-05-10T12:00:00Z" } }),
            )
            .await;
        let updated = &dated.data()["updateDelegation"]["delegation"];
        assert_eq!(updated["arrivalAt"], "2030-05-03T06:00:00+00:00");
        assert_eq!(updated["notes"], "Two vegetarians");
        assert_eq!(updated["version"], 3);

        // On PostgreSQL the change, its checks and its audit entry are one statement.
        let (statements, response) = app
            .statements_for(
                &uz.token,
                UPDATE,
                json!({ "input": { "id": delegation, "notes": "Two vegetarians, one vegan" } }),
            )
            .await;
        assert_eq!(
            response.data()["updateDelegation"]["delegation"]["version"],
            4
        );
        if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            assert_eq!(statements, 1, "one statement on PostgreSQL");
        }

        // Only one date, checked against the other one stored.
        let backwards = app
            .gql(
                Some(&uz.token),
                UPDATE,
                json!({ "input": { "id": delegation,
            "departureAt": "2030-05-01T12:00:00Z" } }),
            )
            .await;
        assert_eq!(backwards.error_field(), "departureAt");

        // The host reads the trail: the partner's changes, oldest last.
        let log = app
            .gql(Some(&host.token), AUDIT, json!({ "id": delegation }))
            .await;
        let entries: &Vec<Value> = log.data()["auditLog"]["nodes"].as_array().unwrap();
        let updates: Vec<&Value> = entries
            .iter()
            .filter(|e| e["action"] == "delegation.update")
            .collect();
        assert_eq!(updates.len(), 3, "{entries:?}");
        assert_eq!(updates[2]["before"]["notes"], Value::Null);
        assert_eq!(updates[2]["after"]["notes"], "Two vegetarians");
        assert_eq!(updates[2]["after"]["version"], 2);
        assert_eq!(updates[1]["before"]["version"], 2);
        assert_eq!(updates[0]["after"]["notes"], "Two vegetarians, one vegan");
        assert_eq!(
            updates[0]["actorOrganization"]["name"],
            "Central Election Commission"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_stale_versions_and_cancelled_delegations_are_refused_and_write_nothing() {
    each_backend(|app| async move {
        let (host, uz, delegation) = world(&app).await;
        let stranger = member(&app, "Superior Electoral Court", Some("BR"), &[Role::Partner]).await;
        let audit_before = app.count_rows("audit_entries").await;
        let notes = |expected: Option<i32>| json!({ "input": { "id": delegation, "notes": "x", "expectedVersion": expected } });

        assert_eq!(app.gql(Some(&stranger.token), UPDATE, notes(None)).await.error_code(), "NOT_FOUND");
        assert_eq!(app.gql(Some(&host.token), UPDATE, notes(None)).await.error_code(), "FORBIDDEN");
        let stale = app.gql(Some(&uz.token), UPDATE, notes(Some(7))).await;
        assert_eq!(stale.error_code(), "CONFLICT");
        assert_eq!(stale.body["errors"][0]["extensions"]["currentVersion"], 1);
        assert_eq!(app.count_rows("audit_entries").await, audit_before);

        // Withdrawing the invitation cancels the delegation; it takes no changes.
        let invitation = app.gql(Some(&uz.token), "query($id: ID!) { node(id: $id) { ... on Delegation { invitation { id } } } }",
            json!({ "id": delegation })).await;
        let invitation = invitation.data()["node"]["invitation"]["id"].as_str().unwrap().to_owned();
        app.gql(Some(&host.token), "mutation($id: ID!) { withdrawInvitation(input: { id: $id }) { invitation { status } } }",
            json!({ "id": invitation })).await.data();
        let audit_before = app.count_rows("audit_entries").await;
        assert_eq!(app.gql(Some(&uz.token), UPDATE, notes(None)).await.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("audit_entries").await, audit_before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_to_one_delegation_are_all_kept_in_order() {
    each_backend(|app| async move {
        let (_, uz, delegation) = world(&app).await;
        let audit_before = app.count_rows("audit_entries").await;
        let writers = 8;
        let mut handles = Vec::new();
        for i in 0..writers {
            let (http, address, token, id) = (app.http.clone(), app.address.clone(), uz.token.clone(), delegation.clone());
            handles.push(tokio::spawn(async move {
                let body: Value = http.post(format!("{address}/graphql")).bearer_auth(token)
                    .json(&json!({ "query": UPDATE, "variables": { "input": { "id": id, "notes": format!("note {i}") } } }))
                    .send().await.unwrap().json().await.unwrap();
                body
            }));
        }
        let mut versions = Vec::new();
        for handle in handles {
            let body = handle.await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            versions.push(body["data"]["updateDelegation"]["delegation"]["version"].as_i64().unwrap());
        }
        versions.sort();
        // Every write landed once, none overwrote another unseen.
        assert_eq!(versions, (2..2 + writers as i64).collect::<Vec<_>>());
        assert_eq!(app.count_rows("audit_entries").await, audit_before + writers as i64);
    })
    .await;
}
