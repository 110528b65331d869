//! The committed schema and its documentation.

use serde_json::{Value, json};

use crate::helpers::each_backend;

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    assert!(
        committed == embhub::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

const INTROSPECTION: &str = r#"{ __schema { types {
    name kind description
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description }
} } }"#;

fn missing(kind: &str, name: &str, item: &Value, out: &mut Vec<String>) {
    if item["description"]
        .as_str()
        .is_none_or(|d| d.trim().is_empty())
    {
        out.push(format!("{kind} {name}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_field_argument_and_enum_value_is_described() {
    each_backend(|app| async move {
        let response = app
            .gql(Some(&app.admin_token), INTROSPECTION, json!({}))
            .await;
        let mut undocumented = Vec::new();
        for ty in response.data()["__schema"]["types"].as_array().unwrap() {
            let name = ty["name"].as_str().unwrap();
            if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name)
            {
                continue;
            }
            missing("type", name, ty, &mut undocumented);
            for field in ty["fields"].as_array().into_iter().flatten() {
                let field_name = format!("{name}.{}", field["name"].as_str().unwrap());
                missing("field", &field_name, field, &mut undocumented);
                for arg in field["args"].as_array().into_iter().flatten() {
                    let arg_name = format!("{field_name}({})", arg["name"].as_str().unwrap());
                    missing("argument", &arg_name, arg, &mut undocumented);
                }
            }
            for field in ty["inputFields"].as_array().into_iter().flatten() {
                let field_name = format!("{name}.{}", field["name"].as_str().unwrap());
                missing("input field", &field_name, field, &mut undocumented);
            }
            for value in ty["enumValues"].as_array().into_iter().flatten() {
                let value_name = format!("{name}.{}", value["name"].as_str().unwrap());
                missing("enum value", &value_name, value, &mut undocumented);
            }
        }
        assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
    })
    .await;
}

/// `(type, field)` → whether the field's type is non-null, as introspection tells.
async fn nullability(
    app: &crate::helpers::TestApp,
) -> std::collections::HashMap<(String, String), bool> {
    let response = app
        .gql(
            Some(&app.admin_token),
            "{ __schema { types { name fields { name type { kind } } } } }",
            json!({}),
        )
        .await;
    let mut out = std::collections::HashMap::new();
    for ty in response.data()["__schema"]["types"].as_array().unwrap() {
        for field in ty["fields"].as_array().into_iter().flatten() {
            out.insert(
                (
                    ty["name"].as_str().unwrap().to_owned(),
                    field["name"].as_str().unwrap().to_owned(),
                ),
                field["type"]["kind"] == "NON_NULL",
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_lookups_are_nullable_and_guaranteed_relations_are_not() {
    each_backend(|app| async move {
        let types = nullability(&app).await;
        let non_null = |ty: &str, field: &str| {
            *types
                .get(&(ty.to_owned(), field.to_owned()))
                .unwrap_or_else(|| panic!("{ty}.{field} exists"))
        };
        for (ty, field) in [
            ("QueryRoot", "node"),
            ("QueryRoot", "event"),
            ("QueryRoot", "organization"),
        ] {
            assert!(!non_null(ty, field), "{ty}.{field} is nullable");
        }
        for (ty, field) in [
            ("Invitation", "event"),
            ("Invitation", "organization"),
            ("Application", "event"),
            ("Application", "organization"),
            ("Delegation", "event"),
            ("Delegation", "organization"),
            ("Delegation", "invitation"),
            ("Participant", "delegation"),
            ("Session", "event"),
            ("Presentation", "session"),
            ("WebhookEndpoint", "organization"),
            ("Event", "invitations"),
            ("Event", "applications"),
            ("Event", "delegations"),
            ("Event", "participationSummary"),
            ("Delegation", "participants"),
        ] {
            assert!(non_null(ty, field), "{ty}.{field} is non-null");
        }
        // Access may hide these, so they stay nullable.
        for (ty, field) in [
            ("Presentation", "delegation"),
            ("Presentation", "presenter"),
            ("Event", "heldAlongside"),
        ] {
            assert!(!non_null(ty, field), "{ty}.{field} is nullable");
        }
    })
    .await;
}

#[test]
fn scalars_are_named_described_and_specified_and_country_codes_documented() {
    let sdl = embhub::graphql::sdl();
    assert!(
        !sdl.contains("NaiveDate"),
        "no Rust type names in the schema"
    );
    assert!(
        !sdl.contains("Implement the"),
        "no generated scalar descriptions"
    );
    for scalar in ["Date", "DateTime"] {
        let line = format!(
            "scalar {scalar} @specifiedBy(url: \"https://datatracker.ietf.org/doc/html/rfc3339"
        );
        assert!(sdl.contains(&line), "{scalar} carries @specifiedBy");
    }
    // Every countryCode and nationality field says it is ISO 3166-1 alpha-2.
    let lines: Vec<&str> = sdl.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let field = line.trim_start();
        if field.starts_with("countryCode:") || field.starts_with("nationality:") {
            let description = lines[..i]
                .iter()
                .rev()
                .skip(1)
                .take_while(|l| !l.contains("\"\"\""))
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                description.contains("ISO 3166-1 alpha-2"),
                "line {}: {field} is documented as ISO 3166-1 alpha-2 ({description})",
                i + 1
            );
        }
    }
}
