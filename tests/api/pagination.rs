//! Relay pagination over the organization directory and events.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend};

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $order: OrganizationOrder) {
    organizations(first: $first, after: $after, last: $last, before: $before, orderBy: $order,
                  filter: { search: \"commission\" }) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { name } }
    } }";

async fn seed_commissions(app: &TestApp, n: usize) {
    for i in 0..n {
        app.create_org(&format!("Election Commission {i:02}"), Some("KR"))
            .await;
    }
    // Noise the filter must leave out.
    app.create_org("Institute for Democracy", None).await;
}

fn names(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_forward_and_backward_visits_every_row_once_in_order() {
    each_backend(|app| async move {
        seed_commissions(&app, 25).await;
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let response = app
                .gql(
                    Some(&app.admin_token),
                    PAGE,
                    json!({ "first": 10, "after": after }),
                )
                .await;
            let page = response.data()["organizations"].clone();
            assert_eq!(page["totalCount"], 25);
            seen.extend(names(&page));
            if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        let expected: Vec<String> = (0..25)
            .map(|i| format!("Election Commission {i:02}"))
            .collect();
        assert_eq!(seen, expected);

        // Backward from the end: the last page of 10, then the 10 before it.
        let last = app
            .gql(Some(&app.admin_token), PAGE, json!({ "last": 10 }))
            .await;
        let last_page = last.data()["organizations"].clone();
        assert_eq!(names(&last_page), expected[15..].to_vec());
        assert_eq!(last_page["pageInfo"]["hasPreviousPage"], true);
        let before = last_page["pageInfo"]["startCursor"].as_str().unwrap();
        let previous = app
            .gql(
                Some(&app.admin_token),
                PAGE,
                json!({ "last": 10, "before": before }),
            )
            .await;
        assert_eq!(
            names(&previous.data()["organizations"]),
            expected[5..15].to_vec()
        );

        // Descending order reverses the list.
        let desc = app
            .gql(
                Some(&app.admin_token),
                PAGE,
                json!({ "first": 3, "order": { "field": "NAME", "direction": "DESC" } }),
            )
            .await;
        assert_eq!(
            names(&desc.data()["organizations"]),
            vec![
                "Election Commission 24",
                "Election Commission 23",
                "Election Commission 22"
            ]
        );
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 25);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_and_cursors_are_validated() {
    each_backend(|app| async move {
        seed_commissions(&app, 3).await;
        let too_big = app
            .gql(Some(&app.admin_token), PAGE, json!({ "first": 101 }))
            .await;
        assert_eq!(too_big.error_code(), "BAD_USER_INPUT");
        assert_eq!(too_big.error_field(), "first");

        let huge = app
            .gql(Some(&app.admin_token), PAGE, json!({ "first": 99_999_999 }))
            .await;
        assert_eq!(huge.error_code(), "BAD_USER_INPUT");

        let negative = app
            .gql(Some(&app.admin_token), PAGE, json!({ "last": -1 }))
            .await;
        assert_eq!(negative.error_field(), "last");

        let both = app
            .gql(
                Some(&app.admin_token),
                PAGE,
                json!({ "first": 1, "last": 1 }),
            )
            .await;
        assert_eq!(both.error_code(), "BAD_USER_INPUT");

        let garbage = app
            .gql(Some(&app.admin_token), PAGE, json!({ "after": "garbage" }))
            .await;
        assert_eq!(garbage.error_field(), "after");

        // A cursor made for one ordering is refused by another.
        let by_name = app
            .gql(Some(&app.admin_token), PAGE, json!({ "first": 1 }))
            .await;
        let cursor = by_name.data()["organizations"]["pageInfo"]["endCursor"].clone();
        let other_order = app
            .gql(
                Some(&app.admin_token),
                PAGE,
                json!({ "first": 1, "after": cursor, "order": { "field": "CREATED_AT" } }),
            )
            .await;
        assert_eq!(other_order.error_code(), "BAD_USER_INPUT");

        let default_size = app.gql(Some(&app.admin_token), PAGE, json!({})).await;
        assert_eq!(names(&default_size.data()["organizations"]).len(), 3);
    })
    .await;
}
