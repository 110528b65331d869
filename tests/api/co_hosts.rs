//! Co-hosts who act as far as the host lets them: the permissions the host grants
//! a co-host per event (INVITE, MANAGE_AGENDA, REVIEW_APPLICATIONS, VIEW_ACTIVITY),
//! told on the demo world, where A-WEB co-hosts the Election Visitor Program and
//! KOICA the Seminar, both read-only until the NEC grants them more.

use embhub::auth::Role;
use embhub::feed::FeedItem;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, each_backend, global_id, global_uuid};

const PERMISSIONS: &str = "mutation($input: UpdateCoHostPermissionsInput!) {
    updateCoHostPermissions(input: $input) { event { id version
        coHosts { organization { acronym } permissions addedAt } } } }";
const INVITE: &str = "mutation($input: InviteOrganizationsInput!) {
    inviteOrganizations(input: $input) { invitations { id status organization { acronym } } } }";
const SEND: &str =
    "mutation($id: ID!) { sendInvitation(input: { id: $id }) { invitation { id status } } }";
const WITHDRAW: &str = "mutation($id: ID!) {
    withdrawInvitation(input: { id: $id, note: \"Seats went to member EMBs\" }) { invitation { id status } } }";
const ADD_SESSION: &str =
    "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id title } } }";
const UPDATE_SESSION: &str = "mutation($input: UpdateSessionInput!) {
    updateSession(input: $input) { session { id title location } } }";
const DECIDE_APPLICATION: &str = "mutation($id: ID!, $accept: Boolean!) {
    decideApplication(input: { id: $id, accept: $accept }) { application { id status invitation { delegation { id } } } } }";
const DECIDE_PRESENTATION: &str = "mutation($id: ID!) {
    decidePresentation(input: { id: $id, accept: true }) { presentation { id status } } }";
const ACTIVITY: &str = "query($id: ID!) { event(id: $id) { activity(first: 50) { nodes { action actor { organization { acronym } } changes { field before after } } } } }";
const AUDIT: &str = "query($id: ID!) { auditLog(entityId: $id) { nodes { action actorClientId actorOrganization { acronym } } } }";

/// The demo world with a coordinator client for the NEC, A-WEB and KOICA.
struct Demo {
    nec: Uuid,
    aweb: Uuid,
    koica: Uuid,
    host: String,
    aweb_client: Uuid,
    aweb_token: String,
    koica_client: Uuid,
    koica_token: String,
    program: String,
    seminar: String,
}

async fn org(app: &TestApp, acronym: &str) -> Uuid {
    use embhub::entity::organization;
    organization::Entity::find()
        .filter(organization::Column::Acronym.eq(acronym))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("demo organization {acronym}"))
        .id
}

async fn demo(app: &TestApp) -> Demo {
    embhub::seed::demo(&app.db, &app.personal_data)
        .await
        .expect("demo seed");
    let (nec, aweb, koica) = (
        org(app, "NEC").await,
        org(app, "A-WEB").await,
        org(app, "KOICA").await,
    );
    let host = app.token_for(nec, &[Role::Coordinator]).await;
    let aweb_credentials = app.create_client(aweb, &[Role::Coordinator]).await;
    let koica_credentials = app.create_client(koica, &[Role::Coordinator]).await;
    let events = app
        .gql(
            Some(&host),
            "{ events { nodes { id kind coHosts { organization { acronym } permissions addedAt } } } }",
            json!({}),
        )
        .await;
    let event = |kind: &str| -> Value {
        events.data()["events"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("the demo's {kind}"))
            .clone()
    };
    let (program, seminar) = (event("ELECTION_VISITOR_PROGRAM"), event("SEMINAR"));
    // The demo's co-hosts start read-only.
    assert_eq!(program["coHosts"][0]["organization"]["acronym"], "A-WEB");
    assert_eq!(program["coHosts"][0]["permissions"], json!([]));
    assert!(program["coHosts"][0]["addedAt"].as_str().is_some());
    assert_eq!(seminar["coHosts"][0]["organization"]["acronym"], "KOICA");
    Demo {
        nec,
        aweb,
        koica,
        host,
        aweb_client: aweb_credentials.client_id,
        aweb_token: app.token(&aweb_credentials).await,
        koica_client: koica_credentials.client_id,
        koica_token: app.token(&koica_credentials).await,
        program: program["id"].as_str().unwrap().to_owned(),
        seminar: seminar["id"].as_str().unwrap().to_owned(),
    }
}

/// Sets `co_host`'s permissions at `event` as `token`; returns the raw response.
async fn grant(
    app: &TestApp,
    token: &str,
    event: &str,
    co_host: Uuid,
    permissions: &[&str],
) -> crate::helpers::GqlResponse {
    app.gql(
        Some(token),
        PERMISSIONS,
        json!({ "input": { "eventId": event, "organizationId": global_id("Organization", co_host),
            "permissions": permissions } }),
    )
    .await
}

fn message(response: &crate::helpers::GqlResponse) -> String {
    response.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The audit entries of `entity` as the database holds them: (action, actor
/// organization, actor client), oldest first.
async fn audit_rows(app: &TestApp, entity: &str) -> Vec<(String, Option<Uuid>, Option<Uuid>)> {
    use embhub::entity::audit_entry;
    audit_entry::Entity::find()
        .filter(audit_entry::Column::EntityId.eq(global_uuid(entity)))
        .order_by_asc(audit_entry::Column::CreatedAt)
        .order_by_asc(audit_entry::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.actor_organization_id, e.actor_client_id))
        .collect()
}

/// The next change to an invitation the feed announces (what subscriptions and
/// webhooks start from); changes to events (the grants) are skipped.
async fn next_invitation_change(
    feed: &mut tokio::sync::broadcast::Receiver<FeedItem>,
) -> std::sync::Arc<embhub::feed::Notice> {
    loop {
        let item = tokio::time::timeout(std::time::Duration::from_secs(5), feed.recv())
            .await
            .expect("a change within 5 s")
            .expect("the feed is open");
        if let FeedItem::Change(notice) = item
            && notice.announcement.topic == embhub::service::changes::Topic::Invitation
        {
            return notice;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_invites_for_the_visitor_program_once_the_nec_grants_it_and_no_longer_after() {
    each_backend(|app| async move {
        let d = demo(&app).await;
        let ifes = global_id("Organization", org(&app, "IFES").await);
        let idea = global_id("Organization", org(&app, "International IDEA").await);
        let invite = |orgs: Vec<String>, send: bool| {
            json!({ "input": { "eventId": d.program, "organizationIds": orgs, "seatsOffered": 2, "send": send } })
        };

        // Read-only: A-WEB sees the program but may not invite for it.
        let invitations = app.count_rows("invitations").await;
        let refused = app.gql(Some(&d.aweb_token), INVITE, invite(vec![ifes.clone()], false)).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert!(message(&refused).contains("INVITE"), "names the permission: {}", message(&refused));
        assert_eq!(app.count_rows("invitations").await, invitations, "nothing written");

        // Nor can it grant itself the permission, or anything to anyone.
        let version = app
            .gql(Some(&d.host), "query($id: ID!) { event(id: $id) { version } }", json!({ "id": d.program }))
            .await
            .data()["event"]["version"]
            .clone();
        let self_grant = grant(&app, &d.aweb_token, &d.program, d.aweb, &["INVITE"]).await;
        assert_eq!(self_grant.error_code(), "FORBIDDEN");
        let re_add = app
            .gql(Some(&d.aweb_token), "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
                json!({ "input": { "eventId": d.program, "organizationId": global_id("Organization", d.koica), "permissions": ["INVITE"] } }))
            .await;
        assert_eq!(re_add.error_code(), "FORBIDDEN");

        // The NEC grants A-WEB INVITE: every console sees who may do what.
        let granted = grant(&app, &d.host, &d.program, d.aweb, &["INVITE"]).await;
        let event = &granted.data()["updateCoHostPermissions"]["event"];
        assert_eq!(event["coHosts"][0]["permissions"], json!(["INVITE"]));
        assert_eq!(event["version"], version.as_i64().unwrap() + 1, "the event's version moves");
        let again = grant(&app, &d.host, &d.program, d.aweb, &["INVITE", "INVITE"]).await;
        assert_eq!(again.data()["updateCoHostPermissions"]["event"]["version"], event["version"], "the same grant twice changes nothing");

        // A-WEB invites two bodies as drafts, sends one and withdraws the other.
        let mut feed = app.feed.subscribe();
        let invited = app.gql(Some(&d.aweb_token), INVITE, invite(vec![ifes.clone(), idea.clone()], false)).await;
        let invited = invited.data()["inviteOrganizations"]["invitations"].as_array().unwrap().clone();
        assert_eq!(invited.len(), 2);
        assert!(invited.iter().all(|i| i["status"] == "DRAFT"));
        let (to_ifes, to_idea) = (invited[0]["id"].as_str().unwrap(), invited[1]["id"].as_str().unwrap());
        for _ in 0..2 {
            let created = next_invitation_change(&mut feed).await;
            assert_eq!(created.announcement.kind, "INVITATION_CREATED");
        }
        let sent = app.gql(Some(&d.aweb_token), SEND, json!({ "id": to_ifes })).await;
        assert_eq!(sent.data()["sendInvitation"]["invitation"]["status"], "SENT");
        // The same announcement as a host's send: IFES hears of its invitation.
        let notice = next_invitation_change(&mut feed).await;
        assert_eq!(notice.announcement.kind, "INVITATION_SENT");
        assert_eq!(notice.announcement.subject_id, global_uuid(to_ifes));
        for audience in [org(&app, "IFES").await, d.nec, d.aweb] {
            assert!(notice.audience.includes(audience), "{audience} is told");
        }
        let withdrawn = app.gql(Some(&d.aweb_token), WITHDRAW, json!({ "id": to_idea })).await;
        assert_eq!(withdrawn.data()["withdrawInvitation"]["invitation"]["status"], "WITHDRAWN");
        assert_eq!(next_invitation_change(&mut feed).await.announcement.kind, "INVITATION_WITHDRAWN");
        let ifes_sees = app.token_for(org(&app, "IFES").await, &[Role::Partner]).await;
        let seen = app.gql(Some(&ifes_sees), "query($id: ID!) { node(id: $id) { ... on Invitation { status } } }", json!({ "id": to_ifes })).await;
        assert_eq!(seen.data()["node"]["status"], "SENT");

        // Each change is audited as A-WEB's, by its client (the database says so,
        // and so does the host's audit log).
        for (invitation, actions) in [(to_ifes, ["invitation.create", "invitation.send"]), (to_idea, ["invitation.create", "invitation.withdraw"])] {
            let rows = audit_rows(&app, invitation).await;
            assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), actions);
            assert!(rows.iter().all(|r| r.1 == Some(d.aweb) && r.2 == Some(d.aweb_client)), "{rows:?}");
        }
        let log = app.gql(Some(&d.host), AUDIT, json!({ "id": to_ifes })).await;
        let newest = &log.data()["auditLog"]["nodes"][0];
        assert_eq!(newest["action"], "invitation.send");
        assert_eq!(newest["actorOrganization"]["acronym"], "A-WEB");
        assert_eq!(newest["actorClientId"], global_id("ApiClient", d.aweb_client));

        // A co-host does not offer its own organization seats, and the grant
        // covers invitations only.
        let own = app.gql(Some(&d.aweb_token), INVITE, invite(vec![global_id("Organization", d.aweb)], true)).await;
        assert_eq!(own.error_field(), "organizationIds");
        let session = app
            .gql(Some(&d.aweb_token), ADD_SESSION, json!({ "input": { "eventId": d.program, "kind": "LECTURE",
                "title": "A-WEB lecture", "startsAt": "2100-01-01T00:00:00Z", "endsAt": "2100-01-01T01:00:00Z" } }))
            .await;
        assert_eq!(session.error_code(), "FORBIDDEN");
        assert!(message(&session).contains("MANAGE_AGENDA"), "{}", message(&session));

        // The NEC takes the permission back: FORBIDDEN again, nothing written.
        let revoked = grant(&app, &d.host, &d.program, d.aweb, &[]).await;
        assert_eq!(revoked.data()["updateCoHostPermissions"]["event"]["coHosts"][0]["permissions"], json!([]));
        let invitations = app.count_rows("invitations").await;
        for (query, variables) in [
            (INVITE, invite(vec![global_id("Organization", d.koica)], true)),
            (SEND, json!({ "id": to_ifes })),
            (WITHDRAW, json!({ "id": to_ifes })),
        ] {
            let refused = app.gql(Some(&d.aweb_token), query, variables).await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{query}");
        }
        assert_eq!(app.count_rows("invitations").await, invitations);
        let still = app.gql(Some(&d.host), "query($id: ID!) { node(id: $id) { ... on Invitation { status } } }", json!({ "id": to_ifes })).await;
        assert_eq!(still.data()["node"]["status"], "SENT");
        // The permission changes are audited as the NEC's, on the event.
        let changes: Vec<_> = audit_rows(&app, &d.program)
            .await
            .into_iter()
            .filter(|r| r.0 == "event.update_co_host_permissions")
            .collect();
        assert_eq!(changes.len(), 2, "granted, then taken back");
        assert!(changes.iter().all(|r| r.1 == Some(d.nec)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn koica_runs_the_seminar_agenda_and_reviews_applications_as_far_as_it_is_granted() {
    each_backend(|app| async move {
        let d = demo(&app).await;
        let start = app
            .gql(Some(&d.host), "query($id: ID!) { event(id: $id) { startDate } }", json!({ "id": d.seminar }))
            .await
            .data()["event"]["startDate"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = |hour: u32| format!("{start}T{hour:02}:00:00Z");
        let session_input = json!({ "input": { "eventId": d.seminar, "kind": "PRESENTATIONS",
            "title": "Development cooperation in electoral assistance", "startsAt": at(5), "endsAt": at(7) } });
        let pending = app
            .gql(Some(&d.koica_token), "query($id: ID!) { event(id: $id) { applications(filter: { statuses: [SUBMITTED] }) { nodes { id organization { acronym } } } } }",
                json!({ "id": d.seminar }))
            .await;
        let application = pending.data()["event"]["applications"]["nodes"][0].clone();
        assert_eq!(application["organization"]["acronym"], "CEC BiH");
        let application = application["id"].as_str().unwrap().to_owned();

        // Without grants: FORBIDDEN, naming what is missing.
        let sessions = app.count_rows("sessions").await;
        for (query, variables, permission) in [
            (ADD_SESSION, session_input.clone(), "MANAGE_AGENDA"),
            (DECIDE_APPLICATION, json!({ "id": application, "accept": true }), "REVIEW_APPLICATIONS"),
            (AUDIT, json!({ "id": d.seminar }), "VIEW_ACTIVITY"),
        ] {
            let refused = app.gql(Some(&d.koica_token), query, variables).await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{permission}");
            assert!(message(&refused).contains(permission), "{}", message(&refused));
        }
        assert_eq!(app.count_rows("sessions").await, sessions);
        assert_eq!(app.count_rows("delegations").await, 1, "only the demo's Uzbek delegation");
        let feed = app.gql(Some(&d.koica_token), ACTIVITY, json!({ "id": d.seminar })).await;
        assert_eq!(feed.data()["event"]["activity"], Value::Null, "no activity without VIEW_ACTIVITY");

        // MANAGE_AGENDA: KOICA adds its session and edits it.
        grant(&app, &d.host, &d.seminar, d.koica, &["MANAGE_AGENDA"]).await.data();
        let added = app.gql(Some(&d.koica_token), ADD_SESSION, session_input).await;
        let session = added.data()["addSession"]["session"]["id"].as_str().unwrap().to_owned();
        let edited = app
            .gql(Some(&d.koica_token), UPDATE_SESSION, json!({ "input": { "id": session, "location": "KOICA hall", "expectedVersion": 1 } }))
            .await;
        assert_eq!(edited.data()["updateSession"]["session"]["location"], "KOICA hall");
        let rows = audit_rows(&app, &session).await;
        assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["session.add", "session.update"]);
        assert!(rows.iter().all(|r| r.1 == Some(d.koica) && r.2 == Some(d.koica_client)), "{rows:?}");
        // Reviewing applications is another grant.
        let refused = app.gql(Some(&d.koica_token), DECIDE_APPLICATION, json!({ "id": application, "accept": true })).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");

        // Every permission: KOICA accepts Bosnia and Herzegovina's application
        // (forming its delegation) and, once it proposes a presentation for
        // KOICA's session, accepts that too.
        grant(&app, &d.host, &d.seminar, d.koica, &["INVITE", "MANAGE_AGENDA", "REVIEW_APPLICATIONS", "VIEW_ACTIVITY"]).await.data();
        let decided = app.gql(Some(&d.koica_token), DECIDE_APPLICATION, json!({ "id": application, "accept": true })).await;
        let decided = &decided.data()["decideApplication"]["application"];
        assert_eq!(decided["status"], "ACCEPTED");
        let delegation = decided["invitation"]["delegation"]["id"].as_str().unwrap().to_owned();
        let bih = app.token_for(org(&app, "CEC BiH").await, &[Role::Partner]).await;
        let member = crate::fixtures::add_participant(&app, &bih, &delegation, "Amra Hadžić", true).await;
        let member = member.data()["addParticipant"]["participant"]["id"].as_str().unwrap().to_owned();
        app.gql(Some(&bih), "mutation($id: ID!) { updateParticipant(input: { id: $id, dietaryNeeds: \"halal\" }) { participant { id } } }",
            json!({ "id": member })).await.data();
        let proposed = app
            .gql(Some(&bih), "mutation($input: ProposePresentationInput!) { proposePresentation(input: $input) { presentation { id status } } }",
                json!({ "input": { "sessionId": session, "delegationId": delegation, "presenterId": member, "title": "Reforming the electoral law of BiH" } }))
            .await;
        let presentation = proposed.data()["proposePresentation"]["presentation"]["id"].as_str().unwrap().to_owned();
        let accepted = app.gql(Some(&d.koica_token), DECIDE_PRESENTATION, json!({ "id": presentation })).await;
        assert_eq!(accepted.data()["decidePresentation"]["presentation"]["status"], "ACCEPTED");
        for (entity, action) in [(&application, "application.accept"), (&presentation, "presentation.accept")] {
            let rows = audit_rows(&app, entity).await;
            let row = rows.iter().find(|r| r.0 == action).unwrap_or_else(|| panic!("{action} in {rows:?}"));
            assert_eq!((row.1, row.2), (Some(d.koica), Some(d.koica_client)), "{action}");
        }

        // VIEW_ACTIVITY: KOICA reads the audit trail of the seminar's records,
        // never the personal data in them (there is none).
        for (entity, action) in [(&d.seminar, None), (&session, Some("session.update")), (&application, Some("application.accept")), (&member, Some("participant.update"))] {
            let log = app.gql(Some(&d.koica_token), AUDIT, json!({ "id": entity })).await;
            let nodes = log.data()["auditLog"]["nodes"].as_array().unwrap().clone();
            assert!(!nodes.is_empty(), "{entity}");
            if let Some(action) = action {
                assert_eq!(nodes[0]["action"], action);
            }
            let text = log.body.to_string();
            for secret in ["FA1234567", "1980-01-02", "halal"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        // The activity feed too, in API form and without personal data.
        let feed = app.gql(Some(&d.koica_token), ACTIVITY, json!({ "id": d.seminar })).await;
        let entries = feed.data()["event"]["activity"]["nodes"].as_array().unwrap().clone();
        let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
        for expected in ["SESSION_CHANGED", "APPLICATION_ACCEPTED", "PARTICIPANT_CHANGED"] {
            assert!(actions.contains(&expected), "{expected} in {actions:?}");
        }
        let text = feed.body.to_string();
        for secret in ["FA1234567", "1980-01-02", "halal"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // ... and still only for its own event: the visitor program's is not its.
        let other = app.gql(Some(&d.koica_token), AUDIT, json!({ "id": d.program })).await;
        assert_eq!(other.error_code(), "NOT_FOUND");

        // No grant reveals personal data: the host reads it, KOICA never.
        let member_query = "query($id: ID!) { node(id: $id) { ... on Participant { fullName nationality dateOfBirth passportNumber dietaryNeeds accessibilityNeeds } } }";
        let as_host = app.gql(Some(&d.host), member_query, json!({ "id": member })).await;
        assert_eq!(as_host.data()["node"]["passportNumber"], "FA1234567");
        assert_eq!(as_host.data()["node"]["dietaryNeeds"], "halal");
        let as_koica = app.gql(Some(&d.koica_token), member_query, json!({ "id": member })).await;
        let seen = &as_koica.data()["node"];
        assert_eq!(seen["fullName"], "Amra Hadžić");
        for field in ["nationality", "dateOfBirth", "passportNumber", "dietaryNeeds", "accessibilityNeeds"] {
            assert_eq!(seen[field], Value::Null, "{field}");
        }
        let export = app
            .gql(Some(&d.koica_token), "mutation($id: ID!) { exportPersonalData(input: { participantId: $id }) { data } }", json!({ "id": member }))
            .await;
        assert_eq!(export.error_code(), "NOT_FOUND", "as for anyone but the host and the delegation");
        assert!(!export.body.to_string().contains("FA1234567"));

        // Changes to the event itself stay the NEC's, whatever KOICA holds.
        let koica_id = global_id("Organization", d.koica);
        for (what, query, variables) in [
            ("update", "mutation($id: ID!) { updateEvent(input: { id: $id, venue: \"KOICA\" }) { event { id } } }", json!({ "id": d.seminar })),
            ("cancel", "mutation($id: ID!) { cancelEvent(input: { id: $id, reason: \"no\" }) { event { id } } }", json!({ "id": d.seminar })),
            ("reschedule", "mutation($id: ID!) { rescheduleEvent(input: { id: $id, startDate: \"2099-01-01\", endDate: \"2099-01-02\", dateStatus: CONFIRMED, reason: \"r\" }) { event { id } } }", json!({ "id": d.seminar })),
            ("remove itself", "mutation($e: ID!, $o: ID!) { removeCoHost(input: { eventId: $e, organizationId: $o }) { event { id } } }", json!({ "e": d.seminar, "o": koica_id })),
            ("retention", "mutation($id: ID!) { setPersonalDataRetention(input: { eventId: $id, days: 1 }) { days } }", json!({ "id": d.seminar })),
        ] {
            let refused = app.gql(Some(&d.koica_token), query, variables).await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{what}");
        }
        let narrowed = grant(&app, &d.koica_token, &d.seminar, d.koica, &["MANAGE_AGENDA"]).await;
        assert_eq!(narrowed.error_code(), "FORBIDDEN", "not even narrowing its own");

        // KOICA applies for a delegation of its own: the NEC decides that one.
        let applied = app
            .gql(Some(&d.koica_token), "mutation($id: ID!) { applyToEvent(input: { eventId: $id, motivation: \"Our alumni\", seatsRequested: 1 }) { application { id } } }",
                json!({ "id": d.seminar }))
            .await;
        let own = applied.data()["applyToEvent"]["application"]["id"].as_str().unwrap().to_owned();
        let self_decided = app.gql(Some(&d.koica_token), DECIDE_APPLICATION, json!({ "id": own, "accept": true })).await;
        assert_eq!(self_decided.error_code(), "FORBIDDEN");
        let by_host = app.gql(Some(&d.host), DECIDE_APPLICATION, json!({ "id": own, "accept": false })).await;
        assert_eq!(by_host.data()["decideApplication"]["application"]["status"], "REJECTED");

        // Taken back: the agenda is the NEC's again.
        grant(&app, &d.host, &d.seminar, d.koica, &[]).await.data();
        let refused = app
            .gql(Some(&d.koica_token), UPDATE_SESSION, json!({ "input": { "id": session, "location": "Elsewhere" } }))
            .await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        let refused = app.gql(Some(&d.koica_token), AUDIT, json!({ "id": d.seminar })).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_host_changes_co_host_permissions() {
    each_backend(|app| async move {
        let d = demo(&app).await;
        let partner = app.token_for(org(&app, "CEC UZ").await, &[Role::Coordinator]).await;
        let reader = app.token_for(org(&app, "KOCEI").await, &[Role::Reader]).await;
        let before = audit_rows(&app, &d.program).await.len();
        // A-WEB (co-host), KOICA (co-host elsewhere), a partner's coordinator, a
        // reader, the admin: none may grant anything.
        for (who, token) in [("A-WEB", &d.aweb_token), ("KOICA", &d.koica_token), ("UZ", &partner), ("reader", &reader), ("admin", &app.admin_token)] {
            let refused = grant(&app, token, &d.program, d.aweb, &["INVITE", "VIEW_ACTIVITY"]).await;
            assert_eq!(refused.error_code(), "FORBIDDEN", "{who}");
        }
        let shown = app
            .gql(Some(&d.host), "query($id: ID!) { event(id: $id) { coHosts { permissions } } }", json!({ "id": d.program }))
            .await;
        assert_eq!(shown.data()["event"]["coHosts"][0]["permissions"], json!([]));
        assert_eq!(audit_rows(&app, &d.program).await.len(), before, "nothing audited");

        // The host's own mistakes are named.
        let not_co_host = grant(&app, &d.host, &d.program, d.koica, &["INVITE"]).await;
        assert_eq!(not_co_host.error_field(), "organizationId");
        let stale = app
            .gql(Some(&d.host), PERMISSIONS, json!({ "input": { "eventId": d.program,
                "organizationId": global_id("Organization", d.aweb), "permissions": ["INVITE"], "expectedVersion": 0 } }))
            .await;
        assert_eq!(stale.error_code(), "CONFLICT");
        // Adding a co-host again with other permissions points to the update.
        let add = "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { coHosts { organization { acronym } permissions } } } }";
        let conflict = app
            .gql(Some(&d.host), add, json!({ "input": { "eventId": d.program, "organizationId": global_id("Organization", d.aweb), "permissions": ["INVITE"] } }))
            .await;
        assert_eq!(conflict.error_code(), "CONFLICT");
        // A new co-host added with permissions has them at once.
        let added = app
            .gql(Some(&d.host), add, json!({ "input": { "eventId": d.program, "organizationId": global_id("Organization", d.koica),
                "permissions": ["VIEW_ACTIVITY", "INVITE"] } }))
            .await;
        assert_eq!(
            added.data()["addCoHost"]["event"]["coHosts"],
            json!([{ "organization": { "acronym": "A-WEB" }, "permissions": [] },
                   { "organization": { "acronym": "KOICA" }, "permissions": ["INVITE", "VIEW_ACTIVITY"] }])
        );
        let log = app.gql(Some(&d.koica_token), AUDIT, json!({ "id": d.program })).await;
        assert_eq!(log.data()["auditLog"]["nodes"][0]["action"], "event.add_co_host");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_hosts_of_a_page_of_events_cost_one_statement() {
    each_backend(|app| async move {
        let d = demo(&app).await;
        let plain = "{ events { nodes { id title } } }";
        let with_co_hosts = "{ events { nodes { id title coHosts { organization { name acronym } permissions addedAt } } } }";
        let (base, _) = app.statements_for(&d.host, plain, json!({})).await;
        let (three, response) = app.statements_for(&d.host, with_co_hosts, json!({})).await;
        assert_eq!(response.data()["events"]["nodes"].as_array().unwrap().len(), 3);
        // More events and co-hosts cost nothing more.
        for i in 0..5 {
            let created = app
                .gql(Some(&d.host), "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }",
                    json!({ "input": { "kind": "FORUM", "title": format!("Forum {i}"), "timeZone": "Asia/Seoul",
                        "startDate": "2030-05-08", "endDate": "2030-05-08" } }))
                .await;
            let id = created.data()["createEvent"]["event"]["id"].as_str().unwrap().to_owned();
            for co_host in [d.aweb, d.koica] {
                app.gql(Some(&d.host), "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
                    json!({ "input": { "eventId": id, "organizationId": global_id("Organization", co_host), "permissions": ["INVITE"] } }))
                    .await
                    .data();
            }
        }
        let (base_eight, _) = app.statements_for(&d.host, plain, json!({})).await;
        let (eight, response) = app.statements_for(&d.host, with_co_hosts, json!({})).await;
        let nodes = response.data()["events"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 8);
        assert_eq!(nodes.iter().map(|n| n["coHosts"].as_array().unwrap().len()).sum::<usize>(), 12);
        assert_eq!(three - base, 1, "one statement for the co-hosts and their organizations");
        assert_eq!(eight - base_eight, 1);
    })
    .await;
}

/// Issue 13's story: A-WEB keeps its members in the directory by its own ids, and
/// once the NEC lets it invite for the Election Visitor Program it invites 30 of
/// them by those ids, in one call, as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_syncs_its_members_and_invites_30_of_them_by_its_own_ids_once_granted() {
    each_backend(|app| async move {
        let d = demo(&app).await;
        app.gql(
            Some(&app.admin_token),
            "mutation($input: RegisterDirectorySourceInput!) { registerDirectorySource(input: $input) { directorySource { source } } }",
            json!({ "input": { "source": "AWEB", "stewardOrganizationId": global_id("Organization", d.aweb) } }),
        )
        .await
        .data();
        let directory = app.token_for(d.aweb, &[Role::Directory]).await;
        let countries = ["KE", "GH", "PH", "ID", "BR"];
        let items: Vec<Value> = (1..=30)
            .map(|n| json!({ "externalId": format!("M{n:03}"), "kind": "ELECTION_MANAGEMENT_BODY",
                "name": format!("Member Election Body {n}"), "acronym": format!("MEB{n}"),
                "countryCode": countries[n % countries.len()] }))
            .collect();
        let synced = app
            .gql(
                Some(&directory),
                "mutation($input: UpsertOrganizationsInput!) { upsertOrganizations(input: $input) { created results { outcome } } }",
                json!({ "input": { "source": "AWEB", "items": items } }),
            )
            .await;
        assert_eq!(synced.data()["upsertOrganizations"]["created"], 30);

        let external_ids: Vec<Value> = (1..=30)
            .map(|n| json!({ "source": "AWEB", "id": format!("M{n:03}") }))
            .collect();
        let invite = json!({ "input": { "eventId": d.program, "seatsOffered": 2, "send": true,
            "externalIds": external_ids } });
        let invitations_before = app.count_rows("invitations").await;

        // Read-only co-host: refused, naming the permission, nothing written.
        let refused = app.gql(Some(&d.aweb_token), crate::fixtures::INVITE, invite.clone()).await;
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert!(message(&refused).contains("INVITE"), "{}", message(&refused));
        assert_eq!(app.count_rows("invitations").await, invitations_before);

        // Granted INVITE: thirty invitations, sent, each audited as A-WEB.
        grant(&app, &d.host, &d.program, d.aweb, &["INVITE"]).await.data();
        let invited = app.gql(Some(&d.aweb_token), crate::fixtures::INVITE, invite).await;
        let invitations = invited.data()["inviteOrganizations"]["invitations"].as_array().unwrap().clone();
        assert_eq!(invitations.len(), 30);
        assert!(invitations.iter().all(|i| i["status"] == "SENT"), "{invitations:?}");
        assert_eq!(app.count_rows("invitations").await, invitations_before + 30);
        let first = invitations[0]["id"].as_str().unwrap();
        let rows = audit_rows(&app, first).await;
        assert!(!rows.is_empty() && rows.iter().all(|r| r.1 == Some(d.aweb) && r.2 == Some(d.aweb_client)), "{rows:?}");

        // The members see their invitation; the host sees all thirty.
        let listed = app
            .gql(Some(&d.host), "query($id: ID!) { event(id: $id) { invitations(first: 100, filter: { search: \"Member Election Body\" }) { totalCount } } }",
                json!({ "id": d.program }))
            .await;
        assert_eq!(listed.data()["event"]["invitations"]["totalCount"], 30);
    })
    .await;
}
