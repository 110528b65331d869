//! The participation workflow as a host and partner systems live it.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{
    INVITE, Member, accept, add_participant, invite, member, published_event, respond,
};
use crate::helpers::{TestApp, each_backend, each_backend_with};

const EVENT_VIEW: &str = "query($id: ID!) { event(id: $id) {
    status dateChanges { reason newStartDate }
    invitations { nodes { status organization { name } delegation { status } } }
    delegations { nodes { status participants { nodes { fullName } } } } } }";

fn statuses(event: &Value) -> Vec<String> {
    event["invitations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_invites_ten_embs_and_the_event_lives_until_cancelled() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let countries = ["UZ", "BA", "BR", "US", "GB", "MN", "PH", "KE", "GH", "FJ"];
        let mut partners: Vec<Member> = Vec::new();
        for c in countries {
            partners.push(member(&app, &format!("Election Commission of {c}"), Some(c), &[Role::Partner]).await);
        }
        let event = published_event(&app, &host, json!({})).await;
        let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
        let invitations = invite(&app, &host, &event, &ids, 2, 1).await;
        assert_eq!(invitations.len(), 10);

        // Three accept (one twice: a retry), two decline, one misses the deadline.
        let mut delegations = Vec::new();
        for i in 0..3 {
            delegations.push(accept(&app, &partners[i].token, &invitations[i]).await);
        }
        let retry = respond(&app, &partners[0].token, &invitations[0], true).await;
        assert_eq!(retry.data()["respondToInvitation"]["invitation"]["delegation"]["id"], delegations[0].as_str());
        for i in 3..5 {
            let declined = respond(&app, &partners[i].token, &invitations[i], false).await;
            assert_eq!(declined.data()["respondToInvitation"]["invitation"]["status"], "DECLINED");
        }
        let changed_mind = respond(&app, &partners[3].token, &invitations[3], true).await;
        assert_eq!(changed_mind.error_code(), "CONFLICT");

        crate::helpers::arrange_past_respond_by(&app, partners[5].uuid).await;
        let too_late = respond(&app, &partners[5].token, &invitations[5], true).await;
        assert_eq!(too_late.error_code(), "CONFLICT");
        let mine = app
            .gql(Some(&partners[5].token), "{ invitations(filter: { statuses: [EXPIRED] }) { totalCount nodes { status } } }", json!({}))
            .await;
        assert_eq!(mine.data()["invitations"]["totalCount"], 1);
        assert_eq!(embhub::service::invitations::sweep_expired(&app.db, &app.feed).await.unwrap(), 1);

        // Delegations fill their two seats (one funded) and hit the limits.
        let d = &delegations[0];
        let t = &partners[0].token;
        add_participant(&app, t, d, "Head of Delegation", true).await.data();
        let funded_again = add_participant(&app, t, d, "Second funded", true).await;
        assert_eq!(funded_again.error_code(), "CONFLICT");
        add_participant(&app, t, d, "Interpreter", false).await.data();
        let before = app.count_rows("participants").await;
        let full = add_participant(&app, t, d, "One too many", false).await;
        assert_eq!(full.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("participants").await, before);

        // The host sees everything, with the reason for each date change.
        let rescheduled = app
            .gql(
                Some(&host.token),
                "mutation($input: RescheduleEventInput!) { rescheduleEvent(input: $input) { event { startDate } } }",
                json!({ "input": { "id": event, "startDate": "2030-05-11", "endDate": "2030-05-17",
                    "dateStatus": "CONFIRMED", "reason": "The election moved by a week" } }),
            )
            .await;
        assert_eq!(rescheduled.data()["rescheduleEvent"]["event"]["startDate"], "2030-05-11");
        let seen = app.gql(Some(&host.token), EVENT_VIEW, json!({ "id": event })).await;
        let view = &seen.data()["event"];
        let mut counts = std::collections::HashMap::new();
        for s in statuses(view) {
            *counts.entry(s).or_insert(0) += 1;
        }
        assert_eq!(counts["ACCEPTED"], 3);
        assert_eq!(counts["DECLINED"], 2);
        assert_eq!(counts["EXPIRED"], 1);
        assert_eq!(counts["SENT"], 4);
        assert_eq!(view["dateChanges"][0]["reason"], "The election moved by a week");
        assert_eq!(view["delegations"]["nodes"][0]["participants"]["nodes"].as_array().unwrap().len(), 2);

        // A partner sees only its own invitation.
        let partner_view = app.gql(Some(&partners[1].token), EVENT_VIEW, json!({ "id": event })).await;
        assert_eq!(statuses(&partner_view.data()["event"]), vec!["ACCEPTED"]);

        // Cancelling withdraws open invitations and cancels delegations, at once.
        let cancelled = app
            .gql(
                Some(&host.token),
                "mutation($input: EventStatusChangeInput!) { cancelEvent(input: $input) { event { status } } }",
                json!({ "input": { "id": event, "reason": "Cancelled by the commission" } }),
            )
            .await;
        assert_eq!(cancelled.data()["cancelEvent"]["event"]["status"], "CANCELLED");
        let after = app.gql(Some(&host.token), EVENT_VIEW, json!({ "id": event })).await;
        let view = &after.data()["event"];
        let statuses = statuses(view);
        assert_eq!(statuses.iter().filter(|s| *s == "WITHDRAWN").count(), 4);
        assert!(view["delegations"]["nodes"].as_array().unwrap().iter().all(|d| d["status"] == "CANCELLED"));
        let no_more = add_participant(&app, t, d, "After cancellation", false).await;
        assert_eq!(no_more.error_code(), "CONFLICT");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_accepted_becomes_an_invitation_and_a_delegation() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let applicant = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let seminar = published_event(&app, &host, json!({
            "kind": "SEMINAR", "title": "Seminar on Election Laws", "participationMode": "APPLICATIONS_OPEN",
            "applicationDeadline": "2030-04-30T00:00:00Z" })).await;
        let apply = "mutation($input: ApplyToEventInput!) { applyToEvent(input: $input) { application { id status version } } }";
        let input = json!({ "input": { "eventId": seminar, "motivation": "We reform our electoral law",
            "proposedTopics": ["Voter registration"], "seatsRequested": 2, "fundingRequested": ["AIRFARE"] } });
        let applied = app.gql(Some(&applicant.token), apply, input.clone()).await;
        let application = applied.data()["applyToEvent"]["application"]["id"].as_str().unwrap().to_owned();
        let again = app.gql(Some(&applicant.token), apply, input).await;
        assert_eq!(again.data()["applyToEvent"]["application"]["id"], application.as_str());

        // Only the host decides.
        let decide = "mutation($input: DecideApplicationInput!) { decideApplication(input: $input) {
            application { status invitation { status seatsOffered fundedSeats fundingCovers delegation { status } } } } }";
        let self_accept = app
            .gql(Some(&applicant.token), decide, json!({ "input": { "id": application, "accept": true } }))
            .await;
        assert_eq!(self_accept.error_code(), "FORBIDDEN");
        let accepted = app
            .gql(Some(&host.token), decide, json!({ "input": { "id": application, "accept": true, "note": "Welcome" } }))
            .await;
        let result = &accepted.data()["decideApplication"]["application"];
        assert_eq!(result["status"], "ACCEPTED");
        assert_eq!(result["invitation"]["status"], "ACCEPTED");
        assert_eq!(result["invitation"]["seatsOffered"], 2);
        assert_eq!(result["invitation"]["fundedSeats"], 2);
        assert_eq!(result["invitation"]["fundingCovers"], json!(["AIRFARE"]));
        assert_eq!(result["invitation"]["delegation"]["status"], "FORMING");
        let reject_now = app
            .gql(Some(&host.token), decide, json!({ "input": { "id": application, "accept": false } }))
            .await;
        assert_eq!(reject_now.error_code(), "CONFLICT");

        // The applicant's delegation is now its to fill.
        let mine = app
            .gql(Some(&applicant.token), "{ delegations { totalCount nodes { id status } } }", json!({}))
            .await;
        assert_eq!(mine.data()["delegations"]["totalCount"], 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_refused_when_the_event_is_not_open_to_them() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let applicant = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let reader = app.token_for(applicant.uuid, &[Role::Reader]).await;
        let invitation_only = published_event(&app, &host, json!({})).await;
        let closed_deadline = published_event(&app, &host, json!({ "kind": "SEMINAR", "title": "Past deadline",
            "participationMode": "APPLICATIONS_OPEN", "applicationDeadline": "2030-04-30T00:00:00Z" })).await;
        crate::helpers::arrange_past_deadline(&app, "Past deadline").await;
        let apply = "mutation($input: ApplyToEventInput!) { applyToEvent(input: $input) { application { id } } }";
        let input = |event: &str, seats: i32| json!({ "input": { "eventId": event, "motivation": "m", "seatsRequested": seats } });

        assert_eq!(app.gql(Some(&applicant.token), apply, input(&invitation_only, 1)).await.error_code(), "CONFLICT");
        assert_eq!(app.gql(Some(&applicant.token), apply, input(&closed_deadline, 1)).await.error_code(), "CONFLICT");
        let bad_seats = app.gql(Some(&applicant.token), apply, input(&closed_deadline, 0)).await;
        assert_eq!(bad_seats.error_field(), "seatsRequested");
        assert_eq!(app.gql(Some(&reader), apply, input(&closed_deadline, 1)).await.error_code(), "FORBIDDEN");
        assert_eq!(app.count_rows("applications").await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_rules_are_enforced_and_retries_are_safe() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let invitee = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let stranger = member(&app, "Superior Electoral Court", Some("BR"), &[Role::Partner]).await;
        let event = published_event(&app, &host, json!({})).await;
        let input = |seats: i32, funded: i32, send: bool| json!({ "input": { "eventId": event,
            "organizationIds": [invitee.id], "seatsOffered": seats, "fundedSeats": funded,
            "fundingCovers": ["AIRFARE"], "send": send } });

        let too_many_funded = app.gql(Some(&host.token), INVITE, input(2, 3, true)).await;
        assert_eq!(too_many_funded.error_field(), "fundedSeats");
        let no_seats = app.gql(Some(&host.token), INVITE, input(0, 0, true)).await;
        assert_eq!(no_seats.error_field(), "seatsOffered");
        let by_partner = app.gql(Some(&invitee.token), INVITE, input(2, 1, true)).await;
        assert_eq!(by_partner.error_code(), "FORBIDDEN");
        assert_eq!(app.count_rows("invitations").await, 0);

        // A draft is invisible to the invitee until sent.
        let drafted = app.gql(Some(&host.token), INVITE, input(2, 1, false)).await;
        let id = drafted.data()["inviteOrganizations"]["invitations"][0]["id"].as_str().unwrap().to_owned();
        let hidden = respond(&app, &invitee.token, &id, true).await;
        assert_eq!(hidden.error_code(), "NOT_FOUND");
        // Inviting again returns the same invitation (and sends the draft).
        let again = app.gql(Some(&host.token), INVITE, input(2, 1, true)).await;
        let invitation = &again.data()["inviteOrganizations"]["invitations"][0];
        assert_eq!(invitation["id"], id.as_str());
        assert_eq!(invitation["status"], "SENT");
        assert_eq!(app.count_rows("invitations").await, 1);

        // Only the invitee answers; others cannot even see the invitation.
        assert_eq!(respond(&app, &stranger.token, &id, true).await.error_code(), "NOT_FOUND");
        assert_eq!(respond(&app, &host.token, &id, true).await.error_code(), "FORBIDDEN");
        let stale = app
            .gql(Some(&invitee.token), crate::fixtures::RESPOND, json!({ "input": { "id": id, "accept": true, "expectedVersion": 1 } }))
            .await;
        assert_eq!(stale.error_code(), "CONFLICT");
        assert_eq!(stale.body["errors"][0]["extensions"]["currentVersion"], 2);
        let accepted = respond(&app, &invitee.token, &id, true).await;
        assert_eq!(accepted.data()["respondToInvitation"]["invitation"]["status"], "ACCEPTED");
        assert_eq!(app.count_rows("delegations").await, 1);

        // Withdrawing an accepted invitation cancels its delegation.
        let withdrawn = app
            .gql(Some(&host.token), "mutation($id: ID!) { withdrawInvitation(input: { id: $id, note: \"Budget cut\" }) {
                invitation { status delegation { status } } } }", json!({ "id": id }))
            .await;
        let invitation = &withdrawn.data()["withdrawInvitation"]["invitation"];
        assert_eq!(invitation["status"], "WITHDRAWN");
        assert_eq!(invitation["delegation"]["status"], "CANCELLED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_for_the_last_seat_cannot_both_win() {
    each_backend(|app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let invitee = member(
            &app,
            "Central Election Commission",
            Some("UZ"),
            &[Role::Partner],
        )
        .await;
        let event = published_event(&app, &host, json!({})).await;
        let invitation = invite(&app, &host, &event, &[&invitee.id], 3, 0)
            .await
            .remove(0);
        let delegation = accept(&app, &invitee.token, &invitation).await;
        add_participant(&app, &invitee.token, &delegation, "First", false)
            .await
            .data();
        add_participant(&app, &invitee.token, &delegation, "Second", false)
            .await
            .data();

        let attempts =
            (0..6).map(|i| {
                let app = &app;
                let token = invitee.token.clone();
                let delegation = delegation.clone();
                async move {
                    add_participant(app, &token, &delegation, &format!("Racer {i}"), false).await
                }
            });
        let results = futures::future::join_all(attempts).await;
        let won = results
            .iter()
            .filter(|r| r.body.get("errors").is_none())
            .count();
        assert_eq!(
            won, 1,
            "exactly one request takes the last seat: {results:#?}"
        );
        for lost in results.iter().filter(|r| r.body.get("errors").is_some()) {
            assert_eq!(lost.error_code(), "CONFLICT");
        }
        assert_eq!(app.count_rows("participants").await, 3);
    })
    .await;
}

const PARTICIPANTS: &str = "query($id: ID!) { node(id: $id) { ... on Delegation {
    participants { nodes { fullName nationality dateOfBirth passportNumber } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passport_data_is_seen_only_by_the_delegation_and_the_host() {
    each_backend(|app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let co_host = member(
            &app,
            "Association of World Election Bodies",
            None,
            &[Role::Coordinator],
        )
        .await;
        let invitee = member(
            &app,
            "Central Election Commission",
            Some("UZ"),
            &[Role::Partner],
        )
        .await;
        let other = member(
            &app,
            "Superior Electoral Court",
            Some("BR"),
            &[Role::Partner],
        )
        .await;
        let event = published_event(&app, &host, json!({})).await;
        app.gql(
            Some(&host.token),
            "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
            json!({ "input": { "eventId": event, "organizationId": co_host.id } }),
        )
        .await
        .data();
        let invitation = invite(&app, &host, &event, &[&invitee.id, &other.id], 2, 0)
            .await
            .remove(0);
        let delegation = accept(&app, &invitee.token, &invitation).await;
        let added = add_participant(&app, &invitee.token, &delegation, "Delegate", false).await;
        assert_eq!(
            added.data()["addParticipant"]["participant"]["passportNumber"],
            "FA1234567"
        );

        for (who, token) in [("delegation", &invitee.token), ("host", &host.token)] {
            let seen = app
                .gql(Some(token), PARTICIPANTS, json!({ "id": delegation }))
                .await;
            let p = &seen.data()["node"]["participants"]["nodes"][0];
            assert_eq!(p["passportNumber"], "FA1234567", "{who}");
            assert_eq!(p["nationality"], "UZ", "{who}");
            assert_eq!(p["dateOfBirth"], "1980-01-02", "{who}");
        }
        let co_host_view = app
            .gql(
                Some(&co_host.token),
                PARTICIPANTS,
                json!({ "id": delegation }),
            )
            .await;
        let p = &co_host_view.data()["node"]["participants"]["nodes"][0];
        assert_eq!(p["fullName"], "Delegate");
        assert_eq!(p["passportNumber"], Value::Null);
        assert_eq!(p["nationality"], Value::Null);
        assert_eq!(p["dateOfBirth"], Value::Null);

        // Another partner cannot reach the delegation at all, by any path.
        let by_node = app
            .gql(
                Some(&other.token),
                PARTICIPANTS,
                json!({ "id": delegation }),
            )
            .await;
        assert_eq!(by_node.error_code(), "NOT_FOUND");
        let via_event = app
            .gql(
                Some(&other.token),
                "query($id: ID!) { event(id: $id) { delegations { nodes { id } } invitations { nodes { id } } } }",
                json!({ "id": event }),
            )
            .await;
        assert_eq!(via_event.data()["event"]["delegations"]["nodes"], json!([]));
        assert_eq!(
            via_event.data()["event"]["invitations"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let listed = app
            .gql(
                Some(&other.token),
                "{ delegations { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(listed.data()["delegations"]["totalCount"], 0);

        // The audit trail keeps the change but never the passport number.
        let log = app
            .gql(
                Some(&host.token),
                "query($id: ID!) { auditLog(entityId: $id) { nodes { action after } } }",
                json!({ "id": added.data()["addParticipant"]["participant"]["id"] }),
            )
            .await;
        let entry = &log.data()["auditLog"]["nodes"][0];
        assert_eq!(entry["action"], "participant.add");
        assert_eq!(entry["after"]["passport_number"], "[REDACTED]");
        assert!(!log.body.to_string().contains("FA1234567"));
        let denied = app
            .gql(
                Some(&co_host.token),
                "query($id: ID!) { auditLog(entityId: $id) { nodes { action } } }",
                json!({ "id": event }),
            )
            .await;
        // The co-host sees the event, but the host has not granted it VIEW_ACTIVITY.
        assert_eq!(denied.error_code(), "FORBIDDEN");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agenda_sessions_and_presentations_follow_the_rules() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let invitee = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let event = published_event(&app, &host, json!({})).await;
        let add = "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id title } } }";
        let session = |start: &str, end: &str| json!({ "input": { "eventId": event, "kind": "PRESENTATIONS",
            "title": "Voter registration", "startsAt": start, "endsAt": end } });
        // 2030-05-04 09:00 in Seoul is 00:00 UTC.
        let created = app.gql(Some(&host.token), add, session("2030-05-04T00:00:00Z", "2030-05-04T02:00:00Z")).await;
        let session_id = created.data()["addSession"]["session"]["id"].as_str().unwrap().to_owned();
        let before = app.gql(Some(&host.token), add, session("2030-05-03T00:00:00Z", "2030-05-03T02:00:00Z")).await;
        assert_eq!(before.error_field(), "startsAt");
        let backwards = app.gql(Some(&host.token), add, session("2030-05-05T02:00:00Z", "2030-05-05T01:00:00Z")).await;
        assert_eq!(backwards.error_field(), "endsAt");
        assert_eq!(app.gql(Some(&invitee.token), add, session("2030-05-05T00:00:00Z", "2030-05-05T01:00:00Z")).await.error_code(), "FORBIDDEN");
        assert_eq!(app.count_rows("sessions").await, 1);

        let invitation = invite(&app, &host, &event, &[&invitee.id], 2, 0).await.remove(0);
        let delegation = accept(&app, &invitee.token, &invitation).await;
        let presenter = add_participant(&app, &invitee.token, &delegation, "Presenter", false).await;
        let presenter_id = presenter.data()["addParticipant"]["participant"]["id"].as_str().unwrap().to_owned();
        let propose = "mutation($input: ProposePresentationInput!) { proposePresentation(input: $input) { presentation { id status } } }";
        let proposed = app
            .gql(Some(&invitee.token), propose, json!({ "input": { "sessionId": session_id, "delegationId": delegation,
                "presenterId": presenter_id, "title": "Our voter register", "abstract": "How it works" } }))
            .await;
        let presentation = proposed.data()["proposePresentation"]["presentation"]["id"].as_str().unwrap().to_owned();
        let decide = "mutation($input: DecidePresentationInput!) { decidePresentation(input: $input) { presentation { status } } }";
        assert_eq!(app.gql(Some(&invitee.token), decide, json!({ "input": { "id": presentation, "accept": true } })).await.error_code(), "FORBIDDEN");
        let accepted = app.gql(Some(&host.token), decide, json!({ "input": { "id": presentation, "accept": true } })).await;
        assert_eq!(accepted.data()["decidePresentation"]["presentation"]["status"], "ACCEPTED");

        // The accepted presentation is on the public agenda.
        let reader = app.token_for(host.uuid, &[Role::Reader]).await;
        let agenda = app
            .gql(Some(&reader), "query($id: ID!) { event(id: $id) { sessions { title presentations { title status } } } }", json!({ "id": event }))
            .await;
        assert_eq!(agenda.data()["event"]["sessions"][0]["presentations"][0]["title"], "Our voter register");

        let updated = app
            .gql(Some(&host.token), "mutation($input: UpdateSessionInput!) { updateSession(input: $input) { session { title version } } }",
                json!({ "input": { "id": session_id, "expectedVersion": 1, "title": "Voter registration systems" } }))
            .await;
        assert_eq!(updated.data()["updateSession"]["session"]["version"], 2);
        let removed = app
            .gql(Some(&host.token), "mutation($id: ID!) { removeSession(input: { id: $id }) { removedSessionId } }", json!({ "id": session_id }))
            .await;
        assert_eq!(removed.data()["removeSession"]["removedSessionId"], session_id.as_str());
        assert_eq!(app.count_rows("presentations").await, 0);
    })
    .await;
}

const PARTNER_QUERY: &str = "{ invitations(first: 100) { totalCount nodes { status
    event { title host { name } sessions { title } }
    delegation { status participants { nodes { fullName passportNumber } } } } } }";

async fn partner_with_invitations(app: &TestApp, host: &Member, partner: &Member, n: usize) {
    for i in 0..n {
        let event = published_event(app, host, json!({ "title": format!("Event {i}") })).await;
        app.gql(
            Some(&host.token),
            "mutation($input: AddSessionInput!) { addSession(input: $input) { session { id } } }",
            json!({ "input": { "eventId": event, "kind": "BRIEFING", "title": "Briefing",
                "startsAt": "2030-05-04T01:00:00Z", "endsAt": "2030-05-04T02:00:00Z" } }),
        )
        .await
        .data();
        let invitation = invite(app, host, &event, &[&partner.id], 2, 0)
            .await
            .remove(0);
        let delegation = accept(app, &partner.token, &invitation).await;
        add_participant(app, &partner.token, &delegation, "Delegate", false)
            .await
            .data();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_invitation_query_costs_the_same_sql_at_5_and_50_invitations() {
    // A wide batch window: on a busy 2-core CI machine the 2 ms default can let a
    // stalled thread split a batch, which is noise, not an N+1.
    let wide_window = |s: &mut embhub::config::Settings| {
        s.loader_batch_window = std::time::Duration::from_millis(25)
    };
    each_backend_with(wide_window, |app| async move {
        let host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let small = member(
            &app,
            "Central Election Commission",
            Some("UZ"),
            &[Role::Partner],
        )
        .await;
        let large = member(
            &app,
            "Superior Electoral Court",
            Some("BR"),
            &[Role::Partner],
        )
        .await;
        partner_with_invitations(&app, &host, &small, 5).await;
        partner_with_invitations(&app, &host, &large, 50).await;

        // The fewest statements over three runs: a loader's batch can be split by a
        // scheduler stall, never merged, so the minimum is the query's real cost.
        let mut counts = Vec::new();
        for (partner, n) in [(&small, 5), (&large, 50)] {
            let mut fewest = u64::MAX;
            for _ in 0..3 {
                // Warm the token's revocation check so it is not counted.
                app.gql(Some(&partner.token), "{ viewer { roles } }", json!({}))
                    .await
                    .data();
                let (statements, response) = app
                    .statements_for(&partner.token, PARTNER_QUERY, json!({}))
                    .await;
                let invitations = &response.data()["invitations"];
                assert_eq!(invitations["totalCount"], n);
                assert_eq!(invitations["nodes"].as_array().unwrap().len(), n);
                assert_eq!(
                    invitations["nodes"][0]["delegation"]["participants"]["nodes"][0]["passportNumber"],
                    "FA1234567"
                );
                fewest = fewest.min(statements);
            }
            counts.push(fewest);
        }
        println!(
            "SQL statements for the partner query: 5 invitations = {}, 50 invitations = {}",
            counts[0], counts[1]
        );
        assert_eq!(
            counts[0], counts[1],
            "the statement count must not grow with the list"
        );
        // The page (its totalCount known from it), the events with their hosts, the
        // sessions, and the delegations with their members: one statement each.
        assert_eq!(counts[1], 4, "the partner query's statements");
    })
    .await;
}

/// A host's console: its events, each with a page of invitations (with the
/// invitee and the delegation's members), delegations and applications, and
/// their counts.
const HOST_DASHBOARD: &str = "query($host: ID!) { events(first: 50, filter: { hostId: $host }) { totalCount nodes { title
    invitations(first: 5, orderBy: { field: UPDATED_AT, direction: DESC }) { totalCount
        pageInfo { hasNextPage endCursor }
        nodes { status organization { name }
            delegation { status participants(first: 3) { totalCount nodes { fullName passportNumber } } } } }
    delegations(first: 3, filter: { statuses: [FORMING, CONFIRMED] }) { totalCount nodes { status } }
    applications(first: 3) { totalCount nodes { status } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_nested_connections_cost_the_same_sql_at_5_and_50_events() {
    let wide_window = |s: &mut embhub::config::Settings| {
        s.loader_batch_window = std::time::Duration::from_millis(25)
    };
    each_backend_with(wide_window, |app| async move {
        let small_host = member(
            &app,
            "National Election Commission",
            Some("KR"),
            &[Role::Coordinator],
        )
        .await;
        let large_host = member(
            &app,
            "Central Election Commission",
            Some("UZ"),
            &[Role::Coordinator],
        )
        .await;
        let partner = member(
            &app,
            "Superior Electoral Court",
            Some("BR"),
            &[Role::Partner],
        )
        .await;
        partner_with_invitations(&app, &small_host, &partner, 5).await;
        partner_with_invitations(&app, &large_host, &partner, 50).await;

        let mut counts = Vec::new();
        for (host, n) in [(&small_host, 5), (&large_host, 50)] {
            let mut fewest = u64::MAX;
            for _ in 0..3 {
                app.gql(Some(&host.token), "{ viewer { roles } }", json!({}))
                    .await
                    .data();
                let (statements, response) = app
                    .statements_for(&host.token, HOST_DASHBOARD, json!({ "host": host.id }))
                    .await;
                let events = response.data()["events"]["nodes"]
                    .as_array()
                    .unwrap()
                    .clone();
                assert_eq!(events.len(), n);
                for event in &events {
                    let invitations = &event["invitations"];
                    assert_eq!(invitations["totalCount"], 1);
                    assert_eq!(invitations["nodes"][0]["status"], "ACCEPTED");
                    assert_eq!(
                        invitations["nodes"][0]["organization"]["name"],
                        "Superior Electoral Court"
                    );
                    let members = &invitations["nodes"][0]["delegation"]["participants"];
                    assert_eq!(members["totalCount"], 1);
                    assert_eq!(members["nodes"][0]["passportNumber"], "FA1234567");
                    assert_eq!(event["delegations"]["totalCount"], 1);
                    assert_eq!(event["applications"]["totalCount"], 0);
                }
                fewest = fewest.min(statements);
            }
            counts.push(fewest);
        }
        println!(
            "SQL statements for the host dashboard: 5 events = {}, 50 events = {}",
            counts[0], counts[1]
        );
        assert_eq!(
            counts[0], counts[1],
            "the statement count must not grow with the list"
        );
        // The events; one windowed query per nested list (invitations,
        // delegations, applications); the invitees; the invitations' delegations;
        // their members. Every totalCount is known from its complete page.
        assert_eq!(counts[1], 7, "the host dashboard's statements");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_nested_invitations_page_with_cursors_and_filters_like_the_root_list() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let event = published_event(&app, &host, json!({})).await;
        let mut partners = Vec::new();
        for (name, country) in [("Uzbek commission", "UZ"), ("UK commission", "GB"), ("Bosnian commission", "BA")] {
            partners.push(member(&app, name, Some(country), &[Role::Partner]).await);
        }
        let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
        let invited = invite(&app, &host, &event, &ids, 2, 0).await;
        accept(&app, &partners[0].token, &invited[0]).await;

        let page = |args: &str| format!("query($id: ID!) {{ event(id: $id) {{ invitations({args}) {{
            totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ id status }} }} }} }}");
        let ids_of = |v: &Value| v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        let everything = app.gql(Some(&host.token), &page("first: 10"), json!({ "id": event })).await;
        let all = ids_of(&everything.data()["event"]["invitations"]);
        let mut sorted_all = all.clone();
        sorted_all.sort();
        let mut sorted_invited = invited.clone();
        sorted_invited.sort();
        assert_eq!(sorted_all, sorted_invited);

        let first = app.gql(Some(&host.token), &page("first: 2"), json!({ "id": event })).await;
        let list = &first.data()["event"]["invitations"];
        assert_eq!(list["totalCount"], 3);
        assert_eq!(list["pageInfo"]["hasNextPage"], true);
        assert_eq!(ids_of(list), all[..2].to_vec());

        let cursor = list["pageInfo"]["endCursor"].as_str().unwrap();
        let rest = app.gql(Some(&host.token), &page(&format!("first: 2, after: \"{cursor}\"")), json!({ "id": event })).await;
        let rest = &rest.data()["event"]["invitations"];
        assert_eq!(ids_of(rest), all[2..].to_vec());
        assert_eq!(rest["pageInfo"]["hasNextPage"], false);
        assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);

        let newest = app.gql(Some(&host.token), &page("last: 1"), json!({ "id": event })).await;
        assert_eq!(ids_of(&newest.data()["event"]["invitations"]), all[2..].to_vec());
        let desc = app.gql(Some(&host.token), &page("first: 1, orderBy: { direction: DESC }"), json!({ "id": event })).await;
        assert_eq!(ids_of(&desc.data()["event"]["invitations"]), all[2..].to_vec());

        let accepted = app.gql(Some(&host.token), &page("filter: { statuses: [ACCEPTED] }"), json!({ "id": event })).await;
        let accepted = &accepted.data()["event"]["invitations"];
        assert_eq!(accepted["totalCount"], 1);
        assert_eq!(ids_of(accepted), vec![invited[0].clone()]);
        let by_org = app
            .gql(Some(&host.token), &page("filter: { organizationId: $org }").replace("query($id: ID!)", "query($id: ID!, $org: ID)"),
                json!({ "id": event, "org": partners[1].id }))
            .await;
        assert_eq!(ids_of(&by_org.data()["event"]["invitations"]), vec![invited[1].clone()]);

        // A partner sees only its own invitation under the event, counted alike.
        let mine = app.gql(Some(&partners[1].token), &page("first: 10"), json!({ "id": event })).await;
        assert_eq!(mine.data()["event"]["invitations"]["totalCount"], 1);
        assert_eq!(ids_of(&mine.data()["event"]["invitations"]), vec![invited[1].clone()]);

        // A cursor of another list or ordering, and a page too large, are refused by name.
        let foreign = app
            .gql(Some(&host.token), &page(&format!("after: \"{cursor}\", orderBy: {{ field: UPDATED_AT }}")), json!({ "id": event }))
            .await;
        assert_eq!(foreign.error_field(), "after");
        let huge = app.gql(Some(&host.token), &page("first: 101"), json!({ "id": event })).await;
        assert_eq!(huge.error_field(), "first");
    })
    .await;
}
