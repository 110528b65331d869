//! Arranging the world of a test through the API: organizations with clients,
//! published events, invitations and delegations.

use embhub::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{GqlResponse, TestApp};

/// An organization with a token for one role.
#[derive(Clone)]
pub struct Member {
    pub id: String,
    pub uuid: Uuid,
    pub token: String,
}

/// Creates an EMB of `country` and a client of it with `roles`.
pub async fn member(app: &TestApp, name: &str, country: Option<&str>, roles: &[Role]) -> Member {
    let (id, uuid) = app.create_org(name, country).await;
    let token = app.token_for(uuid, roles).await;
    Member { id, uuid, token }
}

/// A published event of the host, from 2030-05-04 to 2030-05-10 in Seoul.
pub async fn published_event(app: &TestApp, host: &Member, extra: Value) -> String {
    let mut input = json!({
        "kind": "ELECTION_VISITOR_PROGRAM", "title": "Election Visitor Program",
        "timeZone": "Asia/Seoul", "startDate": "2030-05-04", "endDate": "2030-05-10",
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        input[k] = v.clone();
    }
    let created = app
        .gql(
            Some(&host.token),
            "mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } } }",
            json!({ "input": input }),
        )
        .await;
    let id = created.data()["createEvent"]["event"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        Some(&host.token),
        "mutation($id: ID!) { publishEvent(input: { id: $id }) { event { status } } }",
        json!({ "id": id }),
    )
    .await
    .data();
    id
}

pub const INVITE: &str = "mutation($input: InviteOrganizationsInput!) {
    inviteOrganizations(input: $input) { invitations { id status seatsOffered fundedSeats organization { name } } } }";

/// Sends invitations with `seats` seats (`funded` of them funded) and returns
/// their ids in order.
pub async fn invite(
    app: &TestApp,
    host: &Member,
    event: &str,
    orgs: &[&str],
    seats: i32,
    funded: i32,
) -> Vec<String> {
    let response = app
        .gql(
            Some(&host.token),
            INVITE,
            json!({ "input": { "eventId": event, "organizationIds": orgs, "seatsOffered": seats,
                "fundedSeats": funded, "fundingCovers": if funded > 0 { json!(["AIRFARE", "ACCOMMODATION"]) } else { json!([]) },
                "respondBy": "2030-04-01T00:00:00Z", "send": true } }),
        )
        .await;
    response.data()["inviteOrganizations"]["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

pub const RESPOND: &str = "mutation($input: RespondToInvitationInput!) {
    respondToInvitation(input: $input) { invitation { id status version delegation { id status } } } }";

/// Answers an invitation; returns the raw response.
pub async fn respond(app: &TestApp, token: &str, invitation: &str, accept: bool) -> GqlResponse {
    app.gql(
        Some(token),
        RESPOND,
        json!({ "input": { "id": invitation, "accept": accept } }),
    )
    .await
}

/// Accepts an invitation and returns the delegation's id.
pub async fn accept(app: &TestApp, token: &str, invitation: &str) -> String {
    let response = respond(app, token, invitation, true).await;
    response.data()["respondToInvitation"]["invitation"]["delegation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const ADD_PARTICIPANT: &str = "mutation($input: AddParticipantInput!) {
    addParticipant(input: $input) { participant { id fullName funded nationality passportNumber } } }";

/// Registers a participant; returns the raw response.
pub async fn add_participant(
    app: &TestApp,
    token: &str,
    delegation: &str,
    name: &str,
    funded: bool,
) -> GqlResponse {
    app.gql(
        Some(token),
        ADD_PARTICIPANT,
        json!({ "input": { "delegationId": delegation, "fullName": name, "funded": funded,
            "nationality": "UZ", "dateOfBirth": "1980-01-02", "passportNumber": "FA1234567" } }),
    )
    .await
}
