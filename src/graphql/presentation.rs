//! GraphQL surface of presentations.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::context::{load_one, load_required, service};
use super::delegation::{Delegation, Participant};
use super::ids::{self, NodeType};
use super::loaders::{DelegationLoader, ParticipantLoader, SessionLoader};
use super::session::Session;
use crate::domain::PresentationStatus;
use crate::entity::presentation;
use crate::service::presentations::{self, NewPresentation};

/// A delegation's presentation at an agenda session.
pub struct Presentation(pub presentation::Model);

/// A delegation's presentation at an agenda session.
#[Object]
impl Presentation {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Presentation, self.0.id)
    }
    /// The session.
    async fn session(&self, ctx: &Context<'_>) -> Result<Session> {
        load_required::<SessionLoader, _>(ctx, self.0.session_id, "session of a presentation")
            .await
            .map(Session)
    }
    /// The presenting delegation, if the caller may see it.
    async fn delegation(&self, ctx: &Context<'_>) -> Result<Option<Delegation>> {
        Ok(load_one::<DelegationLoader, _>(ctx, self.0.delegation_id)
            .await?
            .map(Delegation))
    }
    /// The presenter, if the caller may see the delegation.
    async fn presenter(&self, ctx: &Context<'_>) -> Result<Option<Participant>> {
        Ok(
            load_one::<ParticipantLoader, _>(ctx, self.0.presenter_participant_id)
                .await?
                .map(Participant),
        )
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Abstract.
    #[graphql(name = "abstract")]
    async fn abstract_text(&self) -> Option<&str> {
        self.0.abstract_text.as_deref()
    }
    /// Where the proposal stands.
    async fn status(&self) -> PresentationStatus {
        self.0.status
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When it was proposed.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

/// Input of `proposePresentation`.
#[derive(InputObject)]
pub struct ProposePresentationInput {
    /// The session of the delegation's event.
    session_id: ID,
    /// The caller organization's delegation.
    delegation_id: ID,
    /// The presenter, a member of the delegation.
    presenter_id: ID,
    /// Title.
    title: String,
    /// Abstract.
    #[graphql(name = "abstract")]
    abstract_text: Option<String>,
}

/// Input of `decidePresentation`.
#[derive(InputObject)]
pub struct DecidePresentationInput {
    /// The presentation.
    id: ID,
    /// True to accept, false to reject.
    accept: bool,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Result of `proposePresentation`.
#[derive(SimpleObject)]
pub struct ProposePresentationPayload {
    /// The new proposal.
    presentation: Presentation,
}

/// Result of `decidePresentation`.
#[derive(SimpleObject)]
pub struct DecidePresentationPayload {
    /// The presentation after the decision.
    presentation: Presentation,
}

#[derive(Default)]
pub struct PresentationMutation;

#[Object]
impl PresentationMutation {
    /// Proposes a presentation for a session (the delegation's organization).
    async fn propose_presentation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session, delegation, presenter and talk.")]
        input: ProposePresentationInput,
    ) -> Result<ProposePresentationPayload> {
        let presentation = presentations::propose(
            service(ctx)?,
            NewPresentation {
                session_id: ids::decode(&input.session_id, NodeType::Session, "sessionId")?,
                delegation_id: ids::decode(
                    &input.delegation_id,
                    NodeType::Delegation,
                    "delegationId",
                )?,
                presenter_participant_id: ids::decode(
                    &input.presenter_id,
                    NodeType::Participant,
                    "presenterId",
                )?,
                title: input.title,
                abstract_text: input.abstract_text,
            },
        )
        .await?;
        Ok(ProposePresentationPayload {
            presentation: Presentation(presentation),
        })
    }

    /// Accepts or rejects a proposal (the host's COORDINATOR, or a co-host's
    /// granted MANAGE_AGENDA, except its own delegation's).
    async fn decide_presentation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The presentation and the decision.")] input: DecidePresentationInput,
    ) -> Result<DecidePresentationPayload> {
        let id = ids::decode(&input.id, NodeType::Presentation, "id")?;
        let presentation =
            presentations::decide(service(ctx)?, id, input.accept, input.expected_version).await?;
        Ok(DecidePresentationPayload {
            presentation: Presentation(presentation),
        })
    }
}
