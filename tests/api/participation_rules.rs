//! Rules of the participation workflow found by the outside review: drafts the
//! invitee never saw, events that are over, seats taken when accepting, and the
//! head of a delegation.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{INVITE, RESPOND, accept, add_participant, invite, member, published_event};
use crate::helpers::{TestApp, each_backend, global_uuid};

const APPLY: &str = "mutation($input: ApplyToEventInput!) { applyToEvent(input: $input) { application { id status } } }";
const DECIDE: &str = "mutation($input: DecideApplicationInput!) { decideApplication(input: $input) {
    application { status invitation { id status seatsOffered seatsAccepted delegation { id status } } } } }";

fn apply_input(event: &str) -> Value {
    json!({ "input": { "eventId": event, "motivation": "We reform our electoral law", "seatsRequested": 2 } })
}

/// Moves the event's dates into the past, as time would.
async fn arrange_event_ended(app: &TestApp, event: &str) {
    use embhub::entity::event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    event::Entity::update_many()
        .col_expr(event::Column::StartDate, Expr::value(day("2020-05-04")))
        .col_expr(event::Column::EndDate, Expr::value(day("2020-05-10")))
        .filter(event::Column::Id.eq(global_uuid(event)))
        .exec(&app.db)
        .await
        .expect("arrange an ended event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_invitation_does_not_stop_its_invitee_from_applying() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let seminar = published_event(&app, &host, json!({ "kind": "SEMINAR", "title": "Seminar",
            "participationMode": "APPLICATIONS_OPEN", "applicationDeadline": "2030-04-30T00:00:00Z" })).await;
        // The host drafts an invitation to the UK and does not send it.
        let drafted = app.gql(Some(&host.token), INVITE, json!({ "input": { "eventId": seminar,
            "organizationIds": [uk.id], "seatsOffered": 3, "send": false } })).await;
        let draft = drafted.data()["inviteOrganizations"]["invitations"][0]["id"].as_str().unwrap().to_owned();

        // For the UK the draft does not exist: it sees no invitation and may apply.
        let seen = app.gql(Some(&uk.token), "query($e: ID!) { invitations(filter: { eventId: $e }) { totalCount } }",
            json!({ "e": seminar })).await;
        assert_eq!(seen.data()["invitations"]["totalCount"], 0);
        let applied = app.gql(Some(&uk.token), APPLY, apply_input(&seminar)).await;
        let application = applied.data()["applyToEvent"]["application"]["id"].as_str().unwrap().to_owned();

        // Accepting the application turns the draft into the accepted invitation:
        // still one invitation per event and organization, with the decision's terms.
        let accepted = app.gql(Some(&host.token), DECIDE, json!({ "input": { "id": application, "accept": true } })).await;
        let invitation = &accepted.data()["decideApplication"]["application"]["invitation"];
        assert_eq!(invitation["id"], draft.as_str());
        assert_eq!(invitation["status"], "ACCEPTED");
        assert_eq!(invitation["seatsOffered"], 2);
        assert_eq!(invitation["seatsAccepted"], 2);
        assert_eq!(invitation["delegation"]["status"], "FORMING");
        assert_eq!(app.count_rows("invitations").await, 1);
        assert_eq!(app.count_rows("delegations").await, 1);

        // An invitation the UK can see still sends it to answer that one instead.
        let other = published_event(&app, &host, json!({ "kind": "SEMINAR", "title": "Second seminar",
            "participationMode": "APPLICATIONS_OPEN", "applicationDeadline": "2030-04-30T00:00:00Z" })).await;
        invite(&app, &host, &other, &[&uk.id], 2, 0).await;
        let refused = app.gql(Some(&uk.token), APPLY, apply_input(&other)).await;
        assert_eq!(refused.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("applications").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_answered_applied_to_or_registered_once_the_event_is_over() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let uk = member(&app, "Electoral Commission", Some("GB"), &[Role::Partner]).await;
        let uz = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;

        // An invitation without a respond-by to an event that has ended reads as
        // EXPIRED and cannot be answered.
        let past = published_event(&app, &host, json!({ "title": "Visitor Program 2020",
            "startDate": "2020-05-04", "endDate": "2020-05-10" })).await;
        let sent = app.gql(Some(&host.token), INVITE, json!({ "input": { "eventId": past,
            "organizationIds": [uk.id], "seatsOffered": 2, "send": true } })).await;
        let late = sent.data()["inviteOrganizations"]["invitations"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(sent.data()["inviteOrganizations"]["invitations"][0]["status"], "EXPIRED");
        let answer = app.gql(Some(&uk.token), RESPOND, json!({ "input": { "id": late, "accept": true } })).await;
        assert_eq!(answer.error_code(), "CONFLICT");
        let expired = app.gql(Some(&uk.token), "{ invitations(filter: { statuses: [EXPIRED] }) { totalCount } }", json!({})).await;
        assert_eq!(expired.data()["invitations"]["totalCount"], 1);
        assert_eq!(app.count_rows("delegations").await, 0);

        // Applications to an ended event are refused.
        let old_seminar = published_event(&app, &host, json!({ "kind": "SEMINAR", "title": "Seminar 2020",
            "startDate": "2020-10-16", "endDate": "2020-10-20", "participationMode": "APPLICATIONS_OPEN",
            "applicationDeadline": "2020-08-31T00:00:00Z" })).await;
        assert_eq!(app.gql(Some(&uz.token), APPLY, apply_input(&old_seminar)).await.error_code(), "CONFLICT");

        // A delegation formed before the event cannot add members once it ended.
        let event = published_event(&app, &host, json!({ "title": "Forum" })).await;
        let invitation = invite(&app, &host, &event, &[&uz.id], 2, 0).await;
        let delegation = accept(&app, &uz.token, &invitation[0]).await;
        arrange_event_ended(&app, &event).await;
        let added = add_participant(&app, &uz.token, &delegation, "Mirza Karimov", false).await;
        assert_eq!(added.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("participants").await, 0);

        // A COMPLETED event takes no answers either, even before its dates.
        let completed = published_event(&app, &host, json!({ "title": "Completed early" })).await;
        let open = invite(&app, &host, &completed, &[&uk.id], 1, 0).await;
        app.gql(Some(&host.token), "mutation($id: ID!) { completeEvent(input: { id: $id }) { event { status } } }",
            json!({ "id": completed })).await.data();
        let too_late = app.gql(Some(&uk.token), RESPOND, json!({ "input": { "id": open[0], "accept": false } })).await;
        assert_eq!(too_late.error_code(), "CONFLICT");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_accepts_fewer_seats_and_the_delegation_keeps_to_them() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let uz = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let event = published_event(&app, &host, json!({})).await;
        // Four seats offered, three of them funded.
        let invitation = invite(&app, &host, &event, &[&uz.id], 4, 3).await.remove(0);
        let answer = |seats: Value| json!({ "input": { "id": invitation, "accept": true, "seatsAccepted": seats } });
        const ACCEPT: &str = "mutation($input: RespondToInvitationInput!) { respondToInvitation(input: $input) {
            invitation { status seatsOffered seatsAccepted fundedSeats fundedSeatsAvailable delegation { id } } } }";

        let too_many = app.gql(Some(&uz.token), ACCEPT, answer(json!(5))).await;
        assert_eq!(too_many.error_field(), "seatsAccepted");
        let none = app.gql(Some(&uz.token), ACCEPT, answer(json!(0))).await;
        assert_eq!(none.error_field(), "seatsAccepted");
        assert_eq!(app.count_rows("delegations").await, 0);

        let accepted = app.gql(Some(&uz.token), ACCEPT, answer(json!(2))).await;
        let result = &accepted.data()["respondToInvitation"]["invitation"];
        assert_eq!(result["status"], "ACCEPTED");
        assert_eq!(result["seatsOffered"], 4);
        assert_eq!(result["seatsAccepted"], 2);
        assert_eq!(result["fundedSeats"], 3);
        assert_eq!(result["fundedSeatsAvailable"], 2);
        // The same answer again is safe; a different seat count contradicts it.
        let again = app.gql(Some(&uz.token), ACCEPT, answer(json!(2))).await;
        assert_eq!(again.data()["respondToInvitation"]["invitation"]["seatsAccepted"], 2);
        assert_eq!(app.gql(Some(&uz.token), ACCEPT, answer(json!(3))).await.error_code(), "CONFLICT");

        // Two members fit (both funded); a third does not.
        let delegation = result["delegation"]["id"].as_str().unwrap().to_owned();
        add_participant(&app, &uz.token, &delegation, "Mirza Karimov", true).await.data();
        add_participant(&app, &uz.token, &delegation, "Dilnoza Rashidova", true).await.data();
        let third = add_participant(&app, &uz.token, &delegation, "Aziz Nurmatov", false).await;
        assert_eq!(third.error_code(), "CONFLICT");
        assert_eq!(app.count_rows("participants").await, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_has_one_head_and_delegation_head_is_that_participant() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let uz = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let event = published_event(&app, &host, json!({})).await;
        let invitation = invite(&app, &host, &event, &[&uz.id], 4, 0).await;
        let delegation = accept(&app, &uz.token, &invitation[0]).await;
        const ADD: &str = "mutation($input: AddParticipantInput!) { addParticipant(input: $input) { participant { id role } } }";
        const UPDATE: &str = "mutation($input: UpdateParticipantInput!) { updateParticipant(input: $input) { participant { id role } } }";
        const HEAD: &str = "query($id: ID!) { node(id: $id) { ... on Delegation { head { fullName role }
            participants { nodes { fullName role } } } } }";
        let add = |name: &str, role: &str| json!({ "input": { "delegationId": delegation, "fullName": name, "role": role } });
        let head_of = |response: &crate::helpers::GqlResponse| response.data()["node"]["head"].clone();

        // Registering a HEAD makes it the delegation's head.
        let karimov = app.gql(Some(&uz.token), ADD, add("Mirza Karimov", "HEAD")).await;
        let karimov = karimov.data()["addParticipant"]["participant"]["id"].as_str().unwrap().to_owned();
        let view = app.gql(Some(&uz.token), HEAD, json!({ "id": delegation })).await;
        assert_eq!(head_of(&view), json!({ "fullName": "Mirza Karimov", "role": "HEAD" }));

        // A second HEAD is refused, whether added or promoted.
        let second = app.gql(Some(&uz.token), ADD, add("Dilnoza Rashidova", "HEAD")).await;
        assert_eq!(second.error_code(), "CONFLICT");
        let rashidova = app.gql(Some(&uz.token), ADD, add("Dilnoza Rashidova", "MEMBER")).await;
        let rashidova = rashidova.data()["addParticipant"]["participant"]["id"].as_str().unwrap().to_owned();
        let promoted = app.gql(Some(&uz.token), UPDATE, json!({ "input": { "id": rashidova, "role": "HEAD" } })).await;
        assert_eq!(promoted.error_code(), "CONFLICT");

        // Naming another head on the delegation moves the role with it.
        app.gql(Some(&uz.token), "mutation($input: UpdateDelegationInput!) { updateDelegation(input: $input) { delegation { id } } }",
            json!({ "input": { "id": delegation, "headParticipantId": rashidova } })).await.data();
        let view = app.gql(Some(&uz.token), HEAD, json!({ "id": delegation })).await;
        assert_eq!(head_of(&view), json!({ "fullName": "Dilnoza Rashidova", "role": "HEAD" }));
        let roles: Vec<Value> = view.data()["node"]["participants"]["nodes"].as_array().unwrap().clone();
        assert_eq!(roles, vec![
            json!({ "fullName": "Mirza Karimov", "role": "MEMBER" }),
            json!({ "fullName": "Dilnoza Rashidova", "role": "HEAD" }),
        ]);

        // The head stepping down as HEAD leaves the delegation without one.
        app.gql(Some(&uz.token), UPDATE, json!({ "input": { "id": rashidova, "role": "SPEAKER" } })).await.data();
        let view = app.gql(Some(&uz.token), HEAD, json!({ "id": delegation })).await;
        assert_eq!(head_of(&view), Value::Null);
        // And a member promoted to HEAD becomes it.
        app.gql(Some(&uz.token), UPDATE, json!({ "input": { "id": karimov, "role": "HEAD" } })).await.data();
        let view = app.gql(Some(&uz.token), HEAD, json!({ "id": delegation })).await;
        assert_eq!(head_of(&view), json!({ "fullName": "Mirza Karimov", "role": "HEAD" }));
    })
    .await;
}
