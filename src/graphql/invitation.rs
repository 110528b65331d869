//! GraphQL surface of invitations.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::connection::{
    DateTimeInput, ParticipationOrder, connection_type, page_request, participation_filter,
    participation_sort,
};
use super::context::{load_children, load_required, service};
use super::delegation::Delegation;
use super::event::Event;
use super::ids::{self, NodeType};
use super::loaders::{DelegationOfInvitation, EventLoader, OrganizationLoader};
use super::organization::{ExternalIdInput, Organization};
use super::prefetch::{self, Selection};
use crate::domain::{FundingItem, InvitationStatus};
use crate::entity::invitation;
use crate::error::{AppError, InputErrors};
use crate::service::invitations::{
    self, InvitationFilter as Filter, Invitees, Offer, funding_items,
};

/// An offer of seats at an event to one organization.
pub struct Invitation(pub invitation::Model);

impl From<invitation::Model> for Invitation {
    fn from(model: invitation::Model) -> Self {
        Invitation(model)
    }
}

/// An offer of seats at an event to one organization.
#[Object]
impl Invitation {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Invitation, self.0.id)
    }
    /// The event.
    async fn event(&self, ctx: &Context<'_>) -> Result<Event> {
        load_required::<EventLoader, _>(ctx, self.0.event_id, "event of an invitation")
            .await
            .map(Event)
    }
    /// The invited organization.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<OrganizationLoader, _>(
            ctx,
            self.0.organization_id,
            "organization of an invitation",
        )
        .await
        .map(Organization)
    }
    /// Where the invitation stands; SENT past its respond-by, or once the event
    /// has ended, reads as EXPIRED.
    async fn status(&self) -> InvitationStatus {
        self.0.status
    }
    /// Seats offered to the organization's delegation.
    async fn seats_offered(&self) -> i32 {
        self.0.seats_offered
    }
    /// How many of the seats the host funds.
    async fn funded_seats(&self) -> i32 {
        self.0.funded_seats
    }
    /// Seats the invitee took when accepting (at most the seats offered); null
    /// until accepted. The delegation's members are limited to it.
    async fn seats_accepted(&self) -> Option<i32> {
        self.0.seats_accepted
    }
    /// Funded seats the delegation may use: the funded seats, capped at the seats
    /// accepted once the invitation is accepted.
    async fn funded_seats_available(&self) -> i32 {
        invitations::seat_limits(&self.0).1
    }
    /// What the funding covers.
    async fn funding_covers(&self) -> Vec<FundingItem> {
        funding_items(&self.0.funding_covers)
    }
    /// Last moment to answer.
    async fn respond_by(&self) -> Option<IsoDateTime> {
        self.0.respond_by.map(IsoDateTime)
    }
    /// The host's message.
    async fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    /// When it was sent.
    async fn sent_at(&self) -> Option<IsoDateTime> {
        self.0.sent_at.map(IsoDateTime)
    }
    /// When the invitee answered.
    async fn responded_at(&self) -> Option<IsoDateTime> {
        self.0.responded_at.map(IsoDateTime)
    }
    /// The invitee's note with its answer (or the host's, on withdrawal).
    async fn response_note(&self) -> Option<&str> {
        self.0.response_note.as_deref()
    }
    /// The delegation formed when the invitation was accepted.
    async fn delegation(&self, ctx: &Context<'_>) -> Result<Option<Delegation>> {
        Ok(
            load_children::<DelegationOfInvitation, _, _>(ctx, self.0.id, Delegation)
                .await?
                .into_iter()
                .next(),
        )
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the invitation was created.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

connection_type!(
    InvitationConnection,
    InvitationEdge,
    Invitation,
    Filter,
    invitations::count,
    "A page of invitations.",
    "An invitation in a page, with its cursor.",
    nested = super::nested::InvitationCounts
);

/// Narrows an invitation list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct InvitationFilter {
    /// Only invitations to this event.
    event_id: Option<ID>,
    /// Only invitations addressed to this organization.
    organization_id: Option<ID>,
    /// Only these statuses.
    statuses: Option<Vec<InvitationStatus>>,
    /// Only invitations changed after this instant (strictly after). To catch up, pass
    /// the largest `updatedAt` you hold, less a safety margin (a change is stamped
    /// a moment before it commits, and instances' clocks differ), with
    /// `orderBy: {field: UPDATED_AT}`, and skip what you already hold (same id
    /// and `updatedAt`).
    updated_since: Option<DateTimeInput>,
    /// Only invitations of organizations whose name, local name or acronym contains
    /// this text, ignoring case (as the directory's `search`).
    search: Option<String>,
}

/// Input of `inviteOrganizations`.
#[derive(InputObject)]
pub struct InviteOrganizationsInput {
    /// The event (hosted by the caller's organization).
    event_id: ID,
    /// The organizations to invite; already invited ones keep their invitation.
    /// With `externalIds`, at most 500 in all, and at least one.
    #[graphql(default)]
    organization_ids: Vec<ID>,
    /// Organizations to invite by their ids in a directory source (such as
    /// A-WEB's member list), resolved at once; unknown ones are a
    /// BAD_USER_INPUT on `externalIds` naming each.
    #[graphql(default)]
    external_ids: Vec<ExternalIdInput>,
    /// Seats offered to each delegation (at least 1).
    seats_offered: i32,
    /// Seats the host funds (at most the seats offered).
    #[graphql(default)]
    funded_seats: i32,
    /// What the funding covers.
    #[graphql(default)]
    funding_covers: Vec<FundingItem>,
    /// Last moment to answer.
    respond_by: Option<IsoDateTime>,
    /// A message to the invitees.
    message: Option<String>,
    /// Send at once (the event must be published); otherwise the invitations stay drafts.
    #[graphql(default)]
    send: bool,
}

/// Input of `sendInvitation`.
#[derive(InputObject)]
pub struct SendInvitationInput {
    /// The DRAFT invitation.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Input of `withdrawInvitation`.
#[derive(InputObject)]
pub struct WithdrawInvitationInput {
    /// The invitation.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// Why, for the invitee.
    note: Option<String>,
}

/// Input of `respondToInvitation`.
#[derive(InputObject)]
pub struct RespondToInvitationInput {
    /// The invitation addressed to the caller's organization.
    id: ID,
    /// True to accept, false to decline.
    accept: bool,
    /// When accepting: how many of the offered seats the organization takes (at
    /// least 1, at most the seats offered; default all). Funded seats are capped
    /// to it.
    seats_accepted: Option<i32>,
    /// A note for the host.
    note: Option<String>,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Result of `inviteOrganizations`.
#[derive(SimpleObject)]
pub struct InviteOrganizationsPayload {
    /// One invitation per requested organization, in request order.
    invitations: Vec<Invitation>,
}

macro_rules! invitation_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The invitation after the change.
            invitation: Invitation,
        }
    };
}

invitation_payload!(SendInvitationPayload, "Result of `sendInvitation`.");
invitation_payload!(WithdrawInvitationPayload, "Result of `withdrawInvitation`.");
invitation_payload!(
    RespondToInvitationPayload,
    "Result of `respondToInvitation`."
);

pub(super) fn filter(input: InvitationFilter) -> Result<Filter, AppError> {
    participation_filter(
        input.event_id,
        input.organization_id,
        input.statuses,
        input.updated_since,
        input.search,
    )
}

#[derive(Default)]
pub struct InvitationQuery;

#[Object]
impl InvitationQuery {
    /// Invitations the caller may see: those addressed to its organization, and
    /// for coordinators those of the events it hosts or co-hosts. Oldest first
    /// unless `orderBy` says otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the invitations must meet.")] filter: Option<InvitationFilter>,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<InvitationConnection> {
        let filter = self::filter(filter.unwrap_or_default())?;
        let page = invitations::list(
            service(ctx)?,
            &filter,
            participation_sort(order_by),
            &page_request(first, after, last, before),
        )
        .await?;
        let rows: Vec<invitation::Model> = page.items.iter().map(|(_, m)| m.clone()).collect();
        prefetch::invitations(ctx, &rows, &Selection::connection_nodes(ctx.look_ahead())).await?;
        Ok(InvitationConnection::new(page, filter))
    }
}

#[derive(Default)]
pub struct InvitationMutation;

#[Object]
impl InvitationMutation {
    /// Invites many organizations at once, in one transaction (the host's
    /// COORDINATOR, or a co-host's granted INVITE). Retrying is safe: organizations already invited keep and
    /// return their invitation.
    async fn invite_organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event, the organizations and the offer.")]
        input: InviteOrganizationsInput,
    ) -> Result<InviteOrganizationsPayload> {
        let event_id = ids::decode(&input.event_id, NodeType::Event, "eventId")?;
        let organizations = ids::decode_all(
            &input.organization_ids,
            NodeType::Organization,
            "organizationIds",
        )?;
        let offer = Offer {
            seats_offered: input.seats_offered,
            funded_seats: input.funded_seats,
            funding_covers: input.funding_covers,
            respond_by: input.respond_by.map(Into::into),
            message: input.message,
        };
        let mut errors = InputErrors::default();
        let external_ids: Vec<_> = input
            .external_ids
            .iter()
            .filter_map(|x| errors.check(x.parse("externalIds")))
            .collect();
        errors.finish()?;
        let invitees = Invitees {
            organization_ids: organizations,
            external_ids,
        };
        let invitations =
            invitations::invite_all(service(ctx)?, event_id, &invitees, offer, input.send).await?;
        Ok(InviteOrganizationsPayload {
            invitations: invitations.into_iter().map(Invitation).collect(),
        })
    }

    /// Sends a DRAFT invitation (the host's COORDINATOR, or a co-host's granted
    /// INVITE).
    async fn send_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation.")] input: SendInvitationInput,
    ) -> Result<SendInvitationPayload> {
        let id = ids::decode(&input.id, NodeType::Invitation, "id")?;
        let invitation = invitations::send(service(ctx)?, id, input.expected_version).await?;
        Ok(SendInvitationPayload {
            invitation: Invitation(invitation),
        })
    }

    /// Withdraws an invitation; an accepted one's delegation is cancelled (the
    /// host's COORDINATOR, or a co-host's granted INVITE).
    async fn withdraw_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation.")] input: WithdrawInvitationInput,
    ) -> Result<WithdrawInvitationPayload> {
        let id = ids::decode(&input.id, NodeType::Invitation, "id")?;
        let invitation =
            invitations::withdraw(service(ctx)?, id, input.expected_version, input.note).await?;
        Ok(WithdrawInvitationPayload {
            invitation: Invitation(invitation),
        })
    }

    /// Accepts or declines an invitation (the invited organization's PARTNER or
    /// COORDINATOR), while SENT, before its respond-by and before the event ends.
    /// Accepting (all offered seats, or `seatsAccepted` of them) creates the
    /// delegation. The same answer twice returns the first result.
    async fn respond_to_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation and the answer.")] input: RespondToInvitationInput,
    ) -> Result<RespondToInvitationPayload> {
        let id = ids::decode(&input.id, NodeType::Invitation, "id")?;
        let invitation = invitations::respond(
            service(ctx)?,
            id,
            invitations::Answer {
                accept: input.accept,
                seats_accepted: input.seats_accepted,
                note: input.note,
                expected_version: input.expected_version,
            },
        )
        .await?;
        Ok(RespondToInvitationPayload {
            invitation: Invitation(invitation),
        })
    }
}
