//! What a document could show, decided before it runs, so reads can skip work
//! whose result no field would display.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The fields of `Participant` that hold sealed personal data.
const PERSONAL_DATA_FIELDS: [&str; 5] = [
    "nationality",
    "dateOfBirth",
    "passportNumber",
    "dietaryNeeds",
    "accessibilityNeeds",
];

/// Whether any operation or fragment of `document` selects a field named like
/// one of a participant's personal-data fields (on any type: a false positive
/// only costs the decryption this lets a request skip).
pub fn selects_personal_data(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .any(|(_, operation)| selects_any(&operation.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|fragment| selects_any(&fragment.node.selection_set.node))
}

/// Recursion follows the document's nesting, which the parser bounds.
fn selects_any(set: &SelectionSet) -> bool {
    set.items.iter().any(|selection| match &selection.node {
        Selection::Field(field) => {
            PERSONAL_DATA_FIELDS.contains(&field.node.name.node.as_str())
                || selects_any(&field.node.selection_set.node)
        }
        Selection::InlineFragment(inline) => selects_any(&inline.node.selection_set.node),
        // Named fragments are searched on their own, above.
        Selection::FragmentSpread(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selects(query: &str) -> bool {
        selects_personal_data(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn personal_data_fields_are_found_wherever_they_are_selected() {
        assert!(!selects(
            "{ delegations { nodes { participants { nodes { id fullName } } } } }"
        ));
        assert!(selects(
            "{ node(id: \"x\") { ... on Participant { passportNumber } } }"
        ));
        assert!(selects(
            "query A { viewer { roles } } query B { delegations { nodes { participants { nodes { ...P } } } } } \
             fragment P on Participant { aliasOfNationality: nationality }"
        ));
        assert!(selects(
            "mutation { updateParticipant(input: {}) { participant { dateOfBirth } } }"
        ));
        assert!(!selects(
            "fragment P on Participant { id } { viewer { roles } }"
        ));
    }
}
