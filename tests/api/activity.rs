//! The activity feed: `Event.activity` for the host's coordinators and
//! `Organization.activity` for administrators — every audited change touching an
//! event, newest first, in API form, personal data redacted.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, add_participant, invite, member, published_event};
use crate::helpers::{TestApp, each_backend_with, global_uuid};
use crate::people::{Key, Provider, organization, sign, trust};

const ACTIVITY: &str =
    "query($id: ID!, $first: Int, $after: String, $last: Int, $filter: ActivityFilter) {
  event(id: $id) { activity(first: $first, after: $after, last: $last, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { id occurredAt action targetType targetId target { id }
      actor { kind clientId personId person { name } organization { name } }
      changes { field before after } } } } }";

/// The world of the feed: the NEC hosting an event, with a coordinator client
/// and a coordinator signed in as a person; Uzbekistan's partner; another
/// organization's coordinator; a co-host's coordinator.
struct World {
    host: Member,
    person: String,
    partner: Member,
    stranger: Member,
    co_host: Member,
    event: String,
    session: String,
    removed_session: String,
    invitation: String,
    delegation: String,
    participant: String,
}

const ADD_SESSION: &str =
    "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id } } }";

async fn arrange(app: &TestApp, provider: &Provider) -> World {
    let nec = organization(app, "National Election Commission", "NEC").await;
    let nec_uuid = global_uuid(&nec);
    let host = Member {
        id: nec,
        uuid: nec_uuid,
        token: app.token_for(nec_uuid, &[Role::Coordinator]).await,
    };
    let person = sign(
        Key::RsaA,
        &provider.claims("kim", "nec", &["embhub-coordinators"]),
    );
    let partner = member(
        app,
        "Central Election Commission of Uzbekistan",
        Some("UZ"),
        &[Role::Partner],
    )
    .await;
    let stranger = member(
        app,
        "Electoral Commission",
        Some("GB"),
        &[Role::Coordinator],
    )
    .await;
    let co_host = member(app, "A-WEB", Some("KR"), &[Role::Coordinator]).await;

    let event = published_event(app, &host, json!({})).await;
    let session_input = |title: &str| {
        json!({ "input": { "eventId": event, "kind": "PRESENTATIONS", "title": title,
            "startsAt": "2030-05-05T01:00:00Z", "endsAt": "2030-05-05T03:00:00Z" } })
    };
    // The person plans the agenda.
    let added = app
        .gql(Some(&person), ADD_SESSION, session_input("Opening"))
        .await;
    let session = added.data()["addSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = app
        .gql(Some(&person), ADD_SESSION, session_input("Dropped"))
        .await;
    let removed_session = added.data()["addSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Some(&person),
        "mutation($id: ID!) { removeSession(input: { id: $id }) { removedSessionId } }",
        json!({ "id": removed_session }),
    )
    .await
    .data();
    app.gql(
        Some(&host.token),
        "mutation($input: CoHostInput!) { addCoHost(input: $input) { event { id } } }",
        json!({ "input": { "eventId": event, "organizationId": co_host.id } }),
    )
    .await
    .data();
    let invitation = invite(app, &host, &event, &[&partner.id], 2, 1)
        .await
        .remove(0);
    let delegation = accept(app, &partner.token, &invitation).await;
    let added = add_participant(app, &partner.token, &delegation, "Dilnoza Karimova", true).await;
    let participant = added.data()["addParticipant"]["participant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Some(&partner.token),
        "mutation($id: ID!) { exportPersonalData(input: { participantId: $id }) { participantId } }",
        json!({ "id": participant }),
    )
    .await
    .data();
    World {
        host,
        person,
        partner,
        stranger,
        co_host,
        event,
        session,
        removed_session,
        invitation,
        delegation,
        participant,
    }
}

async fn activity(app: &TestApp, token: &str, event: &str, vars: Value) -> Value {
    let mut variables = json!({ "id": event });
    for (k, v) in vars.as_object().into_iter().flatten() {
        variables[k] = v.clone();
    }
    let response = app.gql(Some(token), ACTIVITY, variables).await;
    response.data()["event"]["activity"].clone()
}

fn actions(page: &Value) -> Vec<&str> {
    page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect()
}

fn change<'a>(entry: &'a Value, field: &str) -> Option<&'a Value> {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
}

#[tokio::test]
async fn an_events_activity_shows_every_change_touching_it_newest_first_in_api_form() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            let w = arrange(&app, &provider).await;

            let page = activity(&app, &w.host.token, &w.event, json!({ "first": 50 })).await;

            assert_eq!(
                actions(&page),
                [
                    "PERSONAL_DATA_EXPORTED",
                    "PARTICIPANT_ADDED",
                    "DELEGATION_CREATED",
                    "INVITATION_ACCEPTED",
                    "INVITATION_CREATED",
                    "CO_HOST_ADDED",
                    "SESSION_REMOVED",
                    "SESSION_ADDED",
                    "SESSION_ADDED",
                    "EVENT_PUBLISHED",
                    "EVENT_CREATED",
                ],
                "newest first, every kind of record of the event"
            );
            assert_eq!(page["totalCount"], 11);
            let nodes = page["nodes"].as_array().unwrap();
            let times: Vec<&str> = nodes
                .iter()
                .map(|n| n["occurredAt"].as_str().unwrap())
                .collect();
            let mut sorted = times.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(times, sorted);

            // Actors: the host's API client, the person (of the caller's own
            // organization, so shown by name), the partner's client.
            let created = &nodes[10];
            assert_eq!(created["actor"]["kind"], "API_CLIENT");
            assert!(created["actor"]["clientId"].is_string());
            assert_eq!(
                created["actor"]["organization"]["name"],
                "National Election Commission"
            );
            let by_person = &nodes[8];
            assert_eq!(by_person["actor"]["kind"], "PERSON");
            assert_eq!(by_person["actor"]["clientId"], Value::Null);
            assert!(by_person["actor"]["personId"].is_string());
            assert_eq!(by_person["actor"]["person"]["name"], "Person kim");
            assert_eq!(by_person["target"]["id"], w.session.as_str());
            assert_eq!(change(by_person, "title").unwrap()["after"], "Opening");
            assert_eq!(
                change(by_person, "event").unwrap()["after"],
                w.event.as_str(),
                "a global id"
            );
            let accepted = &nodes[3];
            assert_eq!(
                accepted["actor"]["organization"]["name"],
                "Central Election Commission of Uzbekistan"
            );

            // Changes in API form: field names, global ids, enum names.
            let invited = &nodes[4];
            assert_eq!(invited["targetType"], "Invitation");
            assert_eq!(invited["targetId"], w.invitation.as_str());
            assert_eq!(invited["target"]["id"], w.invitation.as_str());
            assert_eq!(
                change(invited, "organization").unwrap()["after"],
                w.partner.id.as_str()
            );
            assert_eq!(
                change(invited, "status").unwrap(),
                &json!({ "field": "status", "before": null, "after": "SENT" })
            );
            assert_eq!(change(invited, "seatsOffered").unwrap()["after"], "2");
            assert_eq!(
                change(invited, "fundingCovers").unwrap()["after"],
                r#"["AIRFARE","ACCOMMODATION"]"#
            );
            let status = change(accepted, "status").unwrap();
            assert_eq!(
                (status["before"].as_str(), status["after"].as_str()),
                (Some("SENT"), Some("ACCEPTED"))
            );
            assert!(
                change(accepted, "seatsOffered").is_none(),
                "only what changed"
            );
            assert_eq!(
                change(&nodes[5], "coHosts").unwrap()["after"],
                w.co_host.id.as_str()
            );
            assert_eq!(
                change(&nodes[2], "invitation").unwrap()["after"],
                w.invitation.as_str()
            );
            assert_eq!(nodes[2]["targetId"], w.delegation.as_str());

            // A removed record keeps its type and id; its node is gone.
            let removed = &nodes[6];
            assert_eq!(removed["targetType"], "Session");
            assert_eq!(removed["targetId"], w.removed_session.as_str());
            assert_eq!(removed["target"], Value::Null);
            assert_eq!(change(removed, "title").unwrap()["before"], "Dropped");
            assert_eq!(change(removed, "title").unwrap()["after"], Value::Null);

            // Personal data never shows: not the fields, not the values.
            let member = &nodes[1];
            assert_eq!(member["target"]["id"], w.participant.as_str());
            let fields: Vec<&str> = member["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["field"].as_str().unwrap())
                .collect();
            assert_eq!(
                fields,
                [
                    "delegation",
                    "fullName",
                    "role",
                    "funded",
                    "needsVisaSupport"
                ]
            );
            let export = &nodes[0];
            assert_eq!(
                export["changes"],
                json!([]),
                "the export shows without the data"
            );
            assert_eq!(
                export["actor"]["organization"]["name"],
                "Central Election Commission of Uzbekistan"
            );
            let text = page.to_string();
            for secret in [
                "FA1234567",
                "1980-01-02",
                "passport",
                "nationality",
                "dateOfBirth",
                "REDACTED",
            ] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn activity_filters_by_kinds_actions_and_time_and_pages_both_ways() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            let w = arrange(&app, &provider).await;
            let token = &w.host.token;

            let invitations = activity(&app, token, &w.event,
                json!({ "filter": { "targetTypes": ["INVITATION"] } })).await;
            assert_eq!(actions(&invitations), ["INVITATION_ACCEPTED", "INVITATION_CREATED"]);
            assert_eq!(invitations["totalCount"], 2);
            let agenda = activity(&app, token, &w.event,
                json!({ "filter": { "targetTypes": ["SESSION", "EVENT"], "actions": ["SESSION_ADDED", "CO_HOST_ADDED"] } })).await;
            assert_eq!(actions(&agenda), ["CO_HOST_ADDED", "SESSION_ADDED", "SESSION_ADDED"]);

            // By time: strictly after `since`, up to and including `until`.
            let all = activity(&app, token, &w.event, json!({ "first": 50 })).await;
            let at = |i: usize| all["nodes"][i]["occurredAt"].as_str().unwrap().to_owned();
            let since = activity(&app, token, &w.event,
                json!({ "filter": { "since": at(2) } })).await;
            assert!(actions(&since).len() <= 2 && actions(&since).contains(&"PERSONAL_DATA_EXPORTED"));
            let until = activity(&app, token, &w.event,
                json!({ "filter": { "until": at(9) } })).await;
            assert_eq!(actions(&until).last(), Some(&"EVENT_CREATED"));
            assert!(!actions(&until).contains(&"PERSONAL_DATA_EXPORTED"));

            // An unknown action or a malformed instant names its field.
            let response = app.gql(Some(token), ACTIVITY,
                json!({ "id": w.event, "filter": { "actions": ["INVITATION_EATEN"] } })).await;
            assert_eq!(response.error_code(), "BAD_USER_INPUT");
            assert_eq!(response.error_field(), "filter.actions");
            let response = app.gql(Some(token), ACTIVITY,
                json!({ "id": w.event, "filter": { "since": "yesterday" } })).await;
            assert_eq!(response.error_field(), "filter.since");

            // Paging: forward with cursors, then the oldest from the end.
            let mut seen = Vec::new();
            let mut after = Value::Null;
            loop {
                let page = activity(&app, token, &w.event, json!({ "first": 4, "after": after })).await;
                assert_eq!(page["totalCount"], 11);
                seen.extend(page["nodes"].as_array().unwrap().iter().map(|n| n["id"].clone()));
                if page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
            let expected: Vec<Value> = all["nodes"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect();
            assert_eq!(seen, expected, "no entry skipped or repeated");
            let oldest = activity(&app, token, &w.event, json!({ "first": null, "last": 2 })).await;
            assert_eq!(actions(&oldest), ["EVENT_PUBLISHED", "EVENT_CREATED"]);
            assert_eq!(oldest["pageInfo"]["hasPreviousPage"], true);
            // A cursor of another list is refused.
            let foreign = app.gql(Some(token),
                "query($id: ID!) { event(id: $id) { invitations(first: 1) { pageInfo { endCursor } } } }",
                json!({ "id": w.event })).await;
            let cursor = foreign.data()["event"]["invitations"]["pageInfo"]["endCursor"].clone();
            let response = app.gql(Some(token), ACTIVITY, json!({ "id": w.event, "after": cursor })).await;
            assert_eq!(response.error_field(), "after");
        }
    })
    .await;
}

#[tokio::test]
async fn only_the_hosts_coordinators_read_an_events_activity() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            let w = arrange(&app, &provider).await;
            let query = "query($id: ID!) { event(id: $id) { title activity { totalCount } } }";

            // The host's client and its person read it.
            for token in [&w.host.token, &w.person] {
                let response = app.gql(Some(token), query, json!({ "id": w.event })).await;
                assert_eq!(response.data()["event"]["activity"]["totalCount"], 11);
            }
            // The invited partner, another organization's coordinator and a
            // co-host (without a grant) see the event, not its activity.
            for token in [&w.partner.token, &w.stranger.token, &w.co_host.token] {
                let response = app.gql(Some(token), query, json!({ "id": w.event })).await;
                assert_eq!(
                    response.data()["event"]["title"],
                    "Election Visitor Program"
                );
                assert_eq!(response.data()["event"]["activity"], Value::Null);
            }
            // A partner's coordinator acting as partner does not read its
            // delegation's history through the host's event either.
            let partner_coordinator = app.token_for(w.partner.uuid, &[Role::Coordinator]).await;
            let response = app
                .gql(Some(&partner_coordinator), query, json!({ "id": w.event }))
                .await;
            assert_eq!(response.data()["event"]["activity"], Value::Null);
        }
    })
    .await;
}

#[tokio::test]
async fn an_organizations_activity_is_for_administrators_and_audit_log_still_answers() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            let w = arrange(&app, &provider).await;
            app.gql(
                Some(&app.admin_token),
                "mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { id } } }",
                json!({ "input": { "id": w.host.id, "website": "https://nec.go.kr" } }),
            )
            .await
            .data();
            let query = "query($id: ID!) { organization(id: $id) { activity { totalCount nodes { action targetId changes { field before after } actor { kind } } } } }";

            let response = app.gql(Some(&app.admin_token), query, json!({ "id": w.host.id })).await;

            let page = &response.data()["organization"]["activity"];
            assert_eq!(actions(page), ["ORGANIZATION_UPDATED", "ORGANIZATION_CREATED"]);
            assert_eq!(page["totalCount"], 2);
            assert_eq!(page["nodes"][0]["targetId"], w.host.id.as_str());
            assert_eq!(
                page["nodes"][0]["changes"],
                json!([{ "field": "website", "before": null, "after": "https://nec.go.kr" }])
            );
            // Not for the organization's own coordinator.
            let response = app.gql(Some(&w.host.token), query, json!({ "id": w.host.id })).await;
            assert_eq!(response.data()["organization"]["activity"], Value::Null);

            // The deprecated raw log still answers, for one record.
            let log = app.gql(
                Some(&w.host.token),
                "query($id: ID!) { auditLog(entityId: $id) { nodes { action entityType } } }",
                json!({ "id": w.invitation }),
            )
            .await;
            let entries = log.data()["auditLog"]["nodes"].as_array().unwrap();
            assert_eq!(entries.len(), 2);
            assert_eq!(entries[0]["action"], "invitation.accept");
        }
    })
    .await;
}

#[tokio::test]
async fn a_page_of_activity_costs_the_same_statements_whatever_its_size() {
    let provider = Provider::start(&[Key::RsaA]).await;
    each_backend_with(trust(&provider, json!({})), |app| {
        let provider = provider.clone();
        async move {
            let w = arrange(&app, &provider).await;
            let query = "query($id: ID!) { event(id: $id) { activity(first: 100) { totalCount nodes {
                action occurredAt targetType target { id }
                actor { kind person { name } organization { name } }
                changes { field before after } } } } }";
            // Warm the token's revocation check so it is not counted.
            app.gql(Some(&w.host.token), query, json!({ "id": w.event })).await.data();
            let (small, response) = app.statements_for(&w.host.token, query, json!({ "id": w.event })).await;
            assert_eq!(response.data()["event"]["activity"]["totalCount"], 11);

            // Many more entries of the same kinds of records, by the same actors.
            for i in 0..12 {
                let title = format!("Session {i}");
                app.gql(Some(&w.person), ADD_SESSION, json!({ "input": { "eventId": w.event,
                    "kind": "PRESENTATIONS", "title": title,
                    "startsAt": "2030-05-06T01:00:00Z", "endsAt": "2030-05-06T03:00:00Z" } }))
                    .await
                    .data();
                app.gql(
                    Some(&w.partner.token),
                    "mutation($input: UpdateDelegationInput!) { updateDelegation(input: $input) { delegation { id } } }",
                    json!({ "input": { "id": w.delegation, "notes": format!("note {i}") } }),
                )
                .await
                .data();
            }
            // Warm the revocation check again: the writes above may have outlasted
            // it (1 s in tests), and it is not the page's cost.
            app.gql(Some(&w.host.token), query, json!({ "id": w.event })).await.data();
            let (large, response) = app.statements_for(&w.host.token, query, json!({ "id": w.event })).await;

            assert_eq!(response.data()["event"]["activity"]["totalCount"], 35);
            assert_eq!(small, large, "a page costs the same whatever its size");
            // The event; the page (its total is known from it); organizations;
            // people; one query per kind of target (event, session, invitation,
            // delegation, participant); nothing per entry.
            assert!(large <= 10, "{large} statements");
        }
    })
    .await;
}
