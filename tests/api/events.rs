//! Events: planning, publishing, visibility, co-hosts and dates.

use embhub::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, each_backend, global_id};

const CREATE: &str = "mutation($input: CreateEventInput!) {
    createEvent(input: $input) { event { id title status version startDate endDate dateStatus host { name } } } }";
const UPDATE: &str = "mutation($input: UpdateEventInput!) {
    updateEvent(input: $input) { event { id title version startDate venue } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishEvent(input: { id: $id }) { event { id status publishedAt version } } }";
const GET: &str = "query($id: ID!) { event(id: $id) { id title status coHosts { organization { name } permissions } heldAlongside { title } } }";
const LIST: &str = "{ events(first: 50) { totalCount edges { node { title } } } }";

/// A host organization with a coordinator, and a partner organization.
struct World {
    host: Uuid,
    coordinator: String,
    partner_org: Uuid,
    partner: String,
}

async fn world(app: &TestApp) -> World {
    let (_, host) = app
        .create_org("National Election Commission", Some("KR"))
        .await;
    let (_, partner_org) = app
        .create_org("Central Election Commission", Some("UZ"))
        .await;
    World {
        host,
        coordinator: app.token_for(host, &[Role::Coordinator]).await,
        partner_org,
        partner: app.token_for(partner_org, &[Role::Partner]).await,
    }
}

fn seminar() -> Value {
    json!({
        "kind": "SEMINAR",
        "title": "Seminar on Election Laws and Systems",
        "timeZone": "Asia/Seoul",
        "startDate": "2017-10-16",
        "endDate": "2017-10-20",
        "countryCode": "KR",
        "city": "Gwacheon",
        "participationMode": "APPLICATIONS_OPEN",
        "applicationDeadline": "2017-08-31T14:59:59Z"
    })
}

async fn create_event(app: &TestApp, token: &str, input: Value) -> String {
    let response = app
        .gql(Some(token), CREATE, json!({ "input": input }))
        .await;
    response.data()["createEvent"]["event"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_seen_only_by_its_hosts_until_published() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let response = app
            .gql(Some(&w.coordinator), CREATE, json!({ "input": seminar() }))
            .await;
        let event = &response.data()["createEvent"]["event"];
        assert_eq!(event["status"], "DRAFT");
        assert_eq!(event["host"]["name"], "National Election Commission");
        assert_eq!(event["dateStatus"], "TENTATIVE");
        let id = event["id"].as_str().unwrap().to_owned();

        // The partner sees nothing: not by id, not by node, not in the list.
        let by_id = app.gql(Some(&w.partner), GET, json!({ "id": id })).await;
        assert_eq!(by_id.error_code(), "NOT_FOUND");
        let by_node = app
            .gql(
                Some(&w.partner),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(by_node.error_code(), "NOT_FOUND");
        let listed = app.gql(Some(&w.partner), LIST, json!({})).await;
        assert_eq!(listed.data()["events"]["totalCount"], 0);

        let published = app
            .gql(Some(&w.coordinator), PUBLISH, json!({ "id": id }))
            .await;
        assert_eq!(
            published.data()["publishEvent"]["event"]["status"],
            "PUBLISHED"
        );
        // Publishing again is a safe retry.
        let again = app
            .gql(Some(&w.coordinator), PUBLISH, json!({ "id": id }))
            .await;
        assert_eq!(again.data()["publishEvent"]["event"]["version"], 2);

        let reader = app.token_for(w.partner_org, &[Role::Reader]).await;
        for token in [&w.partner, &reader] {
            let seen = app.gql(Some(token), GET, json!({ "id": id })).await;
            assert_eq!(seen.data()["event"]["status"], "PUBLISHED");
            let listed = app.gql(Some(token), LIST, json!({})).await;
            assert_eq!(listed.data()["events"]["totalCount"], 1);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_rejected_with_the_field_and_nothing_is_written() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let events_before = app.count_rows("events").await;
        let mut cases = Vec::new();
        let mut end_before_start = seminar();
        end_before_start["endDate"] = json!("2017-10-01");
        cases.push((end_before_start, "endDate"));
        let mut bad_zone = seminar();
        bad_zone["timeZone"] = json!("Mars/Olympus_Mons");
        cases.push((bad_zone, "timeZone"));
        let mut bad_country = seminar();
        bad_country["countryCode"] = json!("ZZ");
        cases.push((bad_country, "countryCode"));
        let mut no_deadline = seminar();
        no_deadline["applicationDeadline"] = json!(null);
        cases.push((no_deadline, "applicationDeadline"));
        let mut late_deadline = seminar();
        late_deadline["applicationDeadline"] = json!("2017-11-30T00:00:00Z");
        cases.push((late_deadline, "applicationDeadline"));
        let mut negative = seminar();
        negative["maxDelegations"] = json!(-3);
        cases.push((negative, "maxDelegations"));
        let mut unknown_alongside = seminar();
        unknown_alongside["heldAlongsideId"] = json!(global_id("Event", Uuid::now_v7()));
        cases.push((unknown_alongside, "heldAlongsideId"));
        let mut blank_title = seminar();
        blank_title["title"] = json!("  ");
        cases.push((blank_title, "title"));

        for (input, field) in cases {
            let response = app
                .gql(Some(&w.coordinator), CREATE, json!({ "input": input }))
                .await;
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{input}");
            assert_eq!(response.error_field(), field, "{input}");
        }
        assert_eq!(app.count_rows("events").await, events_before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_coordinators_create_events_and_only_the_hosts_change_them() {
    each_backend(|app| async move {
        let w = world(&app).await;
        for role in [Role::Partner, Role::Reader, Role::Admin] {
            let token = app.token_for(w.partner_org, &[role]).await;
            let denied = app
                .gql(Some(&token), CREATE, json!({ "input": seminar() }))
                .await;
            assert_eq!(denied.error_code(), "FORBIDDEN", "{role:?}");
        }
        assert_eq!(app.count_rows("events").await, 0);

        let id = create_event(&app, &w.coordinator, seminar()).await;
        let other_coordinator = app.token_for(w.partner_org, &[Role::Coordinator]).await;
        // A draft of another host does not exist for them ...
        let hidden = app
            .gql(
                Some(&other_coordinator),
                UPDATE,
                json!({ "input": { "id": id, "title": "Hijacked" } }),
            )
            .await;
        assert_eq!(hidden.error_code(), "NOT_FOUND");
        app.gql(Some(&w.coordinator), PUBLISH, json!({ "id": id }))
            .await
            .data();
        // ... and once published they can see it but not change it.
        for token in [&other_coordinator, &w.partner] {
            let denied = app
                .gql(
                    Some(token),
                    UPDATE,
                    json!({ "input": { "id": id, "title": "Hijacked" } }),
                )
                .await;
            assert_eq!(denied.error_code(), "FORBIDDEN");
        }
        let read = app.gql(Some(&w.partner), GET, json!({ "id": id })).await;
        assert_eq!(
            read.data()["event"]["title"],
            "Seminar on Election Laws and Systems"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_of_a_published_event_move_only_by_rescheduling_with_history() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let id = create_event(&app, &w.coordinator, json!({
            "kind": "ELECTION_VISITOR_PROGRAM", "title": "Election Visitor Program", "timeZone": "Asia/Seoul",
            "startDate": "2017-12-15", "endDate": "2017-12-21", "electionName": "19th Presidential Election",
            "electionDate": "2017-12-20" })).await;
        // While a draft, dates are edited freely.
        let moved = app
            .gql(Some(&w.coordinator), UPDATE, json!({ "input": { "id": id, "startDate": "2017-12-14", "venue": "Songdo" } }))
            .await;
        assert_eq!(moved.data()["updateEvent"]["event"]["startDate"], "2017-12-14");
        app.gql(Some(&w.coordinator), PUBLISH, json!({ "id": id })).await.data();

        let refused = app
            .gql(Some(&w.coordinator), UPDATE, json!({ "input": { "id": id, "startDate": "2017-05-04" } }))
            .await;
        assert_eq!(refused.error_code(), "CONFLICT");

        let rescheduled = app
            .gql(
                Some(&w.coordinator),
                "mutation($input: RescheduleEventInput!) { rescheduleEvent(input: $input) {
                    event { startDate endDate dateStatus dateChanges { previousStartDate newStartDate newDateStatus reason } } } }",
                json!({ "input": { "id": id, "startDate": "2017-05-04", "endDate": "2017-05-10",
                    "dateStatus": "CONFIRMED", "reason": "The election moved after the impeachment" } }),
            )
            .await;
        let event = &rescheduled.data()["rescheduleEvent"]["event"];
        assert_eq!(event["startDate"], "2017-05-04");
        assert_eq!(event["dateStatus"], "CONFIRMED");
        assert_eq!(event["dateChanges"][0]["previousStartDate"], "2017-12-14");
        assert_eq!(event["dateChanges"][0]["reason"], "The election moved after the impeachment");

        let bad = app
            .gql(
                Some(&w.coordinator),
                "mutation($input: RescheduleEventInput!) { rescheduleEvent(input: $input) { event { id } } }",
                json!({ "input": { "id": id, "startDate": "2017-05-04", "endDate": "2017-05-01",
                    "dateStatus": "CONFIRMED", "reason": "typo" } }),
            )
            .await;
        assert_eq!(bad.error_field(), "endDate");
        assert_eq!(app.count_rows("event_date_changes").await, 1);

        let stale = app
            .gql(Some(&w.coordinator), UPDATE, json!({ "input": { "id": id, "expectedVersion": 1, "title": "x" } }))
            .await;
        assert_eq!(stale.error_code(), "CONFLICT");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_hosts_are_added_once_removed_safely_and_see_drafts() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let (aweb_id, aweb) = app.create_org("Association of World Election Bodies", None).await;
        let id = create_event(&app, &w.coordinator, seminar()).await;
        let add = "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { coHosts { organization { name } permissions } } } }";
        let remove = "mutation($input: CoHostInput!) { removeCoHost(input: $input) { event { coHosts { organization { name } } } } }";
        let input = json!({ "input": { "eventId": id, "organizationId": aweb_id } });

        for _ in 0..2 {
            let added = app.gql(Some(&w.coordinator), add, input.clone()).await;
            assert_eq!(
                added.data()["addCoHost"]["event"]["coHosts"],
                json!([{ "organization": { "name": "Association of World Election Bodies" }, "permissions": [] }])
            );
        }
        // The co-host's coordinator sees the draft but cannot change it.
        let co_host = app.token_for(aweb, &[Role::Coordinator]).await;
        let seen = app.gql(Some(&co_host), GET, json!({ "id": id })).await;
        assert_eq!(seen.data()["event"]["status"], "DRAFT");
        let denied = app.gql(Some(&co_host), remove, input.clone()).await;
        assert_eq!(denied.error_code(), "FORBIDDEN");
        let filtered = app
            .gql(Some(&co_host), "query($id: ID!) { events(filter: { coHostId: $id }) { totalCount } }", json!({ "id": aweb_id }))
            .await;
        assert_eq!(filtered.data()["events"]["totalCount"], 1);

        let host_as_co_host = app
            .gql(Some(&w.coordinator), add, json!({ "input": { "eventId": id, "organizationId": global_id("Organization", w.host) } }))
            .await;
        assert_eq!(host_as_co_host.error_field(), "organizationId");
        let unknown = app
            .gql(Some(&w.coordinator), add, json!({ "input": { "eventId": id, "organizationId": global_id("Organization", Uuid::now_v7()) } }))
            .await;
        assert_eq!(unknown.error_code(), "NOT_FOUND");

        for _ in 0..2 {
            let removed = app.gql(Some(&w.coordinator), remove, input.clone()).await;
            assert_eq!(removed.data()["removeCoHost"]["event"]["coHosts"], json!([]));
        }
        let gone = app.gql(Some(&co_host), GET, json!({ "id": id })).await;
        assert_eq!(gone.error_code(), "NOT_FOUND");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_held_alongside_another_links_to_it_and_filters_work() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let evp = create_event(&app, &w.coordinator, json!({
            "kind": "ELECTION_VISITOR_PROGRAM", "title": "Election Visitor Program", "timeZone": "Asia/Seoul",
            "startDate": "2017-05-04", "endDate": "2017-05-10" })).await;
        let forum = create_event(&app, &w.coordinator, json!({
            "kind": "FORUM", "title": "Seoul International Forum on Elections", "timeZone": "Asia/Seoul",
            "startDate": "2017-05-08", "endDate": "2017-05-08", "dateStatus": "TO_BE_CONFIRMED",
            "heldAlongsideId": evp })).await;
        app.gql(Some(&w.coordinator), PUBLISH, json!({ "id": forum })).await.data();

        // The partner sees the forum, but not the draft it is held alongside.
        let partner_view = app.gql(Some(&w.partner), GET, json!({ "id": forum })).await;
        assert_eq!(partner_view.data()["event"]["heldAlongside"], json!(null));
        let host_view = app.gql(Some(&w.coordinator), GET, json!({ "id": forum })).await;
        assert_eq!(host_view.data()["event"]["heldAlongside"]["title"], "Election Visitor Program");

        let cycle = app
            .gql(Some(&w.coordinator), UPDATE, json!({ "input": { "id": evp, "heldAlongsideId": forum } }))
            .await;
        assert_eq!(cycle.error_field(), "heldAlongsideId");

        let forums = app
            .gql(Some(&w.coordinator), "{ events(filter: { kinds: [FORUM], search: \"seoul\" }) { edges { node { title } } } }", json!({}))
            .await;
        assert_eq!(forums.data()["events"]["edges"][0]["node"]["title"], "Seoul International Forum on Elections");
        let by_date = app
            .gql(Some(&w.coordinator), "{ events(filter: { startsOnOrAfter: \"2017-05-05\" }) { totalCount } }", json!({}))
            .await;
        assert_eq!(by_date.data()["events"]["totalCount"], 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_its_host_and_agenda_costs_one_statement() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let event = create_event(&app, &w.coordinator, seminar()).await;
        for day in 16..=19 {
            app.gql(
                Some(&w.coordinator),
                "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id } } }",
                json!({ "input": { "eventId": event, "kind": "PRESENTATIONS", "title": format!("Day {day}"),
                    "startsAt": format!("2017-10-{day}T01:00:00Z"), "endsAt": format!("2017-10-{day}T03:00:00Z") } }),
            )
            .await
            .data();
        }
        let query = "query($id: ID!) { event(id: $id) { title host { name } sessions { title } } }";
        // Warm the token's revocation check so it is not counted.
        app.gql(Some(&w.coordinator), query, json!({ "id": event })).await.data();

        let (statements, response) = app
            .statements_for(&w.coordinator, query, json!({ "id": event }))
            .await;

        let found = &response.data()["event"];
        assert_eq!(found["host"]["name"], "National Election Commission");
        let titles: Vec<&str> = found["sessions"].as_array().unwrap().iter()
            .map(|s| s["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Day 16", "Day 17", "Day 18", "Day 19"], "in order of start");
        // The event with its host and its sessions, joined.
        assert_eq!(statements, 1);
        // An event without an agenda is still found, with an empty one.
        let bare = create_event(&app, &w.coordinator, seminar()).await;
        let (statements, response) = app
            .statements_for(&w.coordinator, query, json!({ "id": bare }))
            .await;
        assert_eq!(response.data()["event"]["host"]["name"], "National Election Commission");
        assert_eq!(response.data()["event"]["sessions"], json!([]));
        assert_eq!(statements, 1);
        // An event the caller may not see is still NOT_FOUND, with no data.
        let hidden = app.gql(Some(&w.partner), query, json!({ "id": event })).await;
        assert_eq!(hidden.error_code(), "NOT_FOUND");
    })
    .await;
}
