//! Catching up after being offline: `updatedSince` filters and `UPDATED_AT`
//! ordering on the five lists a partner system mirrors, with cursors that stay
//! exact among equal timestamps, removals that show as their parent's change, and
//! access unchanged.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, add_participant, invite, member, published_event};
use crate::helpers::{TestApp, arrange_past_respond_by, each_backend};

const INVITATIONS: &str = "query($since: DateTime, $first: Int, $after: String, $last: Int, $before: String, $direction: SortDirection! = ASC) {
    invitations(filter: { updatedSince: $since }, orderBy: { field: UPDATED_AT, direction: $direction },
                first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
        edges { cursor node { id status updatedAt version organization { name } } } } }";

const DELEGATIONS: &str = "query($since: DateTime) {
    delegations(filter: { updatedSince: $since }, orderBy: { field: UPDATED_AT }) {
        nodes { id updatedAt version participants { nodes { fullName } } } } }";

/// The host, its published event and the partners it invited (UZ, GB, BA, BR).
struct World {
    host: Member,
    event: String,
    partners: Vec<Member>,
    invitations: Vec<String>,
}

async fn world(app: &TestApp) -> World {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let mut partners = Vec::new();
    for (name, country) in [
        ("Central Election Commission", "UZ"),
        ("The Electoral Commission", "GB"),
        ("Central Election Commission of BiH", "BA"),
        ("Superior Electoral Court", "BR"),
    ] {
        partners.push(member(app, name, Some(country), &[Role::Partner]).await);
    }
    let event = published_event(app, &host, json!({})).await;
    let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
    let invitations = invite(app, &host, &event, &ids, 2, 0).await;
    World {
        host,
        event,
        partners,
        invitations,
    }
}

fn nodes(list: &Value) -> Vec<Value> {
    list["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
        .or_else(|| list["nodes"].as_array().cloned())
        .unwrap_or_else(|| panic!("not a connection: {list}"))
}

fn ids(list: &Value) -> Vec<String> {
    nodes(list)
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

fn only(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

/// The largest `updatedAt` in a list: where a client picks up next time.
fn last_seen(list: &Value) -> String {
    nodes(list)
        .iter()
        .map(|n| n["updatedAt"].as_str().unwrap().to_owned())
        .max_by_key(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .expect("a non-empty list")
}

async fn invitations(app: &TestApp, token: &str, variables: Value) -> Value {
    app.gql(Some(token), INVITATIONS, variables).await.data()["invitations"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_with_updated_since_returns_exactly_what_changed_in_order() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let all = invitations(&app, &w.host.token, json!({})).await;
        assert_eq!(all["totalCount"], 4);
        let since = last_seen(&all);
        let quiet = invitations(&app, &w.host.token, json!({ "since": since })).await;
        assert_eq!(quiet["totalCount"], 0, "nothing changed yet: {quiet}");

        // Offline meanwhile: the Brazilian court accepts, then the host withdraws
        // the British invitation.
        accept(&app, &w.partners[3].token, &w.invitations[3]).await;
        app.gql(
            Some(&w.host.token),
            "mutation($id: ID!) { withdrawInvitation(input: { id: $id }) { invitation { status } } }",
            json!({ "id": w.invitations[1] }),
        )
        .await
        .data();

        let changed = invitations(&app, &w.host.token, json!({ "since": since })).await;
        assert_eq!(changed["totalCount"], 2, "{changed}");
        assert_eq!(ids(&changed), [w.invitations[3].clone(), w.invitations[1].clone()]);
        let statuses: Vec<_> = nodes(&changed).iter().map(|n| n["status"].clone()).collect();
        assert_eq!(statuses, [json!("ACCEPTED"), json!("WITHDRAWN")]);

        // Paged with cursors, the same two, one at a time.
        let first = invitations(&app, &w.host.token, json!({ "since": since, "first": 1 })).await;
        assert_eq!(ids(&first), [w.invitations[3].clone()]);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let second = invitations(&app, &w.host.token,
            json!({ "since": since, "first": 1, "after": first["pageInfo"]["endCursor"] })).await;
        assert_eq!(ids(&second), [w.invitations[1].clone()]);
        assert_eq!(second["pageInfo"]["hasNextPage"], false);

        // The accepted invitation formed a delegation; the event and the directory
        // catch up the same way.
        let delegations = app.gql(Some(&w.host.token), DELEGATIONS, json!({ "since": since })).await;
        assert_eq!(nodes(&delegations.data()["delegations"]).len(), 1);
        let events_since = "query($since: DateTime) { events(filter: { updatedSince: $since }, orderBy: { field: UPDATED_AT }) { nodes { id updatedAt } } }";
        let before_move = app.gql(Some(&w.host.token), events_since, json!({ "since": since })).await;
        assert!(nodes(&before_move.data()["events"]).is_empty());
        app.gql(Some(&w.host.token),
            "mutation($id: ID!) { rescheduleEvent(input: { id: $id, startDate: \"2030-05-11\", endDate: \"2030-05-17\", dateStatus: CONFIRMED, reason: \"The election moved\" }) { event { id } } }",
            json!({ "id": w.event })).await.data();
        let moved = app.gql(Some(&w.host.token), events_since, json!({ "since": since })).await;
        assert_eq!(ids(&moved.data()["events"]), only(&w.event));

        let organizations_since = "query($since: DateTime) { organizations(filter: { updatedSince: $since }, orderBy: { field: UPDATED_AT, direction: DESC }) { nodes { id name updatedAt } } }";
        let directory = app.gql(Some(&w.host.token), organizations_since, json!({ "since": since })).await;
        assert!(nodes(&directory.data()["organizations"]).is_empty());
        app.gql(Some(&app.admin_token),
            "mutation($id: ID!) { updateOrganization(input: { id: $id, acronym: \"TSE\" }) { organization { id } } }",
            json!({ "id": w.partners[3].id })).await.data();
        let renamed = app.gql(Some(&w.host.token), organizations_since, json!({ "since": since })).await;
        assert_eq!(ids(&renamed.data()["organizations"]), [w.partners[3].id.clone()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_by_updated_at_among_equal_timestamps_neither_skips_nor_repeats() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let before = last_seen(&invitations(&app, &w.host.token, json!({})).await);
        // The sweep stores every lapsed invitation at one instant: four equal
        // `updatedAt`s, ordered by id among themselves.
        for partner in &w.partners {
            arrange_past_respond_by(&app, partner.uuid).await;
        }
        assert_eq!(
            embhub::service::invitations::sweep_expired(&app.db, &app.feed)
                .await
                .unwrap(),
            4
        );
        let swept = invitations(&app, &w.host.token, json!({ "since": before })).await;
        let stamps: std::collections::HashSet<_> = nodes(&swept)
            .iter()
            .map(|n| n["updatedAt"].clone())
            .collect();
        assert_eq!(stamps.len(), 1, "one instant: {swept}");
        let mut expected = ids(&swept);
        assert_eq!(expected.len(), 4);
        let mut by_uuid = expected.clone();
        by_uuid.sort_by_key(|id| crate::helpers::global_uuid(id));
        assert_eq!(expected, by_uuid, "ties are broken by id");

        for direction in ["ASC", "DESC"] {
            if direction == "DESC" {
                expected.reverse();
            }
            // Forward, two at a time.
            let mut seen = Vec::new();
            let mut after = Value::Null;
            loop {
                let page = invitations(
                    &app,
                    &w.host.token,
                    json!({ "since": before, "first": 2,
                    "after": after, "direction": direction }),
                )
                .await;
                seen.extend(ids(&page));
                if page["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(seen, expected, "forward {direction}");
            // Backward, three then one.
            let tail = invitations(
                &app,
                &w.host.token,
                json!({ "since": before, "last": 3, "direction": direction }),
            )
            .await;
            assert_eq!(ids(&tail), expected[1..].to_vec(), "backward {direction}");
            assert_eq!(tail["pageInfo"]["hasPreviousPage"], true);
            let head = invitations(
                &app,
                &w.host.token,
                json!({ "since": before, "last": 3,
                "before": tail["pageInfo"]["startCursor"], "direction": direction }),
            )
            .await;
            assert_eq!(ids(&head), expected[..1].to_vec(), "backward {direction}");
        }

        // A cursor of the default ordering is refused under UPDATED_AT.
        let by_creation = app
            .gql(
                Some(&w.host.token),
                "{ invitations(first: 1) { pageInfo { endCursor } } }",
                json!({}),
            )
            .await;
        let cursor = by_creation.data()["invitations"]["pageInfo"]["endCursor"].clone();
        let mixed = app
            .gql(
                Some(&w.host.token),
                INVITATIONS,
                json!({ "first": 1, "after": cursor }),
            )
            .await;
        assert_eq!(mixed.error_code(), "BAD_USER_INPUT");
        assert_eq!(mixed.error_field(), "after");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_changing_or_removing_a_participant_reports_the_delegation_as_changed() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let uz = &w.partners[0];
        let delegation = accept(&app, &uz.token, &w.invitations[0]).await;
        let read = |since: Option<String>| {
            let app = &app;
            let token = uz.token.clone();
            async move {
                let response = app.gql(Some(&token), DELEGATIONS, json!({ "since": since })).await;
                response.data()["delegations"].clone()
            }
        };
        let mut since = last_seen(&read(None).await);
        let version = nodes(&read(None).await)[0]["version"].clone();

        // Added.
        let added = add_participant(&app, &uz.token, &delegation, "Mirza Karimov", false).await;
        let participant = added.data()["addParticipant"]["participant"]["id"].as_str().unwrap().to_owned();
        let after_add = read(Some(since.clone())).await;
        assert_eq!(ids(&after_add), only(&delegation), "an added member: {after_add}");
        since = last_seen(&after_add);

        // Changed.
        app.gql(Some(&uz.token),
            "mutation($id: ID!) { updateParticipant(input: { id: $id, position: \"Commissioner\" }) { participant { id } } }",
            json!({ "id": participant })).await.data();
        let after_change = read(Some(since.clone())).await;
        assert_eq!(ids(&after_change), only(&delegation), "a changed member");
        since = last_seen(&after_change);

        // A refused removal (stale version) moves nothing.
        let stale = app.gql(Some(&uz.token),
            "mutation($id: ID!) { removeParticipant(input: { id: $id, expectedVersion: 1 }) { removedParticipantId } }",
            json!({ "id": participant })).await;
        assert_eq!(stale.error_code(), "CONFLICT");
        assert!(nodes(&read(Some(since.clone())).await).is_empty(), "a failed mutation writes nothing");

        // Removed: the participant is gone, its delegation reports the change.
        app.gql(Some(&uz.token),
            "mutation($id: ID!) { removeParticipant(input: { id: $id }) { removedParticipantId } }",
            json!({ "id": participant })).await.data();
        let after_removal = read(Some(since.clone())).await;
        let changed = nodes(&after_removal);
        assert_eq!(ids(&after_removal), only(&delegation), "a removed member");
        assert_eq!(changed[0]["participants"]["nodes"], json!([]));
        // Member changes move `updatedAt` but not the delegation's version, so a
        // client editing the delegation's notes meanwhile is not refused.
        assert_eq!(changed[0]["version"], version);

        // The host sees the same change.
        let host_view = app.gql(Some(&w.host.token), DELEGATIONS, json!({ "since": since })).await;
        assert_eq!(ids(&host_view.data()["delegations"]), only(&delegation));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_updated_since_is_bad_user_input_naming_the_field() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let lists = ["invitations", "applications", "delegations", "events", "organizations"];
        for list in lists {
            let query = format!("query($since: DateTime) {{ {list}(filter: {{ updatedSince: $since }}) {{ totalCount }} }}");
            for bad in ["yesterday", "2030-13-01T00:00:00Z", "2030-05-04", "1800-01-01T00:00:00Z"] {
                let refused = app.gql(Some(&w.host.token), &query, json!({ "since": bad })).await;
                assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{list} {bad}: {}", refused.body);
                assert_eq!(refused.error_field(), "filter.updatedSince", "{list} {bad}");
                let message = refused.body["errors"][0]["message"].as_str().unwrap();
                assert!(!message.contains("Failed to parse"), "{message}");
            }
            let wrong_type = app.gql(Some(&w.host.token), &query, json!({ "since": 20300504 })).await;
            assert_eq!(wrong_type.error_field(), "filter.updatedSince", "{list}");
            // In the document too.
            let literal = format!("{{ {list}(filter: {{ updatedSince: \"soon\" }}) {{ totalCount }} }}");
            let refused = app.gql(Some(&w.host.token), &literal, json!({})).await;
            assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{list}: {}", refused.body);
            assert_eq!(refused.error_field(), "filter.updatedSince");
            // Any offset is fine; null means no condition.
            let fine = app.gql(Some(&w.host.token), &query, json!({ "since": "2000-01-01T09:00:00+09:00" })).await;
            fine.data();
            let none = app.gql(Some(&w.host.token), &query, json!({ "since": null })).await;
            none.data();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_never_shows_another_organizations_records() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let (uz, gb) = (&w.partners[0], &w.partners[1]);
        let mine = invitations(&app, &uz.token, json!({})).await;
        assert_eq!(ids(&mine), [w.invitations[0].clone()]);
        let since = last_seen(&mine);

        // The British partner accepts and registers a member; the host drafts an
        // event; only the host's changes to the Uzbek invitation concern Uzbekistan.
        let gb_delegation = accept(&app, &gb.token, &w.invitations[1]).await;
        add_participant(&app, &gb.token, &gb_delegation, "Jane Smith", false).await.data();
        app.gql(Some(&w.host.token),
            "mutation { createEvent(input: { kind: FORUM, title: \"Forum\", timeZone: \"Asia/Seoul\", startDate: \"2030-05-08\", endDate: \"2030-05-08\" }) { event { id } } }",
            json!({})).await.data();

        let quiet = invitations(&app, &uz.token, json!({ "since": since })).await;
        assert_eq!(quiet["totalCount"], 0, "{quiet}");
        let delegations = app.gql(Some(&uz.token), DELEGATIONS, json!({ "since": since })).await;
        assert!(nodes(&delegations.data()["delegations"]).is_empty());
        let events = app.gql(Some(&uz.token),
            "query($since: DateTime) { events(filter: { updatedSince: $since }, orderBy: { field: UPDATED_AT }) { totalCount } }",
            json!({ "since": since })).await;
        assert_eq!(events.data()["events"]["totalCount"], 0, "a draft is nobody else's business");

        app.gql(Some(&w.host.token),
            "mutation($id: ID!) { withdrawInvitation(input: { id: $id }) { invitation { id } } }",
            json!({ "id": w.invitations[0] })).await.data();
        let withdrawn = invitations(&app, &uz.token, json!({ "since": since })).await;
        assert_eq!(ids(&withdrawn), [w.invitations[0].clone()]);
        assert_eq!(nodes(&withdrawn)[0]["status"], "WITHDRAWN");
    })
    .await;
}
