//! Who may do what: every operation tried by every kind of caller, both ways.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{INVITE, RESPOND, member, published_event};
use crate::helpers::{TestApp, each_backend};

/// What a caller should get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    Denied(&'static str),
}
use Expect::{Allowed, Denied};

const CALLERS: [&str; 8] = [
    "admin",
    "host coordinator",
    "co-host coordinator (no permissions)",
    "co-host coordinator (every permission)",
    "unrelated coordinator",
    "invited partner",
    "other partner",
    "reader",
];

/// Runs `query` as every caller in `CALLERS` order (denied ones first, so the
/// allowed call's change cannot mask a wrong denial) and checks each outcome.
async fn check(
    app: &TestApp,
    tokens: &[String; 8],
    what: &str,
    query: &str,
    variables: Value,
    expected: [Expect; 8],
) {
    let mut order: Vec<usize> = (0..8).collect();
    order.sort_by_key(|i| expected[*i] == Allowed);
    for i in order {
        let response = app.gql(Some(&tokens[i]), query, variables.clone()).await;
        match expected[i] {
            Allowed => assert!(
                response.body.get("errors").is_none(),
                "{what} by {} should be allowed: {}",
                CALLERS[i],
                response.body
            ),
            Denied(code) => assert_eq!(response.error_code(), code, "{what} by {}", CALLERS[i]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_allowed_to_exactly_the_right_callers() {
    each_backend(|app| async move {
        let host = member(&app, "National Election Commission", Some("KR"), &[Role::Coordinator]).await;
        let co_host = member(&app, "Association of World Election Bodies", None, &[Role::Coordinator]).await;
        let trusted = member(&app, "Korea International Cooperation Agency", Some("KR"), &[Role::Coordinator]).await;
        let unrelated = member(&app, "The Electoral Commission", Some("GB"), &[Role::Coordinator]).await;
        let invitee = member(&app, "Central Election Commission", Some("UZ"), &[Role::Partner]).await;
        let other = member(&app, "Superior Electoral Court", Some("BR"), &[Role::Partner]).await;
        let reader = app.token_for(other.uuid, &[Role::Reader]).await;
        let tokens = [
            app.admin_token.clone(),
            host.token.clone(),
            co_host.token.clone(),
            trusted.token.clone(),
            unrelated.token.clone(),
            invitee.token.clone(),
            other.token.clone(),
            reader,
        ];

        let event = published_event(&app, &host, json!({})).await;
        for (organization, permissions) in [
            (&co_host, json!([])),
            (&trusted, json!(["INVITE", "MANAGE_AGENDA", "REVIEW_APPLICATIONS", "VIEW_ACTIVITY"])),
        ] {
            app.gql(
                Some(&host.token),
                "mutation($input: AddCoHostInput!) { addCoHost(input: $input) { event { id } } }",
                json!({ "input": { "eventId": event, "organizationId": organization.id, "permissions": permissions } }),
            )
            .await
            .data();
        }
        let invited = app
            .gql(Some(&host.token), INVITE, json!({ "input": { "eventId": event, "organizationIds": [invitee.id],
                "seatsOffered": 2, "send": true } }))
            .await;
        let invitation = invited.data()["inviteOrganizations"]["invitations"][0]["id"].as_str().unwrap().to_owned();
        let draft = app
            .gql(Some(&host.token), "mutation { createEvent(input: { kind: FORUM, title: \"Draft forum\",
                timeZone: \"Asia/Seoul\", startDate: \"2030-05-08\", endDate: \"2030-05-08\" }) { event { id } } }", json!({}))
            .await;
        let draft = draft.data()["createEvent"]["event"]["id"].as_str().unwrap().to_owned();
        let before = rows(&app).await;

        let nf = Denied("NOT_FOUND");
        let fb = Denied("FORBIDDEN");
        check(&app, &tokens, "read a published event", "query($id: ID!) { event(id: $id) { title } }",
            json!({ "id": event }), [Allowed; 8]).await;
        check(&app, &tokens, "read a draft", "query($id: ID!) { event(id: $id) { title } }",
            json!({ "id": draft }), [nf, Allowed, nf, nf, nf, nf, nf, nf]).await;
        check(&app, &tokens, "read a draft by node", "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": draft }), [nf, Allowed, nf, nf, nf, nf, nf, nf]).await;
        check(&app, &tokens, "update the event",
            "mutation($id: ID!) { updateEvent(input: { id: $id, venue: \"Songdo Convensia\" }) { event { venue } } }",
            json!({ "id": event }), [fb, Allowed, fb, fb, fb, fb, fb, fb]).await;
        check(&app, &tokens, "add a session",
            "mutation($id: ID!) { addSession(input: { eventId: $id, kind: BRIEFING, title: \"Briefing\",
                startsAt: \"2030-05-04T01:00:00Z\", endsAt: \"2030-05-04T02:00:00Z\" }) { session { id } } }",
            json!({ "id": event }), [fb, Allowed, fb, Allowed, fb, fb, fb, fb]).await;
        check(&app, &tokens, "invite organizations", INVITE,
            json!({ "input": { "eventId": event, "organizationIds": [other.id], "seatsOffered": 1 } }),
            [fb, Allowed, fb, Allowed, fb, fb, fb, fb]).await;
        check(&app, &tokens, "answer the invitation", RESPOND,
            json!({ "input": { "id": invitation, "accept": true } }),
            [nf, fb, fb, fb, nf, Allowed, nf, nf]).await;
        check(&app, &tokens, "create an organization",
            "mutation { createOrganization(input: { kind: NGO, name: \"Election Watch\" }) { organization { id } } }",
            json!({}), [Allowed, fb, fb, fb, fb, fb, fb, fb]).await;
        check(&app, &tokens, "read the audit log of the event",
            "query($id: ID!) { auditLog(entityId: $id) { nodes { action } } }",
            json!({ "id": event }), [nf, Allowed, fb, Allowed, nf, nf, nf, nf]).await;
        check(&app, &tokens, "change a co-host's permissions",
            "mutation($input: UpdateCoHostPermissionsInput!) { updateCoHostPermissions(input: $input) { event { id } } }",
            json!({ "input": { "eventId": event, "organizationId": co_host.id, "permissions": [] } }),
            [fb, Allowed, fb, fb, fb, fb, fb, fb]).await;
        check(&app, &tokens, "change the event's co-hosts",
            "mutation($input: CoHostInput!) { removeCoHost(input: $input) { event { id } } }",
            json!({ "input": { "eventId": event, "organizationId": unrelated.id } }),
            [fb, Allowed, fb, fb, fb, fb, fb, fb]).await;

        // Every denial above changed nothing; the allowed calls made exactly their changes.
        let after = rows(&app).await;
        let expected = vec![
            before[0] + 1, // the organization the admin created
            before[1],
            before[2] + 2, // the host's session and the trusted co-host's
            before[3] + 1, // the host's invitation to the other partner (the co-host's returns it)
            before[4] + 1, // the invitee's delegation
            before[5],
        ];
        assert_eq!(after, expected);

        // Lists show each caller only its share.
        // The invitation to the other partner is still a draft: invisible to it.
        let counts = [0, 2, 2, 2, 0, 1, 0, 0];
        for (i, token) in tokens.iter().enumerate() {
            let listed = app.gql(Some(token), "{ invitations { totalCount } }", json!({})).await;
            assert_eq!(listed.data()["invitations"]["totalCount"], counts[i], "invitations seen by {}", CALLERS[i]);
        }
    })
    .await;
}

async fn rows(app: &TestApp) -> Vec<i64> {
    let mut n = Vec::new();
    for t in [
        "organizations",
        "events",
        "sessions",
        "invitations",
        "delegations",
        "event_co_hosts",
    ] {
        n.push(app.count_rows(t).await);
    }
    n
}
