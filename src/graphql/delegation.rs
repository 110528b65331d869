//! GraphQL surface of delegations and their members.

use super::scalars::{IsoDate, IsoDateTime};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::connection::{
    DateTimeInput, ParticipationOrder, connection_type, page_request, participation_filter,
    participation_sort, patch,
};
use super::context::{load_children, load_one, load_required, service};
use super::event::Event;
use super::ids::{self, NodeType};
use super::invitation::Invitation;
use super::loaders::{
    DelegationLoader, EventLoader, InvitationLoader, OrganizationLoader, ParticipantLoader,
    ParticipantsOfDelegation, PresentationsOfDelegation,
};
use super::organization::Organization;
use super::prefetch::{self, Selection};
use super::presentation::Presentation;
use crate::domain::{DelegationStatus, ParticipantRole};
use crate::entity::{delegation, participant};
use crate::error::AppError;
use crate::service::delegations::{self, DelegationChanges, DelegationFilter as Filter};
use crate::service::members::{self, MemberFilter};
use crate::service::participants::{self, ParticipantChanges, ParticipantFields};

/// The people an organization sends to an event.
pub struct Delegation(pub delegation::Model);

impl From<delegation::Model> for Delegation {
    fn from(model: delegation::Model) -> Self {
        Delegation(model)
    }
}

/// The people an organization sends to an event.
#[Object]
impl Delegation {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Delegation, self.0.id)
    }
    /// The event.
    async fn event(&self, ctx: &Context<'_>) -> Result<Event> {
        load_required::<EventLoader, _>(ctx, self.0.event_id, "event of a delegation")
            .await
            .map(Event)
    }
    /// The sending organization.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<OrganizationLoader, _>(
            ctx,
            self.0.organization_id,
            "organization of a delegation",
        )
        .await
        .map(Organization)
    }
    /// The accepted invitation the delegation comes under (its seats are the limit).
    async fn invitation(&self, ctx: &Context<'_>) -> Result<Invitation> {
        load_required::<InvitationLoader, _>(
            ctx,
            self.0.invitation_id,
            "invitation of a delegation",
        )
        .await
        .map(Invitation)
    }
    /// Where the delegation stands.
    async fn status(&self) -> DelegationStatus {
        self.0.status
    }
    /// The head of delegation: the one participant with the role HEAD.
    async fn head(&self, ctx: &Context<'_>) -> Result<Option<Participant>> {
        let Some(head) = self.0.head_participant_id else {
            return Ok(None);
        };
        Ok(load_one::<ParticipantLoader, _>(ctx, head)
            .await?
            .map(Participant))
    }
    /// When the delegation arrives.
    async fn arrival_at(&self) -> Option<IsoDateTime> {
        self.0.arrival_at.map(IsoDateTime)
    }
    /// When the delegation leaves.
    async fn departure_at(&self) -> Option<IsoDateTime> {
        self.0.departure_at.map(IsoDateTime)
    }
    /// Notes for the host.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// The members, in the order they were registered, a page at a time (the
    /// root lists' cursor rules). A page of delegations reads all their members
    /// in one query.
    async fn participants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the members must meet.")] filter: Option<ParticipantFilter>,
    ) -> Result<ParticipantConnection> {
        let members =
            load_children::<ParticipantsOfDelegation, _, _>(ctx, self.0.id, |m| m).await?;
        let filter = filter.map(Into::into).unwrap_or_default();
        let page = members::page(members, &filter, &page_request(first, after, last, before))?;
        Ok(ParticipantConnection::new(page))
    }
    /// The presentations the delegation proposed.
    async fn presentations(&self, ctx: &Context<'_>) -> Result<Vec<Presentation>> {
        load_children::<PresentationsOfDelegation, _, _>(ctx, self.0.id, Presentation).await
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the delegation was formed.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

/// A member of a delegation. Nationality, date of birth and passport number are
/// shown only to the delegation's own organization and the host's coordinators;
/// for anyone else they are null.
#[derive(Clone)]
pub struct Participant(pub participant::Model);

/// Narrows a delegation's members; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct ParticipantFilter {
    /// Only these roles.
    roles: Option<Vec<ParticipantRole>>,
    /// Only members whose seat the host funds (true) or does not (false).
    funded: Option<bool>,
    /// Only members who need (true) or do not need (false) visa support.
    needs_visa_support: Option<bool>,
}

impl From<ParticipantFilter> for MemberFilter {
    fn from(input: ParticipantFilter) -> Self {
        MemberFilter {
            roles: input.roles,
            funded: input.funded,
            needs_visa_support: input.needs_visa_support,
        }
    }
}

/// A page of a delegation's members.
pub struct ParticipantConnection {
    edges: Vec<ParticipantEdge>,
    page_info: async_graphql::connection::PageInfo,
    total: u64,
}

impl ParticipantConnection {
    fn new(page: crate::service::pagination::Page<participant::Model>) -> Self {
        let (edges, page_info, total) = super::connection::edges_and_info(page, Participant);
        Self {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| ParticipantEdge { cursor, node })
                .collect(),
            page_info,
            total: total.unwrap_or_default(),
        }
    }
}

/// A page of a delegation's members.
#[Object]
impl ParticipantConnection {
    /// The members of this page, each with its cursor.
    async fn edges(&self) -> &[ParticipantEdge] {
        &self.edges
    }
    /// The members of this page.
    async fn nodes(&self) -> Vec<&Participant> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Where this page is in the whole list.
    async fn page_info(&self) -> &async_graphql::connection::PageInfo {
        &self.page_info
    }
    /// How many members match the filter, across all pages.
    async fn total_count(&self) -> u64 {
        self.total
    }
}

/// A member in a page, with its cursor.
#[derive(SimpleObject)]
pub struct ParticipantEdge {
    /// Opaque position of this member, for `after` and `before`.
    cursor: String,
    /// The member.
    node: Participant,
}

/// A member of a delegation. Nationality, date of birth and passport number are
/// shown only to the delegation's own organization and the host's coordinators;
/// for anyone else they are null.
#[Object]
impl Participant {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Participant, self.0.id)
    }
    /// The delegation.
    async fn delegation(&self, ctx: &Context<'_>) -> Result<Delegation> {
        load_required::<DelegationLoader, _>(
            ctx,
            self.0.delegation_id,
            "delegation of a participant",
        )
        .await
        .map(Delegation)
    }
    /// Full name in Latin script, as in the passport.
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    /// Name in the participant's own script.
    async fn local_name(&self) -> Option<&str> {
        self.0.local_name.as_deref()
    }
    /// Job title.
    async fn position(&self) -> Option<&str> {
        self.0.position.as_deref()
    }
    /// Part in the delegation.
    async fn role(&self) -> ParticipantRole {
        self.0.role
    }
    /// E-mail address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Dietary needs.
    async fn dietary_needs(&self) -> Option<&str> {
        self.0.dietary_needs.as_deref()
    }
    /// Accessibility needs.
    async fn accessibility_needs(&self) -> Option<&str> {
        self.0.accessibility_needs.as_deref()
    }
    /// Whether the host funds this participant.
    async fn funded(&self) -> bool {
        self.0.funded
    }
    /// Whether the participant needs a visa support letter.
    async fn needs_visa_support(&self) -> bool {
        self.0.needs_visa_support
    }
    /// Nationality (ISO 3166-1 alpha-2); sensitive.
    async fn nationality(&self) -> Option<&str> {
        self.0.nationality.as_deref()
    }
    /// Date of birth; sensitive.
    async fn date_of_birth(&self) -> Option<IsoDate> {
        self.0.date_of_birth.map(IsoDate)
    }
    /// Passport number; sensitive.
    async fn passport_number(&self) -> Option<&str> {
        self.0.passport_number.as_deref()
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the participant was registered.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When the record last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

connection_type!(
    DelegationConnection,
    DelegationEdge,
    Delegation,
    Filter,
    delegations::count,
    "A page of delegations.",
    "A delegation in a page, with its cursor.",
    nested = super::nested::DelegationCounts
);

/// Narrows a delegation list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct DelegationFilter {
    /// Only delegations to this event.
    event_id: Option<ID>,
    /// Only delegations of this organization.
    organization_id: Option<ID>,
    /// Only these statuses.
    statuses: Option<Vec<DelegationStatus>>,
    /// Only delegations changed after this instant (strictly after). To catch up, pass
    /// the largest `updatedAt` you hold, less a safety margin (a change is stamped
    /// a moment before it commits, and instances' clocks differ), with
    /// `orderBy: {field: UPDATED_AT}`, and skip what you already hold (same id
    /// and `updatedAt`).
    updated_since: Option<DateTimeInput>,
    /// Only delegations of organizations whose name, local name or acronym contains
    /// this text, ignoring case (as the directory's `search`).
    search: Option<String>,
}

/// Input of `updateDelegation`: omitted fields stay, `null` clears them.
#[derive(InputObject)]
pub struct UpdateDelegationInput {
    /// The delegation.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// The head of delegation (a member of it): it gets the role HEAD and the
    /// previous head becomes a MEMBER; `null` leaves the delegation without a head.
    head_participant_id: MaybeUndefined<ID>,
    /// Arrival.
    arrival_at: MaybeUndefined<IsoDateTime>,
    /// Departure (not before the arrival).
    departure_at: MaybeUndefined<IsoDateTime>,
    /// Notes for the host.
    notes: MaybeUndefined<String>,
}

/// Input of `confirmDelegation`.
#[derive(InputObject)]
pub struct ConfirmDelegationInput {
    /// The delegation (with at least one participant).
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Input of `addParticipant`.
#[derive(InputObject)]
pub struct AddParticipantInput {
    /// The delegation, within the seats of its invitation.
    delegation_id: ID,
    /// Full name in Latin script, as in the passport.
    full_name: String,
    /// Name in the participant's own script.
    local_name: Option<String>,
    /// Job title.
    position: Option<String>,
    /// Part in the delegation (default MEMBER). HEAD makes this member the
    /// delegation's head; a delegation has at most one.
    #[graphql(default_with = "ParticipantRole::Member")]
    role: ParticipantRole,
    /// E-mail address.
    email: Option<String>,
    /// Dietary needs.
    dietary_needs: Option<String>,
    /// Accessibility needs.
    accessibility_needs: Option<String>,
    /// Whether the host funds this participant (within the funded seats).
    #[graphql(default)]
    funded: bool,
    /// Whether a visa support letter is needed.
    #[graphql(default)]
    needs_visa_support: bool,
    /// Nationality (ISO 3166-1 alpha-2); sensitive.
    nationality: Option<String>,
    /// Date of birth; sensitive.
    date_of_birth: Option<IsoDate>,
    /// Passport number; sensitive.
    passport_number: Option<String>,
}

/// Input of `updateParticipant`: omitted fields stay, `null` clears optional ones.
#[derive(InputObject)]
pub struct UpdateParticipantInput {
    /// The participant.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// New full name.
    full_name: Option<String>,
    /// New local-script name.
    local_name: MaybeUndefined<String>,
    /// New job title.
    position: MaybeUndefined<String>,
    /// New role. HEAD makes this member the delegation's head (when it has none);
    /// leaving HEAD leaves the delegation without one.
    role: Option<ParticipantRole>,
    /// New e-mail address.
    email: MaybeUndefined<String>,
    /// New dietary needs.
    dietary_needs: MaybeUndefined<String>,
    /// New accessibility needs.
    accessibility_needs: MaybeUndefined<String>,
    /// Whether funded (within the funded seats).
    funded: Option<bool>,
    /// Whether a visa support letter is needed.
    needs_visa_support: Option<bool>,
    /// New nationality: ISO 3166-1 alpha-2 code, two letters such as `UZ`; sensitive.
    nationality: MaybeUndefined<String>,
    /// New date of birth.
    date_of_birth: MaybeUndefined<IsoDate>,
    /// New passport number.
    passport_number: MaybeUndefined<String>,
}

/// Input of `removeParticipant`.
#[derive(InputObject)]
pub struct RemoveParticipantInput {
    /// The participant.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Result of `updateDelegation`.
#[derive(SimpleObject)]
pub struct UpdateDelegationPayload {
    /// The delegation after the change.
    delegation: Delegation,
}

/// Result of `confirmDelegation`.
#[derive(SimpleObject)]
pub struct ConfirmDelegationPayload {
    /// The delegation after the change.
    delegation: Delegation,
}

/// Result of `addParticipant`.
#[derive(SimpleObject)]
pub struct AddParticipantPayload {
    /// The new participant.
    participant: Participant,
}

/// Result of `updateParticipant`.
#[derive(SimpleObject)]
pub struct UpdateParticipantPayload {
    /// The participant after the change.
    participant: Participant,
}

/// Result of `removeParticipant`.
#[derive(SimpleObject)]
pub struct RemoveParticipantPayload {
    /// Global id of the removed participant.
    removed_participant_id: ID,
}

pub(super) fn filter(input: DelegationFilter) -> Result<Filter, AppError> {
    participation_filter(
        input.event_id,
        input.organization_id,
        input.statuses,
        input.updated_since,
        input.search,
    )
}

#[derive(Default)]
pub struct DelegationQuery;

#[Object]
impl DelegationQuery {
    /// Delegations the caller may see: its organization's, and for coordinators
    /// those at the events it hosts or co-hosts. Oldest first
    /// unless `orderBy` says otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn delegations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the delegations must meet.")] filter: Option<DelegationFilter>,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<DelegationConnection> {
        let filter = self::filter(filter.unwrap_or_default())?;
        let page = delegations::list(
            service(ctx)?,
            &filter,
            participation_sort(order_by),
            &page_request(first, after, last, before),
        )
        .await?;
        let rows: Vec<delegation::Model> = page.items.iter().map(|(_, m)| m.clone()).collect();
        prefetch::delegations_below(
            ctx,
            &rows,
            &Selection::connection_nodes(ctx.look_ahead()),
            false,
        )
        .await?;
        Ok(DelegationConnection::new(page, filter))
    }
}

#[derive(Default)]
pub struct DelegationMutation;

#[Object]
impl DelegationMutation {
    /// Changes the head, travel dates or notes (the delegation's organization).
    /// Naming a head moves the role HEAD to that member.
    async fn update_delegation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delegation and the changes.")] input: UpdateDelegationInput,
    ) -> Result<UpdateDelegationPayload> {
        let id = ids::decode(&input.id, NodeType::Delegation, "id")?;
        let head = match patch(input.head_participant_id) {
            None => None,
            Some(None) => Some(None),
            Some(Some(p)) => Some(Some(ids::decode(
                &p,
                NodeType::Participant,
                "headParticipantId",
            )?)),
        };
        let delegation = delegations::update(
            service(ctx)?,
            id,
            DelegationChanges {
                expected_version: input.expected_version,
                head_participant_id: head,
                arrival_at: patch(input.arrival_at),
                departure_at: patch(input.departure_at),
                notes: patch(input.notes),
            },
        )
        .await?;
        Ok(UpdateDelegationPayload {
            delegation: Delegation(delegation),
        })
    }

    /// Confirms the delegation's members (the delegation's organization).
    async fn confirm_delegation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delegation.")] input: ConfirmDelegationInput,
    ) -> Result<ConfirmDelegationPayload> {
        let id = ids::decode(&input.id, NodeType::Delegation, "id")?;
        let delegation = delegations::confirm(service(ctx)?, id, input.expected_version).await?;
        Ok(ConfirmDelegationPayload {
            delegation: Delegation(delegation),
        })
    }

    /// Registers a member, within the invitation's seats and funded seats (the
    /// delegation's organization).
    async fn add_participant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delegation and the participant.")] input: AddParticipantInput,
    ) -> Result<AddParticipantPayload> {
        let delegation_id =
            ids::decode(&input.delegation_id, NodeType::Delegation, "delegationId")?;
        let participant = participants::add(
            service(ctx)?,
            delegation_id,
            ParticipantFields {
                full_name: input.full_name,
                local_name: input.local_name,
                position: input.position,
                role: input.role,
                email: input.email,
                dietary_needs: input.dietary_needs,
                accessibility_needs: input.accessibility_needs,
                funded: input.funded,
                needs_visa_support: input.needs_visa_support,
                nationality: input.nationality,
                date_of_birth: input.date_of_birth.map(Into::into),
                passport_number: input.passport_number,
            },
        )
        .await?;
        Ok(AddParticipantPayload {
            participant: Participant(participant),
        })
    }

    /// Changes a member's details (the delegation's organization).
    async fn update_participant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The participant and the changes.")] input: UpdateParticipantInput,
    ) -> Result<UpdateParticipantPayload> {
        let id = ids::decode(&input.id, NodeType::Participant, "id")?;
        let participant = participants::update(
            service(ctx)?,
            id,
            ParticipantChanges {
                expected_version: input.expected_version,
                full_name: input.full_name,
                local_name: patch(input.local_name),
                position: patch(input.position),
                role: input.role,
                email: patch(input.email),
                dietary_needs: patch(input.dietary_needs),
                accessibility_needs: patch(input.accessibility_needs),
                funded: input.funded,
                needs_visa_support: input.needs_visa_support,
                nationality: patch(input.nationality),
                date_of_birth: patch(input.date_of_birth),
                passport_number: patch(input.passport_number),
            },
        )
        .await?;
        Ok(UpdateParticipantPayload {
            participant: Participant(participant),
        })
    }

    /// Removes a member and their presentations (the delegation's organization).
    async fn remove_participant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The participant.")] input: RemoveParticipantInput,
    ) -> Result<RemoveParticipantPayload> {
        let id = ids::decode(&input.id, NodeType::Participant, "id")?;
        let removed = participants::remove(service(ctx)?, id, input.expected_version).await?;
        Ok(RemoveParticipantPayload {
            removed_participant_id: ids::encode(NodeType::Participant, removed.id),
        })
    }
}
