//! GraphQL surface of the audit log.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, Json, Object, Result};

use super::context::{load_one, service};
use super::ids::{self, NodeType};
use super::loaders::OrganizationLoader;
use super::organization::Organization;
use crate::entity::audit_entry;
use crate::error::AppError;
use crate::service::audit::{self, AuditedEntity};
use crate::service::pagination::PageRequest;

/// One recorded change: who did what to which record, before and after (personal
/// data redacted).
pub struct AuditEntry(pub audit_entry::Model);

impl From<audit_entry::Model> for AuditEntry {
    fn from(model: audit_entry::Model) -> Self {
        AuditEntry(model)
    }
}

/// One recorded change: who did what to which record, before and after (personal
/// data redacted).
#[Object]
impl AuditEntry {
    /// Global id.
    async fn id(&self) -> ID {
        ids::encode(NodeType::AuditEntry, self.0.id)
    }
    /// What was done, such as `invitation.accept`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The type of the changed record.
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }
    /// Global id of the changed record.
    async fn entity_id(&self) -> ID {
        let node_type = match self.0.entity_type.as_str() {
            "Organization" => NodeType::Organization,
            "Event" => NodeType::Event,
            "Session" => NodeType::Session,
            "Invitation" => NodeType::Invitation,
            "Application" => NodeType::Application,
            "Delegation" => NodeType::Delegation,
            "Participant" => NodeType::Participant,
            _ => NodeType::Presentation,
        };
        ids::encode(node_type, self.0.entity_id)
    }
    /// Global id of the API client that made the change; null for the system.
    async fn actor_client_id(&self) -> Option<ID> {
        self.0
            .actor_client_id
            .map(|id| ids::encode(NodeType::ApiClient, id))
    }
    /// The organization the client acted for.
    async fn actor_organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        let Some(org) = self.0.actor_organization_id else {
            return Ok(None);
        };
        Ok(load_one::<OrganizationLoader, _>(ctx, org)
            .await?
            .map(Organization))
    }
    /// The record before the change.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    /// The record after the change.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
    /// The request that made the change, to find it in the logs.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// When.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
}

/// A page of audit entries of one record, newest first.
pub struct AuditEntryConnection {
    edges: Vec<AuditEntryEdge>,
    page_info: async_graphql::connection::PageInfo,
}

/// An audit entry in a page, with its cursor.
#[derive(async_graphql::SimpleObject)]
pub struct AuditEntryEdge {
    /// Opaque position of this entry, for `after` and `before`.
    cursor: String,
    /// The entry.
    node: AuditEntry,
}

/// A page of audit entries of one record, newest first.
#[Object]
impl AuditEntryConnection {
    /// The entries of this page, each with its cursor.
    async fn edges(&self) -> &[AuditEntryEdge] {
        &self.edges
    }
    /// The entries of this page.
    async fn nodes(&self) -> Vec<&AuditEntry> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Where this page is in the whole log.
    async fn page_info(&self) -> &async_graphql::connection::PageInfo {
        &self.page_info
    }
}

fn audited(id: &ID) -> Result<AuditedEntity, AppError> {
    let (node_type, uuid) = ids::decode_any(id, "entityId")?;
    Ok(match node_type {
        NodeType::Organization => AuditedEntity::Organization(uuid),
        NodeType::Event => AuditedEntity::Event(uuid),
        NodeType::Session => AuditedEntity::Session(uuid),
        NodeType::Invitation => AuditedEntity::Invitation(uuid),
        NodeType::Application => AuditedEntity::Application(uuid),
        NodeType::Delegation => AuditedEntity::Delegation(uuid),
        NodeType::Participant => AuditedEntity::Participant(uuid),
        NodeType::Presentation => AuditedEntity::Presentation(uuid),
        _ => {
            return Err(AppError::invalid(
                "entityId",
                "this kind of record has no audit log",
            ));
        }
    })
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail of one record, newest first: for the host's COORDINATOR of
    /// its event and co-hosts the host granted VIEW_ACTIVITY (ADMIN for
    /// organizations). Raw stored snapshots, never participants' personal data;
    /// use `Event.activity` and `Organization.activity` instead.
    #[graphql(
        deprecation = "Use `Event.activity` (or `Organization.activity`): every change touching an event in API form (field names, global ids, enum names), filterable and paged both ways."
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the record.")] entity_id: ID,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
    ) -> Result<AuditEntryConnection> {
        let entity = audited(&entity_id)?;
        let page = audit::log_for(
            service(ctx)?,
            entity,
            &PageRequest {
                first,
                after,
                ..Default::default()
            },
        )
        .await?;
        let (edges, page_info, _) = super::connection::edges_and_info(page, AuditEntry);
        Ok(AuditEntryConnection {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| AuditEntryEdge { cursor, node })
                .collect(),
            page_info,
        })
    }
}
