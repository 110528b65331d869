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
