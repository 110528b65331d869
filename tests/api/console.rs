//! What a staff console and a partner system read: the participation summary and
//! the example operations in `examples/`.

use std::collections::BTreeMap;

use embhub::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend};

/// The uuid of the demo organization with `acronym`.
async fn demo_org(app: &TestApp, acronym: &str) -> uuid::Uuid {
    use embhub::entity::organization;
    organization::Entity::find()
        .filter(organization::Column::Acronym.eq(acronym))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("demo organization {acronym}"))
        .id
}

const SUMMARY_AND_LISTS: &str = "query($host: ID!) { events(first: 5, filter: { hostId: $host }) { nodes { id title
    participationSummary {
        invitations { status count } applications { status count } delegations { status count }
        seatsOffered seatsAccepted seatsFilled fundedSeatsOffered fundedSeatsFilled participantsNeedingVisaSupport }
    invitations(first: 40) { totalCount nodes { status seatsOffered seatsAccepted fundedSeats } }
    applications(first: 20) { totalCount nodes { status } }
    delegations(first: 10) { totalCount nodes { status participants(first: 10) { nodes { funded needsVisaSupport } } } } } } }";

fn tally(nodes: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for node in nodes.as_array().unwrap() {
        *out.entry(node["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    out
}

fn by_status(counts: &Value) -> BTreeMap<String, u64> {
    counts
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["count"].as_u64().unwrap() > 0)
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Checks every event's summary against what listing its rows counts; returns
/// the invitations by status over all events.
fn check_summaries(events: &Value) -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for event in events["nodes"].as_array().unwrap() {
        let summary = &event["participationSummary"];
        let invitations = &event["invitations"]["nodes"];
        let title = event["title"].as_str().unwrap();
        assert_eq!(
            by_status(&summary["invitations"]),
            tally(invitations),
            "{title}"
        );
        assert_eq!(
            summary["invitations"].as_array().unwrap().len(),
            6,
            "every status listed"
        );
        assert_eq!(
            by_status(&summary["applications"]),
            tally(&event["applications"]["nodes"]),
            "{title}"
        );
        assert_eq!(
            by_status(&summary["delegations"]),
            tally(&event["delegations"]["nodes"]),
            "{title}"
        );
        let (mut offered, mut accepted, mut funded_offered) = (0, 0, 0);
        for i in invitations.as_array().unwrap() {
            let status = i["status"].as_str().unwrap();
            if status != "DRAFT" && status != "WITHDRAWN" {
                offered += i["seatsOffered"].as_u64().unwrap();
                funded_offered += i["fundedSeats"].as_u64().unwrap();
            }
            if status == "ACCEPTED" {
                accepted += i["seatsAccepted"]
                    .as_u64()
                    .or(i["seatsOffered"].as_u64())
                    .unwrap();
            }
        }
        let (mut filled, mut funded_filled, mut visa) = (0, 0, 0);
        for d in event["delegations"]["nodes"].as_array().unwrap() {
            if d["status"] == "CANCELLED" {
                continue;
            }
            for p in d["participants"]["nodes"].as_array().unwrap() {
                filled += 1;
                funded_filled += u64::from(p["funded"] == true);
                visa += u64::from(p["needsVisaSupport"] == true);
            }
        }
        assert_eq!(summary["seatsOffered"], offered, "{title}");
        assert_eq!(summary["seatsAccepted"], accepted, "{title}");
        assert_eq!(summary["fundedSeatsOffered"], funded_offered, "{title}");
        assert_eq!(summary["seatsFilled"], filled, "{title}");
        assert_eq!(summary["fundedSeatsFilled"], funded_filled, "{title}");
        assert_eq!(summary["participantsNeedingVisaSupport"], visa, "{title}");
        for (status, n) in tally(invitations) {
            *all.entry(status).or_default() += n;
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_participation_summary_equals_what_listing_counts() {
    each_backend(|app| async move {
        embhub::seed::demo(&app.db, &app.personal_data)
            .await
            .expect("demo seed");
        let nec = demo_org(&app, "NEC").await;
        let host_id = embhub::graphql::global_id("Organization", nec);

        // The host's coordinator: every invitation state appears, and each
        // event's summary equals its lists.
        let coordinator = app.token_for(nec, &[Role::Coordinator]).await;
        let seen = app
            .gql(
                Some(&coordinator),
                SUMMARY_AND_LISTS,
                json!({ "host": host_id }),
            )
            .await;
        let events = &seen.data()["events"];
        for event in events["nodes"].as_array().unwrap() {
            for list in ["invitations", "applications", "delegations"] {
                let shown = event[list]["nodes"].as_array().unwrap().len() as u64;
                assert_eq!(
                    event[list]["totalCount"], shown,
                    "the whole {list} list is compared"
                );
            }
        }
        let all = check_summaries(events);
        for status in [
            "DRAFT",
            "SENT",
            "ACCEPTED",
            "DECLINED",
            "WITHDRAWN",
            "EXPIRED",
        ] {
            assert!(
                all.get(status).copied().unwrap_or(0) > 0,
                "a {status} invitation in {all:?}"
            );
        }

        // A partner's summary counts only its own participation, like its lists.
        let uz = demo_org(&app, "CEC UZ").await;
        let partner = app.token_for(uz, &[Role::Partner]).await;
        let partner_view = app
            .gql(
                Some(&partner),
                SUMMARY_AND_LISTS,
                json!({ "host": host_id }),
            )
            .await;
        let mine = check_summaries(&partner_view.data()["events"]);
        assert!(mine.values().sum::<u64>() < all.values().sum::<u64>());
        assert!(!mine.contains_key("DRAFT"), "a partner never counts drafts");
    })
    .await;
}

/// The example operations, by file name.
fn examples() -> BTreeMap<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/operations");
    std::fs::read_dir(dir)
        .expect("examples/operations exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn id_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[*key],
        })
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_operation_validates_and_runs_on_the_demo_world() {
    each_backend(|app| async move {
        embhub::seed::demo(&app.db, &app.personal_data).await.expect("demo seed");
        let examples = examples();
        assert!(examples.len() >= 12, "at least 12 examples: {:?}", examples.keys());
        let nec = demo_org(&app, "NEC").await;
        let coordinator = app.token_for(nec, &[Role::Coordinator]).await;
        let uk = app.token_for(demo_org(&app, "UKEC").await, &[Role::Partner]).await;
        let uz = app.token_for(demo_org(&app, "CEC UZ").await, &[Role::Partner]).await;
        let host_id = embhub::graphql::global_id("Organization", nec);

        let mut ran = Vec::new();
        let mut run = |name: &str, token: &str, variables: Value| {
            ran.push(name.to_owned());
            let document = examples
                .get(name)
                .unwrap_or_else(|| panic!("examples/operations/{name}.graphql"))
                .clone();
            let app = &app;
            let token = token.to_owned();
            async move {
                let response = app.gql(Some(&token), &document, variables).await;
                response.data().clone()
            }
        };

        run("Viewer", &uz, json!({})).await;
        let dashboard = run("PartnerDashboard", &uz, json!({})).await;
        assert!(dashboard["invitations"]["totalCount"].as_u64().unwrap() > 0);
        let events = run("EventList", &coordinator, json!({ "hostId": host_id, "from": "1900-01-01" })).await;
        let program = events["events"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "ELECTION_VISITOR_PROGRAM")
            .expect("the visitor program")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let seminar = events["events"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "SEMINAR")
            .expect("the seminar")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let page = run("EventPage", &coordinator, json!({ "id": program })).await;
        assert!(page["event"]["invitations"]["totalCount"].as_u64().unwrap() > 0);
        let delegations = run("EventDelegations", &coordinator, json!({ "id": program })).await;
        assert!(delegations["event"]["delegations"]["totalCount"].as_u64().unwrap() > 0);
        let pending = run("PendingApplications", &coordinator, json!({ "eventId": seminar })).await;
        let application = id_at(&pending, &["event", "applications", "nodes", "0", "id"]).to_owned();
        let directory = run("OrganizationDirectory", &uk, json!({ "search": "IFES" })).await;
        let ifes = id_at(&directory, &["organizations", "nodes", "0", "id"]).to_owned();
        let node = run("NodeLookup", &coordinator, json!({ "id": program })).await;
        assert_eq!(node["node"]["id"], program.as_str());
        run("DelegationsCatchUp", &uz, json!({ "since": "2000-01-01T00:00:00Z" })).await;
        let invited = run(
            "InviteOrganizations",
            &coordinator,
            json!({ "eventId": program, "organizationIds": [ifes] }),
        )
        .await;
        assert_eq!(invited["inviteOrganizations"]["invitations"][0]["status"], "SENT");
        let uk_dashboard = run("PartnerDashboard", &uk, json!({})).await;
        let sent = uk_dashboard["invitations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["status"] == "SENT")
            .expect("the UK's invitation awaiting an answer")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let answered = run("AnswerInvitation", &uk, json!({ "id": sent, "accept": true, "seats": 1 })).await;
        let delegation = id_at(&answered, &["respondToInvitation", "invitation", "delegation", "id"]).to_owned();
        let member = run(
            "RegisterDelegationMember",
            &uk,
            json!({ "delegationId": delegation, "fullName": "Jane Example", "nationality": "GB", "dateOfBirth": "1980-02-29" }),
        )
        .await;
        assert_eq!(member["addParticipant"]["participant"]["dateOfBirth"], "1980-02-29");
        let decided = run("DecideApplication", &coordinator, json!({ "id": application, "accept": true })).await;
        assert_eq!(decided["decideApplication"]["application"]["status"], "ACCEPTED");
        let aweb = embhub::graphql::global_id("Organization", demo_org(&app, "A-WEB").await);
        let granted = run(
            "GrantCoHostPermissions",
            &coordinator,
            json!({ "eventId": program, "organizationId": aweb, "permissions": ["INVITE", "VIEW_ACTIVITY"] }),
        )
        .await;
        assert_eq!(
            granted["updateCoHostPermissions"]["event"]["coHosts"][0]["permissions"],
            json!(["INVITE", "VIEW_ACTIVITY"])
        );
        let found = run("InvitationSearch", &coordinator, json!({ "eventId": program, "search": "uzb" })).await;
        let found = found["invitations"]["nodes"].as_array().unwrap();
        assert_eq!(found.len(), 1, "Uzbekistan's invitation: {found:?}");
        let activity = run("EventActivity", &coordinator, json!({ "id": program })).await;
        let entries = activity["event"]["activity"]["nodes"].as_array().unwrap();
        let registered = entries
            .iter()
            .find(|e| e["action"] == "PARTICIPANT_ADDED")
            .unwrap_or_else(|| panic!("the UK's new member in the activity: {entries:?}"));
        assert_eq!(registered["actor"]["organization"]["name"], "The Electoral Commission");
        assert!(!registered["changes"].to_string().contains("1980-02-29"), "no personal data");

        // A-WEB's system, once an administrator made A-WEB the AWEB source's steward.
        let aweb = demo_org(&app, "A-WEB").await;
        app.gql(
            Some(&app.admin_token),
            "mutation($steward: ID!) { registerDirectorySource(input: { source: \"AWEB\", stewardOrganizationId: $steward }) { directorySource { source } } }",
            json!({ "steward": embhub::graphql::global_id("Organization", aweb) }),
        )
        .await
        .data();
        let directory = app.token_for(aweb, &[Role::Directory]).await;
        let items = json!([
            { "externalId": "AWEB-IQ", "kind": "ELECTION_MANAGEMENT_BODY", "countryCode": "IQ",
              "name": "Independent High Electoral Commission", "acronym": "IHEC" },
        ]);
        let synced = run("SyncDirectory", &directory, json!({ "source": "AWEB", "items": items })).await;
        assert_eq!(synced["upsertOrganizations"]["created"], 1);
        let found = run("OrganizationByExternalId", &uk, json!({ "source": "AWEB", "id": "AWEB-IQ" })).await;
        assert_eq!(found["organization"]["awebMember"], true);
        let invited = run(
            "InviteByExternalId",
            &coordinator,
            json!({ "eventId": program, "externalIds": [{ "source": "AWEB", "id": "AWEB-IQ" }] }),
        )
        .await;
        assert_eq!(invited["inviteOrganizations"]["invitations"][0]["status"], "SENT");

        let mut every: Vec<String> = examples.keys().cloned().collect();
        every.sort();
        ran.sort();
        ran.dedup();
        assert_eq!(ran, every, "every example runs in this test");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_invisible_id_is_null_with_not_found_and_keeps_the_rest_of_data() {
    each_backend(|app| async move {
        embhub::seed::demo(&app.db, &app.personal_data)
            .await
            .expect("demo seed");
        let nec = demo_org(&app, "NEC").await;
        let coordinator = app.token_for(nec, &[Role::Coordinator]).await;
        let drafts = app
            .gql(
                Some(&coordinator),
                "{ invitations(filter: { statuses: [DRAFT] }) { nodes { id } } }",
                json!({}),
            )
            .await;
        let draft = drafts.data()["invitations"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let unknown_event = embhub::graphql::global_id("Event", uuid::Uuid::new_v4());
        let unknown_org = embhub::graphql::global_id("Organization", uuid::Uuid::new_v4());
        let partner = app
            .token_for(demo_org(&app, "UKEC").await, &[Role::Partner])
            .await;

        let query = "query($draft: ID!, $event: ID!, $org: ID!) {
            hidden: node(id: $draft) { id } missing: node(id: $event) { id }
            event(id: $event) { id } organization(id: $org) { id } viewer { roles } }";
        let response = app
            .gql(
                Some(&partner),
                query,
                json!({ "draft": draft, "event": unknown_event, "org": unknown_org }),
            )
            .await;
        assert_eq!(response.status, 200);
        let body = &response.body;
        let data = &body["data"];
        for field in ["hidden", "missing", "event", "organization"] {
            assert_eq!(data[field], Value::Null, "{field} is null");
        }
        assert_eq!(
            data["viewer"]["roles"],
            json!(["PARTNER"]),
            "the rest of data stays"
        );
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 4);
        for error in errors {
            assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
        }
        // The host itself sees its draft.
        let own = app
            .gql(
                Some(&coordinator),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": draft }),
            )
            .await;
        assert_eq!(own.data()["node"]["id"], draft.as_str());
    })
    .await;
}
