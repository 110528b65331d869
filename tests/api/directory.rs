//! Directory sync: A-WEB's system keeping its ~120 member EMBs in the directory by
//! external id, safely repeated, item by item, racing, and only for its own entries;
//! lookups by external id; invitations by external id; the CLI granting DIRECTORY.

use std::time::Instant;

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{self, Member};
use crate::helpers::{TestApp, each_backend};

const UPSERT: &str = "mutation($input: UpsertOrganizationsInput!) {
    upsertOrganizations(input: $input) {
        created updated unchanged rejected
        results {
            externalId { source id } outcome
            organization { id name acronym countryCode awebMember version externalIds { source id } }
            errors { field message code existingId }
        } } }";

const REGISTER: &str = "mutation($input: RegisterDirectorySourceInput!) {
    registerDirectorySource(input: $input) { directorySource { source steward { id name } } } }";

const LINK: &str = "mutation($input: LinkExternalIdInput!) {
    linkExternalId(input: $input) { organization { id awebMember version externalIds { source id } } } }";

const UNLINK: &str = "mutation($input: UnlinkExternalIdInput!) {
    unlinkExternalId(input: $input) { organization { id awebMember externalIds { source id } } } }";

/// Countries the generated member EMBs serve, in turn.
const COUNTRIES: [&str; 10] = ["KR", "UZ", "BA", "BR", "GB", "US", "KE", "GH", "PH", "ID"];

/// A-WEB, registered as the steward of the AWEB source, and its DIRECTORY client.
struct Steward {
    org: Member,
}

async fn aweb_steward(app: &TestApp) -> Steward {
    steward_of(app, "AWEB", "Association of World Election Bodies").await
}

async fn steward_of(app: &TestApp, source: &str, name: &str) -> Steward {
    let org = fixtures::member(app, name, None, &[Role::Directory]).await;
    let registered = app
        .gql(
            Some(&app.admin_token),
            REGISTER,
            json!({ "input": { "source": source, "stewardOrganizationId": org.id } }),
        )
        .await;
    assert_eq!(
        registered.data()["registerDirectorySource"]["directorySource"]["steward"]["id"],
        org.id.as_str()
    );
    Steward { org }
}

/// The member EMB `n` as A-WEB's list has it.
fn member_item(n: usize) -> Value {
    json!({
        "externalId": format!("AWEB-{n:04}"),
        "kind": "ELECTION_MANAGEMENT_BODY",
        "name": format!("Election Commission {n}"),
        "acronym": format!("EC{n}"),
        "countryCode": COUNTRIES[n % COUNTRIES.len()],
        "website": format!("https://ec{n}.example.org"),
    })
}

fn members(range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(member_item).collect()
}

async fn upsert(
    app: &TestApp,
    token: &str,
    source: &str,
    items: &[Value],
) -> crate::helpers::GqlResponse {
    app.gql(
        Some(token),
        UPSERT,
        json!({ "input": { "source": source, "items": items } }),
    )
    .await
}

fn outcomes(payload: &Value) -> Vec<&str> {
    payload["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_of_120_members_is_idempotent() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        let items = members(0..120);
        let orgs_before = app.count_rows("organizations").await;
        let audit_before = app.count_rows("audit_entries").await;

        let variables = json!({ "input": { "source": "AWEB", "items": items } });
        let started = Instant::now();
        let (first_statements, first) = app.statements_for(&steward.org.token, UPSERT, variables.clone()).await;
        let first_took = started.elapsed();
        let payload = &first.data()["upsertOrganizations"];
        assert_eq!(payload["created"], 120, "{payload}");
        assert!(outcomes(payload).iter().all(|o| *o == "CREATED"));
        let one = &payload["results"][7];
        assert_eq!(
            one["externalId"],
            json!({ "source": "AWEB", "id": "AWEB-0007" })
        );
        assert_eq!(one["organization"]["name"], "Election Commission 7");
        assert_eq!(
            one["organization"]["awebMember"], true,
            "the AWEB source makes members"
        );
        assert_eq!(
            one["organization"]["externalIds"],
            json!([{ "source": "AWEB", "id": "AWEB-0007" }])
        );
        assert_eq!(app.count_rows("organizations").await, orgs_before + 120);
        assert_eq!(app.count_rows("organization_external_ids").await, 120);
        assert_eq!(app.count_rows("audit_entries").await, audit_before + 120);

        // The same list again: nothing to do, nothing written, nothing recorded.
        let started = Instant::now();
        let (second_statements, second) = app.statements_for(&steward.org.token, UPSERT, variables).await;
        let second_took = started.elapsed();
        let payload = &second.data()["upsertOrganizations"];
        assert_eq!(payload["unchanged"], 120, "{payload}");
        assert!(outcomes(payload).iter().all(|o| *o == "UNCHANGED"));
        assert_eq!(payload["results"][7]["organization"]["version"], 1);
        assert_eq!(app.count_rows("organizations").await, orgs_before + 120);
        assert_eq!(app.count_rows("organization_external_ids").await, 120);
        assert_eq!(app.count_rows("audit_entries").await, audit_before + 120);
        println!(
            "120-member upsert on {:?}: first run {first_took:?} ({first_statements} SQL statements), repeat {second_took:?} ({second_statements})",
            app.db.get_database_backend(),
        );
        // Whatever the count: the writes go in a few statements, a repeat only reads.
        assert!(first_statements <= 20, "{first_statements} statements");
        assert!(second_statements <= 12, "{second_statements} statements");

        // One member renamed its website and dropped its acronym: one update,
        // one audit entry; an omitted optional field is cleared.
        let mut changed = items.clone();
        changed[7]["website"] = json!("https://new.ec7.example.org");
        changed[7]
            .as_object_mut()
            .expect("an item object")
            .remove("acronym");
        let third = upsert(&app, &steward.org.token, "AWEB", &changed).await;
        let payload = &third.data()["upsertOrganizations"];
        assert_eq!(
            (payload["updated"].as_i64(), payload["unchanged"].as_i64()),
            (Some(1), Some(119))
        );
        let updated = &payload["results"][7];
        assert_eq!(updated["outcome"], "UPDATED");
        assert_eq!(updated["organization"]["version"], 2);
        assert_eq!(updated["organization"]["acronym"], Value::Null);
        assert_eq!(app.count_rows("audit_entries").await, audit_before + 121);
        let entry = app
            .gql(
                Some(&app.admin_token),
                "query($id: ID!) { auditLog(entityId: $id, first: 1) { nodes { action } } }",
                json!({ "id": updated["organization"]["id"] }),
            )
            .await;
        let entry = &entry.data()["auditLog"]["nodes"][0];
        assert_eq!(entry["action"], "organization.update", "{entry}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_items_are_rejected_one_by_one_and_the_good_ones_written() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        // Entered by an administrator, without an AWEB id.
        let (nec, _) = app.create_org("National Election Commission", Some("KR")).await;
        let first = upsert(&app, &steward.org.token, "AWEB", &members(0..3)).await;
        assert_eq!(first.data()["upsertOrganizations"]["created"], 3);
        let orgs_before = app.count_rows("organizations").await;
        let links_before = app.count_rows("organization_external_ids").await;
        let audit_before = app.count_rows("audit_entries").await;

        let mut invalid_update = member_item(1);
        invalid_update["countryCode"] = json!("XX");
        let mut same_acronym = member_item(50);
        same_acronym["acronym"] = json!("ec0");
        let items = vec![
            member_item(10),                                   // 0: good, created
            json!({ "externalId": "AWEB-0011", "kind": "ELECTION_MANAGEMENT_BODY", "name": "  ", "countryCode": "XX" }),
            json!({ "externalId": "AWEB-0012", "kind": "ELECTION_MANAGEMENT_BODY",
                    "name": "national election COMMISSION", "countryCode": "KR" }), // 2: NEC's name
            same_acronym,                                      // 3: EC0's acronym
            member_item(10),                                   // 4: AWEB-0010 again
            invalid_update,                                    // 5: an existing entry made invalid
            json!({ "externalId": "AWEB-0013", "kind": "ELECTION_MANAGEMENT_BODY",
                    "name": "Election Commission 10", "countryCode": COUNTRIES[0] }), // 6: item 0's name
            json!({ "externalId": "", "kind": "NGO", "name": "Nameless" }),
            member_item(14),                                   // 8: good, created
        ];
        let response = upsert(&app, &steward.org.token, "AWEB", &items).await;
        let payload = &response.data()["upsertOrganizations"];
        assert_eq!(
            outcomes(payload),
            ["CREATED", "REJECTED", "REJECTED", "REJECTED", "REJECTED", "REJECTED", "REJECTED", "REJECTED", "CREATED"],
            "{payload}"
        );
        let errors = |i: usize| payload["results"][i]["errors"].as_array().expect("errors").clone();
        let fields = |i: usize| errors(i).iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(fields(1), ["countryCode", "name"], "every invalid field at once");
        assert!(errors(1).iter().all(|e| e["code"] == "BAD_USER_INPUT"));
        // Matching by name does not take NEC over: refused, naming it.
        assert_eq!(errors(2)[0]["code"], "CONFLICT");
        assert_eq!(errors(2)[0]["field"], "name");
        assert_eq!(errors(2)[0]["existingId"], nec.as_str());
        assert_eq!(payload["results"][2]["organization"], Value::Null);
        assert_eq!(errors(3)[0]["field"], "acronym");
        assert_eq!(
            errors(3)[0]["existingId"],
            first.data()["upsertOrganizations"]["results"][0]["organization"]["id"]
        );
        assert_eq!(fields(4), ["externalId"]);
        assert_eq!(fields(5), ["countryCode"]);
        // A rejected update shows the entry as it still is.
        assert_eq!(payload["results"][5]["organization"]["countryCode"], COUNTRIES[1]);
        assert_eq!(payload["results"][5]["organization"]["version"], 1);
        // A duplicate of an item written earlier in the same call is rolled back alone.
        assert_eq!(errors(6)[0]["code"], "CONFLICT");
        assert_eq!(errors(6)[0]["existingId"], payload["results"][0]["organization"]["id"]);
        assert_eq!(fields(7), ["externalId"]);

        assert_eq!(app.count_rows("organizations").await, orgs_before + 2);
        assert_eq!(app.count_rows("organization_external_ids").await, links_before + 2);
        assert_eq!(app.count_rows("audit_entries").await, audit_before + 2);
        let nec_now = app
            .gql(
                Some(&app.admin_token),
                "query($id: ID!) { organization(id: $id) { version awebMember externalIds { id } } }",
                json!({ "id": nec }),
            )
            .await;
        assert_eq!(
            nec_now.data()["organization"],
            json!({ "version": 1, "awebMember": false, "externalIds": [] })
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_racing_create_no_duplicates() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        let orgs_before = app.count_rows("organizations").await;
        let forward = members(0..60);
        let mut backward = forward.clone();
        backward.reverse();
        let (a, b) = tokio::join!(
            upsert(&app, &steward.org.token, "AWEB", &forward),
            upsert(&app, &steward.org.token, "AWEB", &backward),
        );
        let (a, b) = (
            &a.data()["upsertOrganizations"],
            &b.data()["upsertOrganizations"],
        );
        assert_eq!(
            a["created"].as_i64().unwrap() + b["created"].as_i64().unwrap(),
            60,
            "{a} {b}"
        );
        assert_eq!(
            a["unchanged"].as_i64().unwrap() + b["unchanged"].as_i64().unwrap(),
            60,
            "{a} {b}"
        );
        assert_eq!(app.count_rows("organizations").await, orgs_before + 60);
        assert_eq!(app.count_rows("organization_external_ids").await, 60);
        // Both answers name the same organization for each external id.
        for (i, result) in a["results"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                result["organization"]["id"],
                b["results"][59 - i]["organization"]["id"]
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steward_edits_only_organizations_with_its_external_id() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        let idea = steward_of(&app, "IDEA", "International IDEA").await;
        let (nec, _) = app.create_org("National Election Commission", Some("KR")).await;
        // An entry of another source, which A-WEB did not create.
        let theirs = upsert(
            &app,
            &idea.org.token,
            "IDEA",
            &[json!({ "externalId": "idea-7", "kind": "ELECTION_MANAGEMENT_BODY",
                      "name": "Independent Election Commission", "countryCode": "KE" })],
        )
        .await;
        let theirs = theirs.data()["upsertOrganizations"]["results"][0]["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let attempt = upsert(
            &app,
            &steward.org.token,
            "AWEB",
            &[
                json!({ "externalId": "KR-1", "kind": "ELECTION_MANAGEMENT_BODY",
                        "name": "National Election Commission", "countryCode": "KR", "website": "https://evil.example" }),
                json!({ "externalId": "KE-1", "kind": "ELECTION_MANAGEMENT_BODY",
                        "name": "Independent Election Commission", "countryCode": "KE" }),
            ],
        )
        .await;
        let payload = &attempt.data()["upsertOrganizations"];
        assert_eq!(outcomes(payload), ["REJECTED", "REJECTED"]);
        assert_eq!(payload["results"][0]["errors"][0]["existingId"], nec.as_str());
        assert_eq!(payload["results"][1]["errors"][0]["existingId"], theirs.as_str());
        // Another source's steward cannot write AWEB entries at all.
        let other = upsert(&app, &idea.org.token, "AWEB", &members(0..1)).await;
        assert_eq!(other.error_code(), "FORBIDDEN");

        // Once an administrator links NEC to its AWEB id, A-WEB's sync maintains it.
        let linked = app
            .gql(
                Some(&app.admin_token),
                LINK,
                json!({ "input": { "organizationId": nec, "source": "AWEB", "id": "KR-1" } }),
            )
            .await;
        assert_eq!(
            linked.data()["linkExternalId"]["organization"]["externalIds"],
            json!([{ "source": "AWEB", "id": "KR-1" }])
        );
        assert_eq!(linked.data()["linkExternalId"]["organization"]["awebMember"], true);
        let synced = upsert(
            &app,
            &steward.org.token,
            "AWEB",
            &[json!({ "externalId": "KR-1", "kind": "ELECTION_MANAGEMENT_BODY",
                      "name": "National Election Commission", "countryCode": "KR", "website": "https://www.nec.go.kr" })],
        )
        .await;
        let result = &synced.data()["upsertOrganizations"]["results"][0];
        assert_eq!(result["outcome"], "UPDATED");
        assert_eq!(result["organization"]["id"], nec.as_str());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_directory_clients_of_the_steward_upsert() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        let outsider = fixtures::member(&app, "Some Agency", None, &[Role::Directory]).await;
        let orgs_before = app.count_rows("organizations").await;
        let audit_before = app.count_rows("audit_entries").await;
        for role in [Role::Admin, Role::Coordinator, Role::Partner, Role::Reader] {
            let token = app.token_for(steward.org.uuid, &[role]).await;
            let refused = upsert(&app, &token, "AWEB", &members(0..2)).await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{role:?}");
        }
        let refused = upsert(&app, &outsider.token, "AWEB", &members(0..2)).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        let unknown = upsert(&app, &steward.org.token, "NOPE", &members(0..2)).await;
        assert_eq!(unknown.error_code(), "BAD_USER_INPUT");
        assert_eq!(unknown.error_field(), "source");
        let malformed = upsert(&app, &steward.org.token, "A WEB", &members(0..2)).await;
        assert_eq!(malformed.error_field(), "source");
        assert_eq!(app.count_rows("organizations").await, orgs_before);
        assert_eq!(app.count_rows("audit_entries").await, audit_before);

        // Administering sources and links is for administrators only.
        let as_steward = app
            .gql(
                Some(&steward.org.token),
                REGISTER,
                json!({ "input": { "source": "MINE", "stewardOrganizationId": steward.org.id } }),
            )
            .await;
        assert_eq!(as_steward.error_code(), "FORBIDDEN");
        let link = app
            .gql(
                Some(&steward.org.token),
                LINK,
                json!({ "input": { "organizationId": outsider.id, "source": "AWEB", "id": "X" } }),
            )
            .await;
        assert_eq!(link.error_code(), "FORBIDDEN");
        assert_eq!(app.count_rows("organization_external_ids").await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_takes_at_most_500_items() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        let too_many = upsert(&app, &steward.org.token, "AWEB", &members(0..501)).await;
        assert_eq!(too_many.error_code(), "BAD_USER_INPUT");
        assert_eq!(too_many.error_field(), "items");
        assert_eq!(app.count_rows("organization_external_ids").await, 0);

        let most = upsert(&app, &steward.org.token, "AWEB", &members(0..500)).await;
        assert_eq!(most.data()["upsertOrganizations"]["created"], 500);
        assert_eq!(app.count_rows("organization_external_ids").await, 500);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_are_found_by_external_id_and_filtered_by_source() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        upsert(&app, &steward.org.token, "AWEB", &members(0..5)).await.data();
        app.create_org("Electoral Commission", Some("GB")).await;
        let reader = app.token_for(steward.org.uuid, &[Role::Reader]).await;

        let found = app
            .gql(
                Some(&reader),
                "query($x: ExternalIdInput!) { organization(externalId: $x) { name externalIds { source id } } }",
                json!({ "x": { "source": "aweb", "id": "AWEB-0003" } }),
            )
            .await;
        assert_eq!(found.data()["organization"]["name"], "Election Commission 3");
        let missing = app
            .gql(
                Some(&reader),
                "query($x: ExternalIdInput!) { organization(externalId: $x) { name } }",
                json!({ "x": { "source": "AWEB", "id": "aweb-0003" } }),
            )
            .await;
        assert_eq!(missing.data()["organization"], Value::Null, "ids are exact");
        let both = app
            .gql(
                Some(&reader),
                "query($id: ID!) { organization(id: $id, externalId: { source: \"AWEB\", id: \"AWEB-0001\" }) { name } }",
                json!({ "id": steward.org.id }),
            )
            .await;
        assert_eq!(both.error_code(), "BAD_USER_INPUT");

        let listed = app
            .gql(
                Some(&reader),
                "{ organizations(filter: { source: \"AWEB\" }, first: 100) { totalCount nodes { name awebMember } } }",
                json!({}),
            )
            .await;
        let listed = &listed.data()["organizations"];
        assert_eq!(listed["totalCount"], 5);
        assert!(listed["nodes"].as_array().unwrap().iter().all(|n| n["awebMember"] == true));
        let bad = app
            .gql(Some(&reader), "{ organizations(filter: { source: \"?\" }) { totalCount } }", json!({}))
            .await;
        assert_eq!(bad.error_field(), "filter.source");

        let sources = app
            .gql(Some(&reader), "{ directorySources { source steward { name } } }", json!({}))
            .await;
        assert_eq!(
            sources.data()["directorySources"],
            json!([{ "source": "AWEB", "steward": { "name": "Association of World Election Bodies" } }])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_links_and_unlinks_external_ids() {
    each_backend(|app| async move {
        aweb_steward(&app).await;
        let (nec, _) = app.create_org("National Election Commission", Some("KR")).await;
        let (uz, _) = app.create_org("Central Election Commission", Some("UZ")).await;
        let link = |org: &str, id: &str| {
            json!({ "input": { "organizationId": org, "source": "AWEB", "id": id } })
        };
        app.gql(Some(&app.admin_token), LINK, link(&nec, "KR-1")).await.data();
        let again = app.gql(Some(&app.admin_token), LINK, link(&nec, "KR-1")).await;
        assert_eq!(again.data()["linkExternalId"]["organization"]["version"], 2, "a repeat writes nothing");
        let taken = app.gql(Some(&app.admin_token), LINK, link(&uz, "KR-1")).await;
        assert_eq!(taken.error_code(), "CONFLICT");
        assert_eq!(taken.body["errors"][0]["extensions"]["existingId"], nec.as_str());
        let second = app.gql(Some(&app.admin_token), LINK, link(&nec, "KR-2")).await;
        assert_eq!(second.error_code(), "CONFLICT");
        let unregistered = app
            .gql(
                Some(&app.admin_token),
                LINK,
                json!({ "input": { "organizationId": uz, "source": "NOPE", "id": "1" } }),
            )
            .await;
        assert_eq!(unregistered.error_field(), "source");

        let unlinked = app
            .gql(
                Some(&app.admin_token),
                UNLINK,
                json!({ "input": { "organizationId": nec, "source": "AWEB" } }),
            )
            .await;
        assert_eq!(
            unlinked.data()["unlinkExternalId"]["organization"],
            json!({ "id": nec, "awebMember": false, "externalIds": [] })
        );
        let log = app
            .gql(
                Some(&app.admin_token),
                "query($id: ID!) { auditLog(entityId: $id) { nodes { action } } }",
                json!({ "id": nec }),
            )
            .await;
        let actions: Vec<&str> = log.data()["auditLog"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["organization.unlink_external_id", "organization.link_external_id", "organization.create"]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_invites_30_organizations_by_external_id() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        upsert(&app, &steward.org.token, "AWEB", &members(0..40)).await.data();
        let host = fixtures::member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let event = fixtures::published_event(&app, &host, json!({})).await;
        let external_ids: Vec<Value> = (0..30)
            .map(|n| json!({ "source": "AWEB", "id": format!("AWEB-{n:04}") }))
            .collect();
        let invitations_before = app.count_rows("invitations").await;

        let unknown = app
            .gql(
                Some(&host.token),
                fixtures::INVITE,
                json!({ "input": { "eventId": event, "seatsOffered": 2,
                    "externalIds": [external_ids[0], { "source": "AWEB", "id": "AWEB-9998" }, { "source": "AWEB", "id": "AWEB-9999" }] } }),
            )
            .await;
        assert_eq!(unknown.error_code(), "BAD_USER_INPUT");
        assert_eq!(unknown.error_field(), "externalIds");
        let message = unknown.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("AWEB:AWEB-9998") && message.contains("AWEB:AWEB-9999"), "{message}");
        assert_eq!(app.count_rows("invitations").await, invitations_before);

        let invited = app
            .gql(
                Some(&host.token),
                fixtures::INVITE,
                json!({ "input": { "eventId": event, "seatsOffered": 2, "send": true, "externalIds": external_ids } }),
            )
            .await;
        let invitations = invited.data()["inviteOrganizations"]["invitations"].as_array().unwrap().clone();
        assert_eq!(invitations.len(), 30);
        assert_eq!(invitations[5]["organization"]["name"], "Election Commission 5");
        assert!(invitations.iter().all(|i| i["status"] == "SENT"));
        assert_eq!(app.count_rows("invitations").await, invitations_before + 30);

        // A partner cannot invite, whatever it names.
        let partner = app.token_for(host.uuid, &[Role::Partner]).await;
        let refused = app
            .gql(
                Some(&partner),
                fixtures::INVITE,
                json!({ "input": { "eventId": event, "seatsOffered": 2, "externalIds": [external_ids[0]] } }),
            )
            .await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_grants_the_directory_role() {
    each_backend(|app| async move {
        let steward = aweb_steward(&app).await;
        app.gql(
            Some(&app.admin_token),
            "mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { acronym } } }",
            json!({ "input": { "id": steward.org.id, "acronym": "A-WEB" } }),
        )
        .await
        .data();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_embhub"))
            .args(["--database-url", &app.database_url])
            .arg("--data-dir")
            .arg(&app.data_dir)
            .args(["client", "create", "--org", "a-web", "--role", "DIRECTORY", "--name", "A-WEB member sync", "--json"])
            .output()
            .expect("embhub client create");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let created: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
        assert_eq!(created["roles"], json!(["DIRECTORY"]));
        let token = app
            .token(&crate::helpers::Credentials {
                client_id: created["client_id"].as_str().unwrap().parse().unwrap(),
                secret: created["client_secret"].as_str().unwrap().to_owned(),
            })
            .await;
        let viewer = app.gql(Some(&token), "{ viewer { roles organization { acronym } } }", json!({})).await;
        assert_eq!(
            viewer.data()["viewer"],
            json!({ "roles": ["DIRECTORY"], "organization": { "acronym": "A-WEB" } })
        );
        let synced = upsert(&app, &token, "AWEB", &members(0..1)).await;
        assert_eq!(synced.data()["upsertOrganizations"]["created"], 1);
    })
    .await;
}
