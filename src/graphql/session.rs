//! GraphQL surface of the agenda.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::connection::patch;
use super::context::{load_children, load_one, load_required, service};
use super::event::Event;
use super::ids::{self, NodeType};
use super::loaders::{EventLoader, OrganizationLoader, PresentationsOfSession};
use super::organization::Organization;
use super::presentation::Presentation;
use crate::domain::SessionKind;
use crate::entity::session;
use crate::service::sessions::{self, SessionChanges, SessionFields};

/// An agenda item of an event.
pub struct Session(pub session::Model);

/// An agenda item of an event.
#[Object]
impl Session {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Session, self.0.id)
    }
    /// The event whose agenda this is.
    async fn event(&self, ctx: &Context<'_>) -> Result<Event> {
        load_required::<EventLoader, _>(ctx, self.0.event_id, "event of a session")
            .await
            .map(Event)
    }
    /// What kind of session.
    async fn kind(&self) -> SessionKind {
        self.0.kind
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The topic discussed.
    async fn topic(&self) -> Option<&str> {
        self.0.topic.as_deref()
    }
    /// Longer description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When it starts.
    async fn starts_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.starts_at)
    }
    /// When it ends.
    async fn ends_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.ends_at)
    }
    /// Where it takes place.
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
    /// The organization that proposed the topic.
    async fn proposed_by(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        let Some(org) = self.0.proposed_by_organization_id else {
            return Ok(None);
        };
        Ok(load_one::<OrganizationLoader, _>(ctx, org)
            .await?
            .map(Organization))
    }
    /// Presentations for this session the caller may see (accepted ones are public).
    async fn presentations(&self, ctx: &Context<'_>) -> Result<Vec<Presentation>> {
        load_children::<PresentationsOfSession, _, _>(ctx, self.0.id, Presentation).await
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the session was added.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When the session last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

/// Input of `addSession`.
#[derive(InputObject)]
pub struct AddSessionInput {
    /// The event.
    event_id: ID,
    /// What kind of session.
    kind: SessionKind,
    /// Title.
    title: String,
    /// The topic discussed.
    topic: Option<String>,
    /// Longer description.
    description: Option<String>,
    /// When it starts (within the event's dates in its time zone).
    starts_at: IsoDateTime,
    /// When it ends.
    ends_at: IsoDateTime,
    /// Where it takes place.
    location: Option<String>,
    /// The organization that proposed the topic.
    proposed_by_id: Option<ID>,
}

/// Input of `updateSession`: omitted fields stay, `null` clears optional ones.
#[derive(InputObject)]
pub struct UpdateSessionInput {
    /// The session.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// New kind.
    kind: Option<SessionKind>,
    /// New title.
    title: Option<String>,
    /// New topic.
    topic: MaybeUndefined<String>,
    /// New description.
    description: MaybeUndefined<String>,
    /// New start.
    starts_at: Option<IsoDateTime>,
    /// New end.
    ends_at: Option<IsoDateTime>,
    /// New location.
    location: MaybeUndefined<String>,
    /// New proposing organization.
    proposed_by_id: MaybeUndefined<ID>,
}

/// Input of `removeSession`.
#[derive(InputObject)]
pub struct RemoveSessionInput {
    /// The session.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Result of `addSession`.
#[derive(SimpleObject)]
pub struct AddSessionPayload {
    /// The new session.
    session: Session,
}

/// Result of `updateSession`.
#[derive(SimpleObject)]
pub struct UpdateSessionPayload {
    /// The session after the change.
    session: Session,
}

/// Result of `removeSession`.
#[derive(SimpleObject)]
pub struct RemoveSessionPayload {
    /// Global id of the removed session.
    removed_session_id: ID,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Adds a session to an event's agenda (the host's COORDINATOR, or a co-host's
    /// granted MANAGE_AGENDA).
    async fn add_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the session.")] input: AddSessionInput,
    ) -> Result<AddSessionPayload> {
        let event_id = ids::decode(&input.event_id, NodeType::Event, "eventId")?;
        let fields = SessionFields {
            kind: input.kind,
            title: input.title,
            topic: input.topic,
            description: input.description,
            starts_at: input.starts_at.into(),
            ends_at: input.ends_at.into(),
            location: input.location,
            proposed_by_organization_id: ids::decode_optional(
                input.proposed_by_id.as_ref(),
                NodeType::Organization,
                "proposedById",
            )?,
        };
        let session = sessions::add(service(ctx)?, event_id, fields).await?;
        Ok(AddSessionPayload {
            session: Session(session),
        })
    }

    /// Changes a session (the host's COORDINATOR, or a co-host's granted
    /// MANAGE_AGENDA).
    async fn update_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session and the changes.")] input: UpdateSessionInput,
    ) -> Result<UpdateSessionPayload> {
        let id = ids::decode(&input.id, NodeType::Session, "id")?;
        let proposed_by = match patch(input.proposed_by_id) {
            None => None,
            Some(None) => Some(None),
            Some(Some(org)) => Some(Some(ids::decode(
                &org,
                NodeType::Organization,
                "proposedById",
            )?)),
        };
        let changes = SessionChanges {
            expected_version: input.expected_version,
            kind: input.kind,
            title: input.title,
            topic: patch(input.topic),
            description: patch(input.description),
            starts_at: input.starts_at.map(Into::into),
            ends_at: input.ends_at.map(Into::into),
            location: patch(input.location),
            proposed_by_organization_id: proposed_by,
        };
        let session = sessions::update(service(ctx)?, id, changes).await?;
        Ok(UpdateSessionPayload {
            session: Session(session),
        })
    }

    /// Removes a session and its presentations (the host's COORDINATOR, or a
    /// co-host's granted MANAGE_AGENDA).
    async fn remove_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] input: RemoveSessionInput,
    ) -> Result<RemoveSessionPayload> {
        let id = ids::decode(&input.id, NodeType::Session, "id")?;
        let removed = sessions::remove(service(ctx)?, id, input.expected_version).await?;
        Ok(RemoveSessionPayload {
            removed_session_id: ids::encode(NodeType::Session, removed.id),
        })
    }
}
