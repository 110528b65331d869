//! Limits on one operation: each hostile query is refused before it runs, with its
//! own code, and writes nothing.

use serde_json::json;

use crate::helpers::{GqlResponse, TestApp, each_backend, each_backend_with};

const CREATE_FIELD: &str = r#"createOrganization(input: { kind: OTHER, name: "Should Not Exist" }) { organization { id } }"#;

/// Runs `query` as the admin and checks it was refused with `code` (status 400,
/// the request-error status of the default `application/graphql-response+json`)
/// and that no organization was written.
async fn assert_refused(app: &TestApp, query: &str, code: &str) -> GqlResponse {
    let before = app.count_rows("organizations").await;
    let response = app.gql(Some(&app.admin_token), query, json!({})).await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.error_code(), code, "{}", response.body);
    assert!(response.body.get("data").is_none(), "{}", response.body);
    assert_eq!(
        app.count_rows("organizations").await,
        before,
        "nothing written"
    );
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_query_is_refused() {
    each_backend(|app| async move {
        let nest = |levels: usize| {
            let mut inner = String::from("id");
            for _ in 0..levels {
                inner = format!("heldAlongside {{ {inner} }}");
            }
            format!("{{ events {{ nodes {{ {inner} }} }} }}")
        };
        // events → nodes → 9 × heldAlongside → id: 12 levels.
        assert_refused(&app, &nest(9), "QUERY_TOO_DEEP").await;
        // 10 levels run.
        let response = app.gql(Some(&app.admin_token), &nest(7), json!({})).await;
        assert_eq!(response.status, 200, "{}", response.body);

        // A nesting far deeper than the parser allows is refused just as cleanly.
        let abyss = format!("{}{}", "{ a ".repeat(3000), "}".repeat(3000));
        assert_refused(&app, &abyss, "GRAPHQL_PARSE_FAILED").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_bomb_is_refused() {
    each_backend(|app| async move {
        let aliases: Vec<String> = (0..21).map(|i| format!("a{i}: {CREATE_FIELD}")).collect();
        let query = format!("mutation {{ {} }}", aliases.join(" "));
        assert_refused(&app, &query, "TOO_MANY_ALIASES").await;

        let many: Vec<String> = (0..5000).map(|i| format!("t{i}: __typename")).collect();
        let query = format!("{{ {} }}", many.join(" "));
        let response = app.gql(Some(&app.admin_token), &query, json!({})).await;
        // Over the document size before it is even parsed.
        assert_eq!(response.status, 413);
        assert_eq!(response.error_code(), "DOCUMENT_TOO_LARGE");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directive_flood_is_refused() {
    each_backend(|app| async move {
        let flood = "@include(if: true) ".repeat(51);
        let query = format!("mutation {{ {CREATE_FIELD} __typename {flood} }}");
        assert_refused(&app, &query, "TOO_MANY_DIRECTIVES").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_cycle_is_refused() {
    each_backend(|app| async move {
        let query = format!(
            "mutation {{ ...A }} \
             fragment A on MutationRoot {{ {CREATE_FIELD} ...B }} \
             fragment B on MutationRoot {{ ...A }}"
        );
        let response = assert_refused(&app, &query, "GRAPHQL_VALIDATION_FAILED").await;
        let message = response.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("cycle"), "{message}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_cannot_multiply_the_cost_unseen() {
    each_backend(|app| async move {
        // Each level doubles the work: 2^12 paginated lists of 100 rows.
        let mut document = String::from("query { ...F0 }");
        for i in 0..12 {
            document.push_str(&format!(
                " fragment F{i} on QueryRoot {{ organizations(first: 100) {{ totalCount }} ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        document.push_str(" fragment F12 on QueryRoot { __typename }");
        assert_refused(&app, &document, "QUERY_TOO_COMPLEX").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_counts_page_sizes() {
    each_backend_with(
        |settings| settings.limits.query.max_complexity = 300,
        |app| async move {
            let nested = "{ organizations(first: 100) { nodes { id name } } }";
            let response = assert_refused(&app, nested, "QUERY_TOO_COMPLEX").await;
            let message = response.body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.contains("301"),
                "1 + 100 × (nodes, id, name): {message}"
            );

            // A variable's page size counts the same.
            let response = app
                .gql(
                    Some(&app.admin_token),
                    "query($n: Int) { organizations(first: $n) { nodes { id name } } }",
                    json!({ "n": 100 }),
                )
                .await;
            assert_eq!(response.error_code(), "QUERY_TOO_COMPLEX");

            let small = "{ organizations(first: 10) { nodes { id name } } }";
            assert_eq!(
                app.gql(Some(&app.admin_token), small, json!({}))
                    .await
                    .status,
                200
            );
        },
    )
    .await;
}

/// The benchmark's partner dashboard (`bench/lib/bench.py`): a hundred
/// invitations with their events and delegations, ten members each.
const BENCH_DASHBOARD: &str = "query Dashboard($org: ID!) {
  invitations(first: 100, filter: { organizationId: $org }) {
    totalCount
    nodes {
      id status seatsOffered fundedSeats respondBy
      event {
        id title startDate endDate dateStatus status
        host { id name }
        sessions { id title startsAt endsAt }
      }
      delegation { id status notes participants(first: 10) { nodes { id fullName role } } }
    }
  }
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_connection_costs_its_page_size_times_its_selection() {
    each_backend(|app| async move {
        // 100 events × 100 invitations × 100 members: refused under the default
        // limit (10,000), whichever nested list asks for the rows.
        let cube = "{ events(first: 100) { nodes { invitations(first: 100) { nodes {
            delegation { participants(first: 100) { nodes { id } } } } } } } }";
        let response = assert_refused(&app, cube, "QUERY_TOO_COMPLEX").await;
        let message = response.body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("2030201"),
            "1 + 100 × (1 + 1 + 100 × (1 + 1 + 1 + 100 × 2)): {message}"
        );
        let feeds = "{ events(first: 100) { nodes { activity(first: 100) { nodes { changes { field } } } } } }";
        assert_refused(&app, feeds, "QUERY_TOO_COMPLEX").await;

        // Smaller pages of the same shape pass: 1 + 10 × (1 + 1 + 5 × (1 + 1 + 1 + 10 × 2)).
        let small = "{ events(first: 10) { nodes { invitations(first: 5) { nodes {
            delegation { participants(first: 10) { nodes { id } } } } } } } }";
        let response = app.gql(Some(&app.admin_token), small, json!({})).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(response.body.get("errors").is_none(), "{}", response.body);

        // The benchmark's dashboard stays within the default limit (6,701).
        let (org, _) = app.create_org("Dashboard Org", None).await;
        let response = app
            .gql(Some(&app.admin_token), BENCH_DASHBOARD, json!({ "org": org }))
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(response.body.get("errors").is_none(), "{}", response.body);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_page_size_is_refused_before_it_runs() {
    each_backend(|app| async move {
        for query in [
            "{ organizations(first: 99999999) { totalCount } }",
            "{ events(last: 99999999) { totalCount } }",
        ] {
            let response = assert_refused(&app, query, "BAD_USER_INPUT").await;
            assert!(["first", "last"].contains(&response.error_field()));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_and_suggestions_are_off_in_production() {
    each_backend_with(
        |settings| settings.production = true,
        |app| async move {
            let response = app
                .gql(
                    Some(&app.admin_token),
                    "{ __schema { types { name } } }",
                    json!({}),
                )
                .await;
            assert_eq!(response.status, 400, "{}", response.body);
            assert_eq!(response.error_code(), "INTROSPECTION_DISABLED");
            let response = app
                .gql(
                    Some(&app.admin_token),
                    "{ __type(name: \"Event\") { name } }",
                    json!({}),
                )
                .await;
            assert_eq!(response.error_code(), "INTROSPECTION_DISABLED");
            // `__typename` is not introspection of the schema.
            let response = app
                .gql(Some(&app.admin_token), "{ __typename }", json!({}))
                .await;
            assert_eq!(response.status, 200);

            let response = app
                .gql(Some(&app.admin_token), "{ organization { id } }", json!({}))
                .await;
            let message = response.body["errors"][0]["message"].as_str().unwrap_or("");
            assert!(!message.contains("Did you mean"), "{message}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_works_in_development_despite_its_depth() {
    each_backend(|app| async move {
        // GraphiQL's query nests `ofType` far past the depth limit.
        let mut of_type = String::from("name");
        for _ in 0..8 {
            of_type = format!("name ofType {{ {of_type} }}");
        }
        let query = format!("{{ __schema {{ types {{ fields {{ type {{ {of_type} }} }} }} }} }}");
        let response = app.gql(Some(&app.admin_token), &query, json!({})).await;
        assert_eq!(response.status, 200, "{}", response.body);
        response.data();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scalar_literal_its_type_refuses_is_bad_user_input() {
    // Found by scripts/fuzz.sh: an empty `NaiveDate` came back without a code.
    each_backend(|app| async move {
        let before = app.count_rows("events").await;
        let query = r#"mutation { createEvent(input: {
            kind: ELECTION_VISITOR_PROGRAM, title: "Fuzzed", timeZone: "Asia/Seoul",
            startDate: "", endDate: "CONFLICT" }) { event { id } } }"#;
        let response = app.gql(Some(&app.admin_token), query, json!({})).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
        assert_eq!(app.count_rows("events").await, before);
    })
    .await;
}
