//! Opaque global ids for `node(id:)`: `base64url("Type:uuid")`.
//!
//! Clients treat ids as opaque strings; encoding the type lets `node` resolve any
//! object and lets every input reject an id of the wrong type with a clear error.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::AppError;

/// The object types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Organization,
    Event,
    EventDateChange,
    ApiClient,
    Session,
    Invitation,
    Application,
    Delegation,
    Participant,
    Presentation,
    AuditEntry,
    WebhookEndpoint,
    WebhookDelivery,
}

const ALL: [NodeType; 13] = [
    NodeType::Organization,
    NodeType::Event,
    NodeType::EventDateChange,
    NodeType::ApiClient,
    NodeType::Session,
    NodeType::Invitation,
    NodeType::Application,
    NodeType::Delegation,
    NodeType::Participant,
    NodeType::Presentation,
    NodeType::AuditEntry,
    NodeType::WebhookEndpoint,
    NodeType::WebhookDelivery,
];

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            NodeType::Organization => "Organization",
            NodeType::Event => "Event",
            NodeType::EventDateChange => "EventDateChange",
            NodeType::ApiClient => "ApiClient",
            NodeType::Session => "Session",
            NodeType::Invitation => "Invitation",
            NodeType::Application => "Application",
            NodeType::Delegation => "Delegation",
            NodeType::Participant => "Participant",
            NodeType::Presentation => "Presentation",
            NodeType::AuditEntry => "AuditEntry",
            NodeType::WebhookEndpoint => "WebhookEndpoint",
            NodeType::WebhookDelivery => "WebhookDelivery",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Encodes the global id of a `node_type` record.
pub fn encode(node_type: NodeType, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{}", node_type.name(), id)))
}

/// The global id of a record of the GraphQL type `type_name` (for errors that
/// name a record: they are made outside the schema's types).
pub fn encode_named(type_name: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}"))
}

/// Decodes any global id; `field` names the input for errors.
pub fn decode_any(raw: &str, field: &str) -> Result<(NodeType, Uuid), AppError> {
    let invalid = || AppError::invalid(field, "not a valid id");
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, uuid) = text.split_once(':').ok_or_else(invalid)?;
    let node_type = NodeType::from_name(type_name).ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(uuid).map_err(|_| invalid())?;
    Ok((node_type, uuid))
}

/// Decodes an optional global id that must be of `expected` type.
pub fn decode_optional(
    raw: Option<&ID>,
    expected: NodeType,
    field: &str,
) -> Result<Option<Uuid>, AppError> {
    raw.map(|id| decode(id, expected, field)).transpose()
}

/// Decodes a list of global ids that must all be of `expected` type.
pub fn decode_all(raw: &[ID], expected: NodeType, field: &str) -> Result<Vec<Uuid>, AppError> {
    raw.iter().map(|id| decode(id, expected, field)).collect()
}

/// Decodes a global id that must be of `expected` type.
pub fn decode(raw: &ID, expected: NodeType, field: &str) -> Result<Uuid, AppError> {
    let (node_type, uuid) = decode_any(raw, field)?;
    if node_type != expected {
        return Err(AppError::invalid(
            field,
            format!("expected the id of a {}", expected.name()),
        ));
    }
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_wrong_types() {
        let uuid = Uuid::now_v7();
        let id = encode(NodeType::Event, uuid);
        assert_eq!(decode(&id, NodeType::Event, "id").unwrap(), uuid);
        assert!(decode(&id, NodeType::Organization, "id").is_err());
        assert!(decode_any("!!!", "id").is_err());
        assert!(decode_any(&URL_SAFE_NO_PAD.encode("Event:nope"), "id").is_err());
    }
}
