//! Calendar feeds: a secret URL per feed that calendar apps poll without a
//! token; the output is read back with the `icalendar` crate's parser.

use std::collections::HashMap;

use chrono::NaiveDate;
use embhub::auth::Role;
use icalendar::{CalendarDateTime, Component, DatePerhapsTime};
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, add_participant, invite, member, published_event};
use crate::helpers::{TestApp, each_backend, global_uuid};

const CREATE_FEED: &str = "mutation($input: CreateCalendarFeedInput!) {
    createCalendarFeed(input: $input) { url feed { id label revokedAt } } }";
const REVOKE_FEED: &str =
    "mutation($id: ID!) { revokeCalendarFeed(input: { id: $id }) { feed { id revokedAt } } }";

/// Creates a feed as `token`'s organization; returns (feed id, url path).
async fn create_feed(app: &TestApp, token: &str) -> (String, String) {
    let created = app
        .gql(
            Some(token),
            CREATE_FEED,
            json!({ "input": { "label": "Outlook" } }),
        )
        .await;
    let payload = &created.data()["createCalendarFeed"];
    (
        payload["feed"]["id"].as_str().unwrap().to_owned(),
        payload["url"].as_str().unwrap().to_owned(),
    )
}

/// GETs a feed without any token, optionally revalidating with an ETag.
async fn fetch(app: &TestApp, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(format!("{}{path}", app.address));
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    request.send().await.expect("feed request")
}

/// One VEVENT, as the parser read it.
struct Entry {
    summary: String,
    start: DatePerhapsTime,
    end: DatePerhapsTime,
    status: String,
    sequence: u32,
}

/// Parses a feed with the `icalendar` crate, checks the calendar's own
/// properties, and returns its events by UID.
fn parse(body: &str) -> HashMap<String, Entry> {
    let calendar: icalendar::Calendar = body.parse().expect("the feed is valid iCalendar");
    let property = |name: &str| {
        calendar
            .properties
            .iter()
            .find(|p| p.key() == name)
            .map(|p| p.value().to_owned())
    };
    assert_eq!(property("VERSION").as_deref(), Some("2.0"));
    assert!(property("PRODID").is_some_and(|p| p.contains("embhub")));
    let mut entries = HashMap::new();
    for component in &calendar.components {
        let event = component.as_event().expect("only VEVENTs");
        let uid = event.get_uid().expect("every VEVENT has a UID").to_owned();
        assert!(event.get_timestamp().is_some(), "DTSTAMP on {uid}");
        let entry = Entry {
            summary: event.get_summary().unwrap_or_default().to_owned(),
            start: event.get_start().expect("DTSTART"),
            end: event.get_end().expect("DTEND"),
            status: event
                .property_value("STATUS")
                .unwrap_or_default()
                .to_owned(),
            sequence: event.get_sequence().expect("SEQUENCE"),
        };
        assert!(entries.insert(uid, entry).is_none(), "UIDs are unique");
    }
    entries
}

fn event_uid(id: &str) -> String {
    format!("event-{}@embhub", global_uuid(id))
}

fn date(y: i32, m: u32, d: u32) -> DatePerhapsTime {
    DatePerhapsTime::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

async fn add_session(app: &TestApp, host: &Member, event: &str) -> String {
    let added = app
        .gql(
            Some(&host.token),
            "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id } } }",
            json!({ "input": { "eventId": event, "kind": "BRIEFING", "title": "Briefing on the election",
                "startsAt": "2030-05-05T01:00:00Z", "endsAt": "2030-05-05T03:00:00Z", "location": "NEC HQ" } }),
        )
        .await;
    added.data()["addSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_feed_holds_the_organizations_events_and_sessions_and_no_personal_data() {
    each_backend(|app| async move {
        let nec = member(&app, "NEC", Some("KR"), &[Role::Coordinator]).await;
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let other = member(&app, "TSE", Some("BR"), &[Role::Coordinator]).await;
        let evp = published_event(&app, &nec, json!({ "dateStatus": "CONFIRMED" })).await;
        add_session(&app, &nec, &evp).await;
        let draft = app
            .gql(
                Some(&nec.token),
                "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }",
                json!({ "input": { "kind": "FORUM", "title": "Draft forum", "timeZone": "Asia/Seoul",
                    "startDate": "2030-06-01", "endDate": "2030-06-01" } }),
            )
            .await;
        let draft = draft.data()["createEvent"]["event"]["id"].as_str().unwrap().to_owned();
        let elsewhere = published_event(&app, &other, json!({ "title": "Brazil observation" })).await;
        let invited = published_event(&app, &other, json!({ "title": "Brazil seminar", "startDate": "2030-07-01", "endDate": "2030-07-03" })).await;
        // The UK is invited to the NEC's program (and accepts) and to Brazil's seminar.
        let invitation = invite(&app, &nec, &evp, &[&uk.id], 3, 1).await;
        let delegation = accept(&app, &uk.token, &invitation[0]).await;
        add_participant(&app, &uk.token, &delegation, "Jane Secretperson", true).await.data();
        invite(&app, &other, &invited, &[&uk.id], 2, 0).await;
        let (_, path) = create_feed(&app, &uk.token).await;

        let response = fetch(&app, &path, None).await;

        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/calendar; charset=utf-8"
        );
        assert!(response.headers().contains_key("etag"));
        let body = response.text().await.unwrap();
        for secret in ["Jane", "Secretperson", "FA1234567", "1980"] {
            assert!(!body.contains(secret), "personal data in the feed: {secret}");
        }
        let entries = parse(&body);
        let program = &entries[&event_uid(&evp)];
        assert_eq!(program.summary, "Election Visitor Program");
        assert_eq!(program.start, date(2030, 5, 4));
        assert_eq!(program.end, date(2030, 5, 11), "DTEND is the day after the last day");
        assert_eq!(program.status, "CONFIRMED");
        let seminar = &entries[&event_uid(&invited)];
        assert_eq!(seminar.status, "TENTATIVE", "its dates are not confirmed");
        assert!(!entries.contains_key(&event_uid(&draft)), "no drafts");
        assert!(!entries.contains_key(&event_uid(&elsewhere)), "no unrelated events");
        let sessions: Vec<&Entry> = entries
            .iter()
            .filter(|(uid, _)| uid.starts_with("session-"))
            .map(|(_, entry)| entry)
            .collect();
        assert_eq!(sessions.len(), 1);
        assert!(sessions[0].summary.contains("Briefing on the election"));
        let utc = chrono::DateTime::parse_from_rfc3339("2030-05-05T01:00:00Z").unwrap().to_utc();
        assert_eq!(sessions[0].start, DatePerhapsTime::DateTime(CalendarDateTime::Utc(utc)));
        assert!(matches!(sessions[0].end, DatePerhapsTime::DateTime(CalendarDateTime::Utc(_))));
        assert_eq!(entries.len(), 3, "{:?}", entries.keys().collect::<Vec<_>>());

        // The host's own feed: its published program, not its draft.
        let (_, host_path) = create_feed(&app, &nec.token).await;
        let host = parse(&fetch(&app, &host_path, None).await.text().await.unwrap());
        assert!(host.contains_key(&event_uid(&evp)));
        assert!(!host.contains_key(&event_uid(&draft)));
        assert!(!host.contains_key(&event_uid(&invited)));
    })
    .await;
}

#[tokio::test]
async fn a_rescheduled_event_shows_its_new_dates_with_a_higher_sequence() {
    each_backend(|app| async move {
        let nec = member(&app, "NEC", Some("KR"), &[Role::Coordinator]).await;
        let evp = published_event(&app, &nec, json!({ "dateStatus": "TENTATIVE" })).await;
        let (_, path) = create_feed(&app, &nec.token).await;
        let first = fetch(&app, &path, None).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let before = parse(&first.text().await.unwrap()).remove(&event_uid(&evp)).unwrap();
        assert_eq!(before.status, "TENTATIVE");
        // Unchanged: the calendar app's copy is current.
        let again = fetch(&app, &path, Some(&etag)).await;
        assert_eq!(again.status(), 304);
        assert!(again.text().await.unwrap().is_empty());

        app.gql(
            Some(&nec.token),
            "mutation($input: RescheduleEventInput!) { rescheduleEvent(input: $input) { event { startDate } } }",
            json!({ "input": { "id": evp, "startDate": "2030-05-11", "endDate": "2030-05-17",
                "dateStatus": "CONFIRMED", "reason": "The election moved" } }),
        )
        .await
        .data();

        let moved = fetch(&app, &path, Some(&etag)).await;
        assert_eq!(moved.status(), 200, "a changed feed is sent again");
        assert_ne!(moved.headers()["etag"].to_str().unwrap(), etag);
        let after = parse(&moved.text().await.unwrap()).remove(&event_uid(&evp)).unwrap();
        assert_eq!(after.start, date(2030, 5, 11));
        assert_eq!(after.end, date(2030, 5, 18));
        assert_eq!(after.status, "CONFIRMED");
        assert!(after.sequence > before.sequence, "{} > {}", after.sequence, before.sequence);

        app.gql(
            Some(&nec.token),
            "mutation($id: ID!) { cancelEvent(input: { id: $id, reason: \"Cancelled\" }) { event { status } } }",
            json!({ "id": evp }),
        )
        .await
        .data();
        let cancelled = fetch(&app, &path, None).await.text().await.unwrap();
        let cancelled = parse(&cancelled).remove(&event_uid(&evp)).unwrap();
        assert_eq!(cancelled.status, "CANCELLED");
        assert!(cancelled.sequence > after.sequence);
    })
    .await;
}

#[tokio::test]
async fn a_revoked_feed_answers_404_and_only_its_organization_may_revoke_it() {
    each_backend(|app| async move {
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let other = member(&app, "TSE", Some("BR"), &[Role::Partner]).await;
        let reader = app.token_for(uk.uuid, &[Role::Reader]).await;
        let (feed, path) = create_feed(&app, &uk.token).await;
        assert_eq!(fetch(&app, &path, None).await.status(), 200);

        // A reader may not create feeds; another organization cannot see this one.
        let refused = app
            .gql(Some(&reader), CREATE_FEED, json!({ "input": {} }))
            .await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        let foreign = app
            .gql(Some(&other.token), REVOKE_FEED, json!({ "id": feed }))
            .await;
        assert_eq!(foreign.error_code(), "NOT_FOUND");
        assert_eq!(fetch(&app, &path, None).await.status(), 200, "still live");
        let listed = app
            .gql(Some(&other.token), "{ calendarFeeds { id } }", json!({}))
            .await;
        assert_eq!(listed.data()["calendarFeeds"], json!([]));
        let long = app
            .gql(
                Some(&uk.token),
                CREATE_FEED,
                json!({ "input": { "label": "x".repeat(201) } }),
            )
            .await;
        assert_eq!(long.error_code(), "BAD_USER_INPUT");
        assert_eq!(long.error_field(), "label");
        assert_eq!(app.count_rows("calendar_feeds").await, 1);

        let revoked = app
            .gql(Some(&uk.token), REVOKE_FEED, json!({ "id": feed }))
            .await;
        assert!(revoked.data()["revokeCalendarFeed"]["feed"]["revokedAt"].is_string());

        assert_eq!(fetch(&app, &path, None).await.status(), 404);
        for bogus in [
            "/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics",
            "/calendar/short.ics",
            "/calendar/feed",
        ] {
            assert_eq!(fetch(&app, bogus, None).await.status(), 404, "{bogus}");
        }
        let listed = app
            .gql(
                Some(&uk.token),
                "{ calendarFeeds { id revokedAt } }",
                json!({}),
            )
            .await;
        let feeds: &Value = &listed.data()["calendarFeeds"];
        assert_eq!(feeds[0]["id"], feed);
        assert!(feeds[0]["revokedAt"].is_string());
        assert_eq!(
            app.count_rows("audit_entries WHERE entity_type = 'CalendarFeed'")
                .await,
            2,
            "creation and revocation are audited"
        );
        // The secret is never stored or logged as is.
        let token = path
            .trim_start_matches("/calendar/")
            .trim_end_matches(".ics");
        assert!(!crate::helpers::captured_logs().contains(token));
    })
    .await;
}
