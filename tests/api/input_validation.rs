//! What every text, date and number a client sends must be, checked the same way
//! on both databases, and reported all at once, field by field.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{accept, invite, member, published_event};
use crate::helpers::{GqlResponse, each_backend};

const CREATE_EVENT: &str =
    "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }";
const CREATE_ORG: &str = "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }";

fn event_input(overrides: Value) -> Value {
    let mut input = json!({ "kind": "FORUM", "title": "Forum", "timeZone": "Asia/Seoul",
        "startDate": "2030-05-08", "endDate": "2030-05-08" });
    for (k, v) in overrides.as_object().unwrap() {
        input[k] = v.clone();
    }
    json!({ "input": input })
}

/// The `extensions.field` of every error, in order.
fn fields(response: &GqlResponse) -> Vec<String> {
    response.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors, got {}", response.body))
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
            e["extensions"]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_in_every_text_input_and_filter() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let uz = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let reader = app.token_for(uz.uuid, &[Role::Reader]).await;
        let events_before = app.count_rows("events").await;

        // In a variable and in a literal of the document, NUL and other controls.
        for title in ["Forum\u{0}x", "Forum\u{1b}[31m", "Forum\u{85}", "Forum\u{7f}"] {
            let refused = app.gql(Some(&host.token), CREATE_EVENT, event_input(json!({ "title": title }))).await;
            assert_eq!(fields(&refused), ["title"], "{title:?}");
        }
        let literal = app.gql(Some(&host.token),
            r#"mutation { createEvent(input: { kind: FORUM, title: "Forum\u0000x", timeZone: "Asia/Seoul",
                startDate: "2030-05-08", endDate: "2030-05-08" }) { event { id } } }"#, json!({})).await;
        assert_eq!(fields(&literal), ["title"]);
        assert_eq!(app.count_rows("events").await, events_before);

        // A reader's search filter gets the same clear answer, not INTERNAL.
        let search = app.gql(Some(&reader), "query($s: String) { organizations(filter: { search: $s }) { totalCount } }",
            json!({ "s": "\u{0}" })).await;
        assert_eq!(fields(&search), ["search"]);

        // Sensitive fields too, and nothing is stored.
        let event = published_event(&app, &host, json!({})).await;
        let invitation = invite(&app, &host, &event, &[&uz.id], 2, 0).await;
        let delegation = accept(&app, &uz.token, &invitation[0]).await;
        let passport = app.gql(Some(&uz.token), crate::fixtures::ADD_PARTICIPANT, json!({ "input": {
            "delegationId": delegation, "fullName": "Mirza Karimov", "passportNumber": "FA\u{0}123" } })).await;
        assert_eq!(fields(&passport), ["passportNumber"]);
        assert_eq!(app.count_rows("participants").await, 0);

        // Multi-line text keeps its line breaks and tabs.
        let described = app.gql(Some(&host.token), CREATE_EVENT,
            event_input(json!({ "title": "Forum on Turnout", "description": "Day one:\n\tbriefings" }))).await;
        described.data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_refuse_line_breaks_and_bidirectional_overrides() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        for name in [
            "Electoral\nCommission",
            "Commission\u{202E}lanoitcele",
            "\u{2066}Commission",
        ] {
            let refused = app
                .gql(
                    Some(&app.admin_token),
                    CREATE_ORG,
                    json!({ "input": { "kind": "NGO", "name": name } }),
                )
                .await;
            assert_eq!(fields(&refused), ["name"], "{name:?}");
        }
        assert_eq!(app.count_rows("organizations").await, before);
        // Scripts written right to left are names like any other.
        app.gql(
            Some(&app.admin_token),
            CREATE_ORG,
            json!({ "input": { "kind": "NGO", "name": "المفوضية العليا المستقلة للانتخابات" } }),
        )
        .await
        .data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_dates_and_capacities_of_zero_are_refused() {
    each_backend(|app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let before = app.count_rows("events").await;
        let cases = [
            (json!({ "startDate": "0000-01-01" }), "startDate"),
            (json!({ "endDate": "2201-01-01" }), "endDate"),
            (json!({ "electionDate": "1800-05-09" }), "electionDate"),
            (json!({ "maxParticipants": 0 }), "maxParticipants"),
            (json!({ "maxDelegations": 0 }), "maxDelegations"),
        ];
        for (overrides, field) in cases {
            let refused = app
                .gql(
                    Some(&host.token),
                    CREATE_EVENT,
                    event_input(overrides.clone()),
                )
                .await;
            assert_eq!(fields(&refused), [field], "{overrides}");
        }
        assert_eq!(app.count_rows("events").await, before);
        let capacity = app
            .gql(
                Some(&host.token),
                CREATE_EVENT,
                event_input(json!({ "maxParticipants": 1, "maxDelegations": 1 })),
            )
            .await;
        capacity.data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_field_of_an_input_is_reported_at_once() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let before = app.count_rows("events").await;
        let refused = app.gql(Some(&host.token), CREATE_EVENT, event_input(json!({
            "title": "  ", "timeZone": "Mars/Olympus_Mons", "countryCode": "ZZ", "maxParticipants": 0 }))).await;
        let mut named = fields(&refused);
        named.sort();
        assert_eq!(named, ["countryCode", "maxParticipants", "timeZone", "title"]);
        let errors = refused.body["errors"].as_array().unwrap();
        assert!(errors.iter().all(|e| e["path"] == json!(["createEvent"])), "{}", refused.body);
        assert!(errors.iter().all(|e| e["message"].as_str().unwrap().starts_with("invalid `")), "{}", refused.body);
        assert!(refused.body["data"].is_null());
        assert_eq!(app.count_rows("events").await, before);

        let organization = app.gql(Some(&app.admin_token), CREATE_ORG, json!({ "input": {
            "kind": "ELECTION_MANAGEMENT_BODY", "name": "X", "countryCode": "XX",
            "website": "javascript:alert(1)", "contactEmail": "nobody" } })).await;
        let mut named = fields(&organization);
        named.sort();
        assert_eq!(named, ["contactEmail", "countryCode", "website"]);
    })
    .await;
}
