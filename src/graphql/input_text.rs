//! The one check every piece of client text passes before anything runs: no
//! control characters (U+0000 above all, which PostgreSQL cannot store and SQLite
//! would keep). It covers every string of the request — argument literals in the
//! document and every variable — so inputs, filters and search terms behave alike
//! on both databases, whichever field or resolver later reads them. Tabs and line
//! breaks pass here; fields that must be one line refuse them in the domain layer
//! ([`Name`](crate::domain::Name)).

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::domain::check_text_characters;
use crate::error::AppError;

/// Refuses the request if any string in its arguments or variables carries a
/// forbidden control character, naming the innermost input field that holds it
/// (for a variable, the field it is passed to).
pub fn check(document: &ExecutableDocument, variables: &Variables) -> Result<(), AppError> {
    let walker = Walker { variables };
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        for definition in &operation.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                check_const(&default.node, definition.node.name.node.as_str())?;
            }
        }
        for directive in &operation.directives {
            walker.arguments(&directive.node.arguments)?;
        }
        walker.selection_set(&operation.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        for directive in &fragment.node.directives {
            walker.arguments(&directive.node.arguments)?;
        }
        walker.selection_set(&fragment.node.selection_set.node)?;
    }
    // Variables no argument uses are still part of the request.
    for (name, value) in variables.iter() {
        check_const(value, name.as_str())?;
    }
    Ok(())
}

/// Walks the document's arguments, resolving the variables they use.
struct Walker<'a> {
    variables: &'a Variables,
}

impl Walker<'_> {
    fn selection_set(&self, set: &SelectionSet) -> Result<(), AppError> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    self.arguments(&field.node.arguments)?;
                    for directive in &field.node.directives {
                        self.arguments(&directive.node.arguments)?;
                    }
                    self.selection_set(&field.node.selection_set.node)?;
                }
                Selection::InlineFragment(fragment) => {
                    for directive in &fragment.node.directives {
                        self.arguments(&directive.node.arguments)?;
                    }
                    self.selection_set(&fragment.node.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => {
                    for directive in &spread.node.directives {
                        self.arguments(&directive.node.arguments)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn arguments(
        &self,
        arguments: &[(Positioned<async_graphql::Name>, Positioned<Value>)],
    ) -> Result<(), AppError> {
        for (name, value) in arguments {
            self.value(&value.node, name.node.as_str())?;
        }
        Ok(())
    }

    /// A literal in the document, or a variable passed where `field` is expected.
    fn value(&self, value: &Value, field: &str) -> Result<(), AppError> {
        match value {
            Value::String(text) => check_text_characters(text, field),
            Value::Variable(name) => match self.variables.get(name) {
                Some(value) => check_const(value, field),
                None => Ok(()),
            },
            Value::List(items) => items.iter().try_for_each(|v| self.value(v, field)),
            Value::Object(fields) => fields
                .iter()
                .try_for_each(|(key, v)| self.value(v, key.as_str())),
            _ => Ok(()),
        }
    }
}

/// A variable's value.
fn check_const(value: &ConstValue, field: &str) -> Result<(), AppError> {
    match value {
        ConstValue::String(text) => check_text_characters(text, field),
        ConstValue::List(items) => items.iter().try_for_each(|v| check_const(v, field)),
        ConstValue::Object(fields) => fields
            .iter()
            .try_for_each(|(key, v)| check_const(v, key.as_str())),
        _ => Ok(()),
    }
}
