//! Sorting the participation lists by status and by the organization's name,
//! and searching them by the organization's name or acronym, at the root and
//! under an event, with exact cursors, on both databases.

use embhub::auth::Role;
use serde_json::{Value, json};

use crate::fixtures::{Member, accept, invite, member, published_event, respond};
use crate::helpers::{TestApp, each_backend, each_backend_with, global_uuid};

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

/// A host with three events and five invitees, two of them namesakes in different
/// countries: the participation lists sorted by organization name, with ties
/// among one organization's records and among namesakes.
struct Directory {
    host: Member,
    /// Two invitation programs and a seminar open to applications.
    events: [String; 3],
}

const ANDEAN: &str = "Andean Electoral Council";
const INDEPENDENT: &str = "Independent Election Commission";
const MONGOLIAN: &str = "Mongolian General Election Commission";
const ZANZIBAR: &str = "Zanzibar Electoral Commission";

/// Invitations: all five invitees to the first event; Zanzibar, Andean and the
/// Kenyan Independent commission to the second. Delegations: Zanzibar's and
/// both Independent commissions' at the first, Andean's and the Kenyan one's at
/// the second. Applications to the seminar: Zanzibar, the Afghan Independent
/// commission, Andean. Created out of name order, so no list is in name order by
/// accident.
async fn arrange_directory(app: &TestApp) -> Directory {
    let host = member(
        app,
        "National Election Commission",
        Some("KR"),
        &[Role::Coordinator],
    )
    .await;
    let partner = |name, country| member(app, name, Some(country), &[Role::Partner]);
    let zanzibar = partner(ZANZIBAR, "TZ").await;
    let kenya = partner(INDEPENDENT, "KE").await;
    let andean = partner(ANDEAN, "PE").await;
    let afghanistan = partner(INDEPENDENT, "AF").await;
    let mongolian = partner(MONGOLIAN, "MN").await;

    let first = published_event(
        app,
        &host,
        json!({ "title": "Election Visitor Program 2030" }),
    )
    .await;
    let second = published_event(
        app,
        &host,
        json!({ "title": "Election Visitor Program 2031",
        "startDate": "2031-05-04", "endDate": "2031-05-10" }),
    )
    .await;
    let seminar = published_event(
        app,
        &host,
        json!({ "kind": "SEMINAR", "title": "Seminar on Election Laws",
        "participationMode": "APPLICATIONS_OPEN", "applicationDeadline": "2030-04-30T00:00:00Z" }),
    )
    .await;

    let everyone = [&zanzibar, &kenya, &andean, &afghanistan, &mongolian];
    let ids: Vec<&str> = everyone.iter().map(|m| m.id.as_str()).collect();
    let at_first = invite(app, &host, &first, &ids, 2, 0).await;
    let at_second = invite(
        app,
        &host,
        &second,
        &[&zanzibar.id, &andean.id, &kenya.id],
        2,
        0,
    )
    .await;
    for (member, invitation) in [
        (&zanzibar, &at_first[0]),
        (&kenya, &at_first[1]),
        (&afghanistan, &at_first[3]),
        (&andean, &at_second[1]),
        (&kenya, &at_second[2]),
    ] {
        accept(app, &member.token, invitation).await;
    }
    let apply = "mutation($input: ApplyToEventInput!) { applyToEvent(input: $input) { application { id } } }";
    for member in [&zanzibar, &afghanistan, &andean] {
        app.gql(Some(&member.token), apply,
            json!({ "input": { "eventId": seminar, "motivation": "Electoral reform", "seatsRequested": 1 } }))
            .await
            .data();
    }
    Directory {
        host,
        events: [first, second, seminar],
    }
}

/// One page of root list `list` (`invitations`, `applications`, `delegations`).
fn list_query(list: &str) -> String {
    format!(
        "query($order: ParticipationOrder, $first: Int, $after: String, $last: Int, $before: String) {{
  {list}(orderBy: $order, first: $first, after: $after, last: $last, before: $before) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    nodes {{ id organization {{ name }} }} }} }}"
    )
}

/// The organization's name and the record's id of each node of a connection.
fn named(list: &Value) -> Vec<(String, uuid::Uuid)> {
    list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let name = n["organization"]["name"].as_str().unwrap().to_owned();
            (name, global_uuid(n["id"].as_str().unwrap()))
        })
        .collect()
}

/// Every record of `list` in `order`, read `size` at a time forward (first/after)
/// or backward (last/before), checking each page's flags on the way.
async fn walk(
    app: &TestApp,
    token: &str,
    list: &str,
    order: &Value,
    size: i64,
    backward: bool,
) -> Vec<(String, uuid::Uuid)> {
    let query = list_query(list);
    let mut seen: Vec<(String, uuid::Uuid)> = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let variables = if backward {
            json!({ "order": order, "last": size, "before": cursor })
        } else {
            json!({ "order": order, "first": size, "after": cursor })
        };
        let response = app.gql(Some(token), &query, variables).await;
        let page = &response.data()[list];
        let rows = named(page);
        assert!(rows.len() as i64 <= size, "{list}: {rows:?}");
        let info = &page["pageInfo"];
        let (more, came_from) = if backward {
            (info["hasPreviousPage"] == true, info["hasNextPage"] == true)
        } else {
            (info["hasNextPage"] == true, info["hasPreviousPage"] == true)
        };
        assert_eq!(
            came_from,
            !cursor.is_null(),
            "{list}: a page after a cursor says so"
        );
        if backward {
            seen.splice(0..0, rows);
            cursor = info["startCursor"].clone();
        } else {
            seen.extend(rows);
            cursor = info["endCursor"].clone();
        }
        if !more {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participation_lists_sort_by_organization_name_and_page_both_ways_with_exact_cursors() {
    each_backend(|app| async move {
        let d = arrange_directory(&app).await;
        let token = &d.host.token;
        let asc = json!({ "field": "ORGANIZATION_NAME" });
        let desc = json!({ "field": "ORGANIZATION_NAME", "direction": "DESC" });
        let expected: [(&str, Vec<&str>); 3] = [
            (
                "invitations",
                vec![
                    ANDEAN,
                    ANDEAN,
                    INDEPENDENT,
                    INDEPENDENT,
                    INDEPENDENT,
                    MONGOLIAN,
                    ZANZIBAR,
                    ZANZIBAR,
                ],
            ),
            ("applications", vec![ANDEAN, INDEPENDENT, ZANZIBAR]),
            (
                "delegations",
                vec![ANDEAN, INDEPENDENT, INDEPENDENT, INDEPENDENT, ZANZIBAR],
            ),
        ];
        for (list, names) in expected {
            // In one page: by name, records of one name by id (one organization's
            // invitations to two events, or namesakes in two countries).
            let all = app
                .gql(Some(token), &list_query(list), json!({ "order": asc }))
                .await;
            let all = named(&all.data()[list]);
            assert_eq!(
                all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
                names,
                "{list}"
            );
            let mut by_name_then_id = all.clone();
            by_name_then_id.sort();
            assert_eq!(all, by_name_then_id, "{list}: ties are broken by id");

            // Descending is the exact reverse, ties included.
            let reversed = app
                .gql(Some(token), &list_query(list), json!({ "order": desc }))
                .await;
            let mut expected_desc = all.clone();
            expected_desc.reverse();
            assert_eq!(named(&reversed.data()[list]), expected_desc, "{list} DESC");

            // Paged with cursors, forward and backward, either way round: the same
            // records, none skipped or repeated, page edges falling inside ties.
            for size in [2, 3] {
                assert_eq!(
                    walk(&app, token, list, &asc, size, false).await,
                    all,
                    "{list} first {size}"
                );
                assert_eq!(
                    walk(&app, token, list, &asc, size, true).await,
                    all,
                    "{list} last {size}"
                );
                assert_eq!(
                    walk(&app, token, list, &desc, size, false).await,
                    expected_desc,
                    "{list} DESC first {size}"
                );
                assert_eq!(
                    walk(&app, token, list, &desc, size, true).await,
                    expected_desc,
                    "{list} DESC last {size}"
                );
            }

            // A cursor of another ordering, or of the other direction, is refused.
            let query = list_query(list);
            let by_creation = app.gql(Some(token), &query, json!({ "first": 1 })).await;
            let by_status = app
                .gql(
                    Some(token),
                    &query,
                    json!({ "first": 1, "order": { "field": "STATUS" } }),
                )
                .await;
            let by_name_desc = app
                .gql(Some(token), &query, json!({ "first": 1, "order": desc }))
                .await;
            for foreign in [by_creation, by_status, by_name_desc] {
                let cursor = foreign.data()[list]["pageInfo"]["endCursor"].clone();
                let refused = app
                    .gql(
                        Some(token),
                        &query,
                        json!({ "order": asc, "after": cursor }),
                    )
                    .await;
                assert_eq!(refused.error_code(), "BAD_USER_INPUT", "{list}");
                assert_eq!(refused.error_field(), "after", "{list}");
            }
        }
    })
    .await;
}

/// A host's events, each with a page of its invitations in `$order`.
const EVENTS_WITH_INVITATIONS: &str = "query($host: ID!, $order: ParticipationOrder) {
  events(first: 10, filter: { hostId: $host }) { nodes { id
    invitations(first: 3, orderBy: $order) { totalCount
      pageInfo { hasNextPage endCursor } nodes { id organization { name } } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_events_lists_its_invitations_by_organization_name_in_the_same_statements() {
    let wide_window = |s: &mut embhub::config::Settings| {
        s.loader_batch_window = std::time::Duration::from_millis(25)
    };
    each_backend_with(wide_window, |app| async move {
        let d = arrange_directory(&app).await;
        let token = &d.host.token;
        let [first, second, seminar] = &d.events;
        let by_name = json!({ "field": "ORGANIZATION_NAME" });
        let variables = |order: &Value| json!({ "host": d.host.id, "order": order });

        let response = app
            .gql(Some(token), EVENTS_WITH_INVITATIONS, variables(&by_name))
            .await;
        let events = response.data()["events"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        let of =
            |event: &str| events.iter().find(|e| e["id"] == event).unwrap()["invitations"].clone();
        let names = |list: &Value| named(list).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(names(&of(first)), [ANDEAN, INDEPENDENT, INDEPENDENT]);
        assert_eq!(of(first)["totalCount"], 5);
        assert_eq!(of(first)["pageInfo"]["hasNextPage"], true);
        assert_eq!(names(&of(second)), [ANDEAN, INDEPENDENT, ZANZIBAR]);
        assert_eq!(of(second)["pageInfo"]["hasNextPage"], false);
        assert_eq!(of(seminar)["totalCount"], 0);

        // The event's next page follows on from its cursor; backward from the end
        // and descending read the same records the other way.
        let nested =
            "query($id: ID!, $order: ParticipationOrder, $first: Int, $after: String, $last: Int) {
          event(id: $id) { invitations(orderBy: $order, first: $first, after: $after, last: $last) {
            nodes { id organization { name } } } } }";
        let next = app
            .gql(
                Some(token),
                nested,
                json!({ "id": first, "order": by_name, "first": 3,
                "after": of(first)["pageInfo"]["endCursor"] }),
            )
            .await;
        let mut all = named(&of(first));
        all.extend(named(&next.data()["event"]["invitations"]));
        assert_eq!(
            all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [ANDEAN, INDEPENDENT, INDEPENDENT, MONGOLIAN, ZANZIBAR]
        );
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted, "namesakes by id");
        let tail = app
            .gql(
                Some(token),
                nested,
                json!({ "id": first, "order": by_name, "last": 2 }),
            )
            .await;
        assert_eq!(
            named(&tail.data()["event"]["invitations"]),
            all[3..].to_vec()
        );
        let desc = app
            .gql(
                Some(token),
                nested,
                json!({ "id": first, "first": 5,
                "order": { "field": "ORGANIZATION_NAME", "direction": "DESC" } }),
            )
            .await;
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(named(&desc.data()["event"]["invitations"]), reversed);

        // The name is read in the list's own query: sorting by it costs no
        // statement more than sorting by creation (the fewest of three runs: a
        // stalled thread can split a loader's batch, never merge one).
        let mut fewest = Vec::new();
        for order in [json!({ "field": "CREATED_AT" }), by_name] {
            let mut least = u64::MAX;
            for _ in 0..3 {
                app.gql(Some(token), "{ viewer { roles } }", json!({}))
                    .await
                    .data();
                let (statements, response) = app
                    .statements_for(token, EVENTS_WITH_INVITATIONS, variables(&order))
                    .await;
                response.data();
                least = least.min(statements);
            }
            fewest.push(least);
        }
        println!(
            "statements: by creation {}, by organization name {}",
            fewest[0], fewest[1]
        );
        assert_eq!(
            fewest[0], fewest[1],
            "sorting by organization name costs no statement more"
        );
    })
    .await;
}
