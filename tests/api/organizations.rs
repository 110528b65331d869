//! The organization directory: creating, changing, reading, and who may.

use embhub::auth::Role;
use serde_json::json;

use crate::helpers::{each_backend, global_id};

const CREATE: &str = "mutation($input: CreateOrganizationInput!) {
    createOrganization(input: $input) { organization { id name countryCode acronym version awebMember } } }";
const UPDATE: &str = "mutation($input: UpdateOrganizationInput!) {
    updateOrganization(input: $input) { organization { id name acronym website version } } }";
const GET: &str = "query($id: ID!) { organization(id: $id) { id name kind } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_an_organization_that_everyone_can_read() {
    each_backend(|app| async move {
        let created = app
            .gql(
                Some(&app.admin_token),
                CREATE,
                json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": "National Election Commission",
                    "localName": "중앙선거관리위원회", "acronym": "NEC", "countryCode": "kr",
                    "website": "https://www.nec.go.kr", "contactEmail": "intl@nec.go.kr" } }),
            )
            .await;
        let org = &created.data()["createOrganization"]["organization"];
        assert_eq!(org["countryCode"], "KR", "country codes are normalized");
        assert_eq!(org["version"], 1);
        assert_eq!(
            org["awebMember"], false,
            "A-WEB membership comes from the AWEB directory source only"
        );

        let reader = app.token_for(app.operator_org, &[Role::Reader]).await;
        let read = app.gql(Some(&reader), GET, json!({ "id": org["id"] })).await;
        assert_eq!(read.data()["organization"]["name"], "National Election Commission");
        assert_eq!(read.data()["organization"]["kind"], "ELECTION_MANAGEMENT_BODY");

        let node = app
            .gql(
                Some(&reader),
                "query($id: ID!) { node(id: $id) { id ... on Organization { acronym } } }",
                json!({ "id": org["id"] }),
            )
            .await;
        assert_eq!(node.data()["node"]["acronym"], "NEC");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_the_field_and_writes_nothing() {
    each_backend(|app| async move {
        let before = app.count_rows("organizations").await;
        let audit_before = app.count_rows("audit_entries").await;
        let cases = [
            (
                json!({ "kind": "ELECTION_MANAGEMENT_BODY", "name": "X", "countryCode": "XX" }),
                "countryCode",
            ),
            (
                json!({ "kind": "ELECTION_MANAGEMENT_BODY", "name": "X", "countryCode": "KOR" }),
                "countryCode",
            ),
            (
                json!({ "kind": "ELECTION_MANAGEMENT_BODY", "name": "No country" }),
                "countryCode",
            ),
            (json!({ "kind": "NGO", "name": "   " }), "name"),
            (
                json!({ "kind": "NGO", "name": "N", "website": "javascript:alert(1)" }),
                "website",
            ),
            (
                json!({ "kind": "NGO", "name": "N", "contactEmail": "not-an-email" }),
                "contactEmail",
            ),
            (json!({ "kind": "NGO", "name": "N".repeat(201) }), "name"),
        ];
        for (input, field) in cases {
            let response = app
                .gql(Some(&app.admin_token), CREATE, json!({ "input": input }))
                .await;
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{input}");
            assert_eq!(response.error_field(), field, "{input}");
        }
        assert_eq!(app.count_rows("organizations").await, before);
        assert_eq!(app.count_rows("audit_entries").await, audit_before);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_per_country_ignoring_case() {
    each_backend(|app| async move {
        app.create_org("Central Election Commission", Some("UZ")).await;
        let before = app.count_rows("organizations").await;
        let duplicate = app
            .gql(
                Some(&app.admin_token),
                CREATE,
                json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": "central election COMMISSION", "countryCode": "UZ" } }),
            )
            .await;
        assert_eq!(duplicate.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("organizations").await, before);

        // The same name serves another country without conflict.
        app.create_org("Central Election Commission", Some("BA")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acronyms_are_unique_ignoring_case_and_a_duplicate_names_the_existing_record() {
    each_backend(|app| async move {
        let created = app
            .gql(
                Some(&app.admin_token),
                CREATE,
                json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": "National Election Commission",
                    "acronym": "NEC", "countryCode": "KR" } }),
            )
            .await;
        let nec = created.data()["createOrganization"]["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = app.count_rows("organizations").await;

        // Another organization may not take the acronym, in any case.
        let same_acronym = app
            .gql(
                Some(&app.admin_token),
                CREATE,
                json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": "National Electoral Council",
                    "acronym": "nec", "countryCode": "VE" } }),
            )
            .await;
        assert_eq!(same_acronym.error_code(), "CONFLICT");
        assert_eq!(
            same_acronym.body["errors"][0]["extensions"]["existingId"],
            nec.as_str()
        );
        // A duplicate name says who it duplicates too.
        let same_name = app
            .gql(
                Some(&app.admin_token),
                CREATE,
                json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": "national election commission",
                    "countryCode": "KR" } }),
            )
            .await;
        assert_eq!(same_name.error_code(), "CONFLICT");
        assert_eq!(
            same_name.body["errors"][0]["extensions"]["existingId"],
            nec.as_str()
        );
        assert_eq!(app.count_rows("organizations").await, before);

        // Renaming another organization onto the acronym is refused the same way.
        let (other, _) = app.create_org("Electoral Commission", Some("GB")).await;
        let update = app
            .gql(
                Some(&app.admin_token),
                "mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { acronym } } }",
                json!({ "input": { "id": other, "acronym": "Nec" } }),
            )
            .await;
        assert_eq!(update.error_code(), "CONFLICT");
        assert_eq!(update.body["errors"][0]["extensions"]["existingId"], nec.as_str());

        // The CLI's lookup finds the one organization whatever the case.
        let found = embhub::service::clients::find_organization(&app.db, "nec")
            .await
            .expect("the acronym names one organization");
        assert_eq!(found.name, "National Election Commission");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_guarded_by_the_expected_version() {
    each_backend(|app| async move {
        let (id, _) = app.create_org("Electoral Commission", Some("GB")).await;
        let first = app
            .gql(
                Some(&app.admin_token),
                UPDATE,
                json!({ "input": { "id": id, "expectedVersion": 1, "acronym": "EC", "website": "https://www.electoralcommission.org.uk" } }),
            )
            .await;
        assert_eq!(first.data()["updateOrganization"]["organization"]["version"], 2);

        let stale = app
            .gql(Some(&app.admin_token), UPDATE, json!({ "input": { "id": id, "expectedVersion": 1, "acronym": "UKEC" } }))
            .await;
        assert_eq!(stale.error_code(), "CONFLICT");
        assert_eq!(stale.body["errors"][0]["extensions"]["currentVersion"], 2);

        // null clears an optional field; omitted fields stay.
        let cleared = app
            .gql(Some(&app.admin_token), UPDATE, json!({ "input": { "id": id, "website": null } }))
            .await;
        let org = &cleared.data()["updateOrganization"]["organization"];
        assert_eq!(org["website"], json!(null));
        assert_eq!(org["acronym"], "EC");
        assert_eq!(org["version"], 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_change_the_directory() {
    each_backend(|app| async move {
        let (id, org) = app.create_org("Superior Electoral Court", Some("BR")).await;
        let before = app.count_rows("organizations").await;
        for role in [Role::Coordinator, Role::Partner, Role::Reader] {
            let token = app.token_for(org, &[role]).await;
            let create = app
                .gql(
                    Some(&token),
                    CREATE,
                    json!({ "input": { "kind": "NGO", "name": format!("By {role:?}") } }),
                )
                .await;
            assert_eq!(create.error_code(), "FORBIDDEN", "{role:?} create");
            let update = app
                .gql(
                    Some(&token),
                    UPDATE,
                    json!({ "input": { "id": id, "name": "Renamed" } }),
                )
                .await;
            assert_eq!(update.error_code(), "FORBIDDEN", "{role:?} update");
        }
        assert_eq!(app.count_rows("organizations").await, before);
        let read = app
            .gql(Some(&app.admin_token), GET, json!({ "id": id }))
            .await;
        assert_eq!(
            read.data()["organization"]["name"],
            "Superior Electoral Court"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_malformed_and_mistyped_ids_are_distinguished() {
    each_backend(|app| async move {
        let unknown = app
            .gql(
                Some(&app.admin_token),
                GET,
                json!({ "id": global_id("Organization", uuid::Uuid::now_v7()) }),
            )
            .await;
        assert_eq!(unknown.error_code(), "NOT_FOUND");

        let malformed = app
            .gql(Some(&app.admin_token), GET, json!({ "id": "%%%not-an-id" }))
            .await;
        assert_eq!(malformed.error_code(), "BAD_USER_INPUT");
        assert_eq!(malformed.error_field(), "id");

        let mistyped = app
            .gql(
                Some(&app.admin_token),
                GET,
                json!({ "id": global_id("Event", uuid::Uuid::now_v7()) }),
            )
            .await;
        assert_eq!(mistyped.error_code(), "BAD_USER_INPUT");
    })
    .await;
}
