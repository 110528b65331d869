//! Sorting the participation lists by status and searching them by the
//! organization's name or acronym, at the root and under an event, with exact
//! cursors, on both databases.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, invite, published_event, respond};
use crate::helpers::{TestApp, each_backend, global_uuid};

/// The host, its event, and four invited organizations: Alpha (ACCEPTED),
/// Beta (DECLINED), Gamma and Delta (SENT), Alpha's and Gamma's delegations.
struct World {
    host: Member,
    event: String,
    names: Vec<String>,
}

async fn organization(app: &TestApp, name: &str, acronym: &str) -> Member {
    let created = app
        .gql(
            Some(&app.admin_token),
            "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }",
            json!({ "input": { "kind": "ELECTION_MANAGEMENT_BODY", "name": name, "acronym": acronym, "countryCode": "KR" } }),
        )
        .await;
    let id = created.data()["createOrganization"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let uuid = global_uuid(&id);
    let token = app.token_for(uuid, &[Role::Partner]).await;
    Member { id, uuid, token }
}

async fn arrange(app: &TestApp) -> World {
    let host = organization(app, "National Election Commission", "NEC").await;
    let host = Member {
        token: app.token_for(host.uuid, &[Role::Coordinator]).await,
        ..host
    };
    let names = [
        ("Alpha Election Commission", "ALP"),
        ("Beta Electoral Board", "BEB"),
        ("Gamma Election Commission", "GCM"),
        ("Delta Institute", "DLT"),
    ];
    let mut orgs = Vec::new();
    for (name, acronym) in names {
        orgs.push(organization(app, name, acronym).await);
    }
    let event = published_event(app, &host, json!({})).await;
    let ids: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    let invitations = invite(app, &host, &event, &ids, 2, 0).await;
    accept(app, &orgs[0].token, &invitations[0]).await;
    respond(app, &orgs[1].token, &invitations[1], false)
        .await
        .data();
    accept(app, &orgs[2].token, &invitations[2]).await;
    World {
        host,
        event,
        names: names.iter().map(|(n, _)| (*n).to_owned()).collect(),
    }
}

const INVITATIONS: &str =
    "query($order: ParticipationOrder, $first: Int, $after: String, $search: String) {
  invitations(orderBy: $order, first: $first, after: $after, filter: { search: $search }) {
    totalCount pageInfo { hasNextPage endCursor } nodes { status organization { name } } } }";

fn rows(list: &Value) -> Vec<(String, String)> {
    list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["status"].as_str().unwrap().to_owned(),
                n["organization"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn participation_lists_sort_by_status_with_exact_cursors() {
    each_backend(|app| async move {
        let w = arrange(&app).await;
        let token = &w.host.token;

        let asc = app
            .gql(Some(token), INVITATIONS, json!({ "order": { "field": "STATUS" } }))
            .await;
        let asc = rows(&asc.data()["invitations"]);
        let statuses: Vec<&str> = asc.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(statuses, ["ACCEPTED", "ACCEPTED", "DECLINED", "SENT"], "{asc:?}");

        // One at a time with cursors: the same order, nothing skipped or repeated
        // among equal statuses.
        let mut paged = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app
                .gql(Some(token), INVITATIONS,
                    json!({ "order": { "field": "STATUS" }, "first": 1, "after": after }))
                .await;
            let list = &page.data()["invitations"];
            paged.extend(rows(list));
            if list["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = list["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(paged, asc);

        let desc = app
            .gql(Some(token), INVITATIONS,
                json!({ "order": { "field": "STATUS", "direction": "DESC" } }))
            .await;
        let mut reversed = asc.clone();
        reversed.reverse();
        let desc = rows(&desc.data()["invitations"]);
        let desc_statuses: Vec<&str> = desc.iter().map(|(s, _)| s.as_str()).collect();
        let reversed_statuses: Vec<&str> = reversed.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(desc_statuses, reversed_statuses);

        // The same ordering under the event, for invitations and delegations.
        let nested = app
            .gql(Some(token),
                "query($id: ID!) { event(id: $id) {
                   invitations(orderBy: { field: STATUS, direction: DESC }) { nodes { status organization { name } } }
                   delegations(orderBy: { field: STATUS }) { nodes { status } }
                   applications(orderBy: { field: STATUS }) { totalCount } } }",
                json!({ "id": w.event }))
            .await;
        let nested_statuses: Vec<String> = rows(&nested.data()["event"]["invitations"])
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(nested_statuses, reversed_statuses);
        assert_eq!(nested.data()["event"]["delegations"]["nodes"].as_array().unwrap().len(), 2);

        // A cursor of another ordering is refused.
        let by_creation = app
            .gql(Some(token), INVITATIONS, json!({ "first": 1 }))
            .await;
        let cursor = by_creation.data()["invitations"]["pageInfo"]["endCursor"].clone();
        let refused = app
            .gql(Some(token), INVITATIONS,
                json!({ "order": { "field": "STATUS" }, "after": cursor }))
            .await;
        assert_eq!(refused.error_code(), "BAD_USER_INPUT");
        assert_eq!(refused.error_field(), "after");
    })
    .await;
}

#[tokio::test]
async fn invitations_and_delegations_are_searched_by_organization_name_or_acronym() {
    each_backend(|app| async move {
        let w = arrange(&app).await;
        let token = &w.host.token;
        let names = |list: &Value| -> Vec<String> {
            let mut names: Vec<String> = rows(list).into_iter().map(|(_, n)| n).collect();
            names.sort();
            names
        };

        // Any case, in the name or the acronym; the total counts the matches.
        let found = app
            .gql(Some(token), INVITATIONS, json!({ "search": "eLeCtIoN cOmMiSsIoN" }))
            .await;
        let list = &found.data()["invitations"];
        assert_eq!(names(list), [w.names[0].clone(), w.names[2].clone()]);
        assert_eq!(list["totalCount"], 2);
        let found = app
            .gql(Some(token), INVITATIONS, json!({ "search": "beb" }))
            .await;
        assert_eq!(names(&found.data()["invitations"]), [w.names[1].clone()]);
        // Wildcards are plain characters; nothing matches them.
        for search in ["%", "_"] {
            let found = app
                .gql(Some(token), INVITATIONS, json!({ "search": search }))
                .await;
            assert_eq!(found.data()["invitations"]["totalCount"], 0, "{search}");
        }
        // A blank search is no condition.
        let found = app
            .gql(Some(token), INVITATIONS, json!({ "search": "  " }))
            .await;
        assert_eq!(found.data()["invitations"]["totalCount"], 4);

        // Delegations, at the root and under the event.
        let delegations = app
            .gql(Some(token),
                "query($id: ID!) {
                   root: delegations(filter: { search: \"gcm\" }) { totalCount nodes { organization { name } } }
                   event(id: $id) { delegations(filter: { search: \"alpha\" }) { totalCount nodes { organization { name } } } } }",
                json!({ "id": w.event }))
            .await;
        let data = delegations.data();
        assert_eq!(data["root"]["totalCount"], 1);
        assert_eq!(data["root"]["nodes"][0]["organization"]["name"], w.names[2].as_str());
        assert_eq!(data["event"]["delegations"]["totalCount"], 1);
        assert_eq!(data["event"]["delegations"]["nodes"][0]["organization"]["name"], w.names[0].as_str());

        // A partner's search stays within what it may see.
        let beta = app
            .gql(Some(&w.host.token), "{ organizations(filter: { search: \"BEB\" }) { nodes { id } } }", json!({}))
            .await;
        let beta = global_uuid(beta.data()["organizations"]["nodes"][0]["id"].as_str().unwrap());
        let partner = app.token_for(beta, &[Role::Partner]).await;
        let theirs = app
            .gql(Some(&partner), INVITATIONS, json!({ "search": "commission" }))
            .await;
        assert_eq!(theirs.data()["invitations"]["totalCount"], 0);
    })
    .await;
}
