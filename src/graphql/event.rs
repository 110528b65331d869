//! GraphQL surface of events: reading, planning and publishing them.

use super::scalars::{IsoDate, IsoDateTime};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::application::{self, ApplicationConnection};
use super::connection::{
    DateTimeInput, ParticipationOrder, connection_type, page_request, participation_sort, patch,
};
use super::context::{load_children, loader, service};
use super::delegation::{self, DelegationConnection};
use super::ids::{self, NodeType};
use super::invitation::{self, InvitationConnection};
use super::loaders::{
    CoHostLoader, DateChangeLoader, EventLoader, OrganizationLoader, SessionsOfEvent, SummaryLoader,
};
use super::nested::{self, ApplicationPages, DelegationPages, InvitationPages, ListArgs};
use super::organization::Organization;
use super::prefetch::{self, Selection};
use super::session::Session;
use crate::domain::{
    ApplicationStatus, CoHostPermission, DateStatus, DelegationStatus, EventKind, EventStatus,
    InvitationStatus, ParticipationMode,
};
use crate::entity::{event, event_date_change};
use crate::error::AppError;
use crate::service::events::{
    self, EventChanges, EventFields, EventFilter as Filter, EventSortField, Reschedule, Transition,
};
use crate::service::pagination::SortDirection;

/// An international event: a visitor program, forum, seminar, observation mission.
pub struct Event(pub event::Model);

/// An international event: a visitor program, forum, seminar, observation mission.
#[Object]
impl Event {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Event, self.0.id)
    }
    /// What kind of event this is.
    async fn kind(&self) -> EventKind {
        self.0.kind
    }
    /// The organization hosting the event.
    async fn host(&self, ctx: &Context<'_>) -> Result<Organization> {
        loader::<OrganizationLoader>(ctx)?
            .load_one(self.0.host_organization_id)
            .await?
            .map(Organization)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("event host missing")).into())
    }
    /// The organizations co-hosting the event, in the order they were added, each
    /// with what the host lets it do.
    async fn co_hosts(&self, ctx: &Context<'_>) -> Result<Vec<CoHost>> {
        Ok(loader::<CoHostLoader>(ctx)?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(CoHost)
            .collect())
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Longer description for participants.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The election the event is organized around, if any.
    async fn election_name(&self) -> Option<&str> {
        self.0.election_name.as_deref()
    }
    /// The date of that election.
    async fn election_date(&self) -> Option<IsoDate> {
        self.0.election_date.map(IsoDate)
    }
    /// Venue name.
    async fn venue(&self) -> Option<&str> {
        self.0.venue.as_deref()
    }
    /// City.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// ISO 3166-1 alpha-2 code of the country where it takes place.
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    /// IANA time zone of the venue, in which sessions are scheduled.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// First day.
    async fn start_date(&self) -> IsoDate {
        IsoDate(self.0.start_date)
    }
    /// Last day.
    async fn end_date(&self) -> IsoDate {
        IsoDate(self.0.end_date)
    }
    /// How certain the dates are.
    async fn date_status(&self) -> DateStatus {
        self.0.date_status
    }
    /// Where the event is in its life cycle.
    async fn status(&self) -> EventStatus {
        self.0.status
    }
    /// How organizations come to take part.
    async fn participation_mode(&self) -> ParticipationMode {
        self.0.participation_mode
    }
    /// Last moment to apply, for events open to applications.
    async fn application_deadline(&self) -> Option<IsoDateTime> {
        self.0.application_deadline.map(IsoDateTime)
    }
    /// Most delegations the host can receive.
    async fn max_delegations(&self) -> Option<i32> {
        self.0.max_delegations
    }
    /// Most participants the host can receive.
    async fn max_participants(&self) -> Option<i32> {
        self.0.max_participants
    }
    /// The event this one is held alongside (a forum during a visitor program), if
    /// the caller may see it.
    async fn held_alongside(&self, ctx: &Context<'_>) -> Result<Option<Event>> {
        let Some(other) = self.0.held_alongside_event_id else {
            return Ok(None);
        };
        Ok(loader::<EventLoader>(ctx)?
            .load_one(other)
            .await?
            .map(Event))
    }
    /// Every change of the event's dates, oldest first, with its reason.
    async fn date_changes(&self, ctx: &Context<'_>) -> Result<Vec<EventDateChange>> {
        Ok(loader::<DateChangeLoader>(ctx)?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(EventDateChange)
            .collect())
    }
    /// The agenda, in order of start.
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        load_children::<SessionsOfEvent, _, _>(ctx, self.0.id, Session).await
    }
    /// Invitations to this event the caller may see (all of them for the host and
    /// co-hosts; a partner sees its own), a page at a time, with the same filter,
    /// ordering and cursors as the root `invitations` list (oldest first by
    /// default). A page of events costs one query for all their pages.
    #[allow(clippy::too_many_arguments)]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the invitations must meet.")] filter: Option<
            invitation::InvitationFilter,
        >,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<InvitationConnection> {
        let filter = invitation::filter(filter.unwrap_or_default())?;
        let args = ListArgs {
            filter: filter.clone(),
            sort: participation_sort(order_by),
            page: page_request(first, after, last, before),
        };
        let page = nested::page::<InvitationPages, _, _>(ctx, self.0.id, args).await?;
        Ok(InvitationConnection::nested(page, filter, self.0.id))
    }
    /// Applications to this event the caller may see, a page at a time, with the
    /// same filter, ordering and cursors as the root `applications` list.
    #[allow(clippy::too_many_arguments)]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the applications must meet.")] filter: Option<
            application::ApplicationFilter,
        >,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<ApplicationConnection> {
        let filter = application::filter(filter.unwrap_or_default())?;
        let args = ListArgs {
            filter: filter.clone(),
            sort: participation_sort(order_by),
            page: page_request(first, after, last, before),
        };
        let page = nested::page::<ApplicationPages, _, _>(ctx, self.0.id, args).await?;
        Ok(ApplicationConnection::nested(page, filter, self.0.id))
    }
    /// Delegations at this event the caller may see, a page at a time, with the
    /// same filter, ordering and cursors as the root `delegations` list.
    #[allow(clippy::too_many_arguments)]
    async fn delegations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the delegations must meet.")] filter: Option<
            delegation::DelegationFilter,
        >,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<DelegationConnection> {
        let filter = delegation::filter(filter.unwrap_or_default())?;
        let args = ListArgs {
            filter: filter.clone(),
            sort: participation_sort(order_by),
            page: page_request(first, after, last, before),
        };
        let page = nested::page::<DelegationPages, _, _>(ctx, self.0.id, args).await?;
        Ok(DelegationConnection::nested(page, filter, self.0.id))
    }
    /// The event's participation in numbers, as far as the caller may see it
    /// (a partner's summary counts its own participation), counted by the
    /// database without listing rows.
    async fn participation_summary(&self, ctx: &Context<'_>) -> Result<ParticipationSummary> {
        Ok(ParticipationSummary(
            loader::<SummaryLoader>(ctx)?
                .load_one(self.0.id)
                .await?
                .unwrap_or_default(),
        ))
    }
    /// Every audited change touching this event — the event, its co-hosts,
    /// sessions, invitations, applications, delegations, participants and
    /// presentations — newest first, in API form (see `ActivityEntry`). For the
    /// host's COORDINATOR and co-hosts granted VIEW_ACTIVITY; null for anyone else.
    #[allow(clippy::too_many_arguments)]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the entries must meet.")] filter: Option<
            super::activity::ActivityFilterInput,
        >,
    ) -> Result<Option<super::activity::ActivityConnection>> {
        super::activity::of_event(
            ctx,
            &self.0,
            page_request(first, after, last, before),
            filter,
        )
        .await
    }
    /// When the event was published to partners.
    async fn published_at(&self) -> Option<IsoDateTime> {
        self.0.published_at.map(IsoDateTime)
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the event was created.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When the event last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

/// An event's participation in numbers.
pub struct ParticipationSummary(crate::service::summary::Summary);

/// How many invitations have one status.
#[derive(SimpleObject)]
pub struct InvitationStatusCount {
    /// The status, as clients see it (EXPIRED included before the sweep).
    status: InvitationStatus,
    /// How many.
    count: u64,
}

/// How many applications have one status.
#[derive(SimpleObject)]
pub struct ApplicationStatusCount {
    /// The status.
    status: ApplicationStatus,
    /// How many.
    count: u64,
}

/// How many delegations have one status.
#[derive(SimpleObject)]
pub struct DelegationStatusCount {
    /// The status.
    status: DelegationStatus,
    /// How many.
    count: u64,
}

/// An event's participation in numbers.
#[Object]
impl ParticipationSummary {
    /// Invitations by status, every status listed (zeros included).
    async fn invitations(&self) -> Vec<InvitationStatusCount> {
        self.0
            .invitations
            .iter()
            .map(|&(status, count)| InvitationStatusCount { status, count })
            .collect()
    }
    /// Applications by status, every status listed.
    async fn applications(&self) -> Vec<ApplicationStatusCount> {
        self.0
            .applications
            .iter()
            .map(|&(status, count)| ApplicationStatusCount { status, count })
            .collect()
    }
    /// Delegations by status, every status listed.
    async fn delegations(&self) -> Vec<DelegationStatusCount> {
        self.0
            .delegations
            .iter()
            .map(|&(status, count)| DelegationStatusCount { status, count })
            .collect()
    }
    /// Seats offered by invitations that were sent and stand (not drafts, not
    /// withdrawn).
    async fn seats_offered(&self) -> u64 {
        self.0.seats_offered
    }
    /// Seats the accepted invitations took.
    async fn seats_accepted(&self) -> u64 {
        self.0.seats_accepted
    }
    /// Members registered in delegations that are not cancelled.
    async fn seats_filled(&self) -> u64 {
        self.0.seats_filled
    }
    /// Funded seats offered, on the same invitations as `seatsOffered`.
    async fn funded_seats_offered(&self) -> u64 {
        self.0.funded_seats_offered
    }
    /// Members on funded seats, in delegations that are not cancelled.
    async fn funded_seats_filled(&self) -> u64 {
        self.0.funded_seats_filled
    }
    /// Members needing visa support, in delegations that are not cancelled.
    async fn participants_needing_visa_support(&self) -> u64 {
        self.0.needing_visa_support
    }
}

/// One change of an event's dates.
pub struct EventDateChange(pub event_date_change::Model);

/// One change of an event's dates.
#[Object]
impl EventDateChange {
    /// Global id.
    async fn id(&self) -> ID {
        ids::encode(NodeType::EventDateChange, self.0.id)
    }
    /// First day before the change.
    async fn previous_start_date(&self) -> IsoDate {
        IsoDate(self.0.previous_start_date)
    }
    /// Last day before the change.
    async fn previous_end_date(&self) -> IsoDate {
        IsoDate(self.0.previous_end_date)
    }
    /// Date status before the change.
    async fn previous_date_status(&self) -> DateStatus {
        self.0.previous_date_status
    }
    /// First day after the change.
    async fn new_start_date(&self) -> IsoDate {
        IsoDate(self.0.new_start_date)
    }
    /// Last day after the change.
    async fn new_end_date(&self) -> IsoDate {
        IsoDate(self.0.new_end_date)
    }
    /// Date status after the change.
    async fn new_date_status(&self) -> DateStatus {
        self.0.new_date_status
    }
    /// Why the dates moved, as told to those invited.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// When the change was made.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
}

/// An organization co-hosting an event, and what the host lets it do there.
pub struct CoHost(pub events::CoHost);

/// An organization co-hosting an event, and what the host lets it do there.
/// Every co-host reads the event and its participation (never participants'
/// personal data); the permissions add what it may change.
#[Object]
impl CoHost {
    /// The co-host.
    async fn organization(&self) -> Organization {
        Organization(self.0.organization.clone())
    }
    /// What the host granted it at this event (empty: it only reads). The host's
    /// coordinators change them with `updateCoHostPermissions`.
    async fn permissions(&self) -> Vec<CoHostPermission> {
        self.0.link.permissions()
    }
    /// When the host added it.
    async fn added_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.link.created_at)
    }
}

/// Narrows an event list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only these kinds.
    kinds: Option<Vec<EventKind>>,
    /// Only these statuses.
    statuses: Option<Vec<EventStatus>>,
    /// Only events hosted by this organization.
    host_id: Option<ID>,
    /// Only events co-hosted by this organization.
    co_host_id: Option<ID>,
    /// Only events in this country (ISO 3166-1 alpha-2).
    country_code: Option<String>,
    /// Only events starting on or after this day.
    starts_on_or_after: Option<IsoDate>,
    /// Only events starting on or before this day.
    starts_on_or_before: Option<IsoDate>,
    /// Text found in the title, ignoring case.
    search: Option<String>,
    /// Only events changed after this instant (strictly after), their agenda and
    /// co-hosts included. To catch up, pass the largest `updatedAt` you hold, less
    /// a safety margin (a change is stamped a moment before it commits, and
    /// instances' clocks differ), with `orderBy: {field: UPDATED_AT}`, and skip
    /// what you already hold (same id and `updatedAt`).
    updated_since: Option<DateTimeInput>,
}

impl EventFilter {
    fn into_service(self) -> Result<Filter, AppError> {
        let org = |id: Option<ID>, field| {
            id.map(|id| ids::decode(&id, NodeType::Organization, field))
                .transpose()
        };
        Ok(Filter {
            kinds: self.kinds,
            statuses: self.statuses,
            host_organization_id: org(self.host_id, "filter.hostId")?,
            co_host_organization_id: org(self.co_host_id, "filter.coHostId")?,
            country_code: self.country_code,
            starts_on_or_after: self.starts_on_or_after.map(Into::into),
            starts_on_or_before: self.starts_on_or_before.map(Into::into),
            search: self.search,
            updated_since: DateTimeInput::parse_optional(
                self.updated_since,
                "filter.updatedSince",
            )?,
        })
    }
}

/// Sort order of an event list.
#[derive(InputObject)]
pub struct EventOrder {
    /// What to sort by.
    #[graphql(default_with = "EventSortField::StartDate")]
    field: EventSortField,
    /// Which way.
    #[graphql(default_with = "SortDirection::Asc")]
    direction: SortDirection,
}

connection_type!(
    EventConnection,
    EventEdge,
    Event,
    Filter,
    events::count,
    "A page of events.",
    "An event in a page, with its cursor."
);

impl From<event::Model> for Event {
    fn from(model: event::Model) -> Self {
        Event(model)
    }
}

/// Input of `createEvent`. The caller's organization hosts the event, which starts
/// as a DRAFT.
#[derive(InputObject)]
pub struct CreateEventInput {
    /// What kind of event.
    kind: EventKind,
    /// Title.
    title: String,
    /// Longer description.
    description: Option<String>,
    /// The election it is organized around.
    election_name: Option<String>,
    /// The date of that election.
    election_date: Option<IsoDate>,
    /// Venue name.
    venue: Option<String>,
    /// City.
    city: Option<String>,
    /// Country (ISO 3166-1 alpha-2).
    country_code: Option<String>,
    /// IANA time zone of the venue, such as `Asia/Seoul`.
    time_zone: String,
    /// First day.
    start_date: IsoDate,
    /// Last day (not before the first).
    end_date: IsoDate,
    /// How certain the dates are (default TENTATIVE).
    #[graphql(default_with = "DateStatus::Tentative")]
    date_status: DateStatus,
    /// How organizations take part (default INVITATION_ONLY).
    #[graphql(default_with = "ParticipationMode::InvitationOnly")]
    participation_mode: ParticipationMode,
    /// Last moment to apply; required when open to applications.
    application_deadline: Option<IsoDateTime>,
    /// Most delegations.
    max_delegations: Option<i32>,
    /// Most participants.
    max_participants: Option<i32>,
    /// The event this one is held alongside.
    held_alongside_id: Option<ID>,
}

/// Input of `updateEvent`: omitted fields stay, `null` clears optional ones. Dates
/// change here only while the event is a DRAFT; afterwards use `rescheduleEvent`.
#[derive(InputObject)]
pub struct UpdateEventInput {
    /// The event to change.
    id: ID,
    /// The version you read; the update fails with CONFLICT if it changed since.
    expected_version: Option<i32>,
    /// New kind.
    kind: Option<EventKind>,
    /// New title.
    title: Option<String>,
    /// New description.
    description: MaybeUndefined<String>,
    /// New election name.
    election_name: MaybeUndefined<String>,
    /// New election date.
    election_date: MaybeUndefined<IsoDate>,
    /// New venue.
    venue: MaybeUndefined<String>,
    /// New city.
    city: MaybeUndefined<String>,
    /// New country: ISO 3166-1 alpha-2 code, two letters such as `KR`.
    country_code: MaybeUndefined<String>,
    /// New IANA time zone.
    time_zone: Option<String>,
    /// New first day (DRAFT only).
    start_date: Option<IsoDate>,
    /// New last day (DRAFT only).
    end_date: Option<IsoDate>,
    /// New date status (DRAFT only).
    date_status: Option<DateStatus>,
    /// New participation mode.
    participation_mode: Option<ParticipationMode>,
    /// New application deadline.
    application_deadline: MaybeUndefined<IsoDateTime>,
    /// New delegation capacity.
    max_delegations: MaybeUndefined<i32>,
    /// New participant capacity.
    max_participants: MaybeUndefined<i32>,
    /// New event this one is held alongside.
    held_alongside_id: MaybeUndefined<ID>,
}

/// Input of `publishEvent`.
#[derive(InputObject)]
pub struct PublishEventInput {
    /// The DRAFT event to publish.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Input of `rescheduleEvent`.
#[derive(InputObject)]
pub struct RescheduleEventInput {
    /// The event to move.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// New first day.
    start_date: IsoDate,
    /// New last day.
    end_date: IsoDate,
    /// How certain the new dates are.
    date_status: DateStatus,
    /// Why the dates move; shown to everyone invited.
    reason: String,
}

/// Input of `addCoHost`.
#[derive(InputObject)]
pub struct AddCoHostInput {
    /// The event.
    event_id: ID,
    /// The organization to add as a co-host.
    organization_id: ID,
    /// What the co-host may do at the event; none (the default): it reads the
    /// event and its participation only.
    #[graphql(default)]
    permissions: Vec<CoHostPermission>,
}

/// Input of `removeCoHost`.
#[derive(InputObject)]
pub struct CoHostInput {
    /// The event.
    event_id: ID,
    /// The co-host organization.
    organization_id: ID,
}

/// Input of `updateCoHostPermissions`.
#[derive(InputObject)]
pub struct UpdateCoHostPermissionsInput {
    /// The event.
    event_id: ID,
    /// The co-host organization.
    organization_id: ID,
    /// Every permission the co-host holds from now on (replacing its current
    /// ones; empty takes them all back).
    permissions: Vec<CoHostPermission>,
    /// The event's version you read (the change moves it).
    expected_version: Option<i32>,
}

macro_rules! event_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The event after the change.
            event: Event,
        }
    };
}

event_payload!(CreateEventPayload, "Result of `createEvent`.");
event_payload!(UpdateEventPayload, "Result of `updateEvent`.");
event_payload!(PublishEventPayload, "Result of `publishEvent`.");
event_payload!(RescheduleEventPayload, "Result of `rescheduleEvent`.");
event_payload!(AddCoHostPayload, "Result of `addCoHost`.");
event_payload!(CloseEventPayload, "Result of `closeEvent`.");
event_payload!(CompleteEventPayload, "Result of `completeEvent`.");
event_payload!(PostponeEventPayload, "Result of `postponeEvent`.");
event_payload!(CancelEventPayload, "Result of `cancelEvent`.");

/// Input of the life-cycle mutations `closeEvent`, `completeEvent`,
/// `postponeEvent` and `cancelEvent`.
#[derive(InputObject)]
pub struct EventStatusChangeInput {
    /// The event.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
    /// Why; required to postpone or cancel, and shown to everyone invited.
    reason: Option<String>,
}

async fn change_status(
    ctx: &Context<'_>,
    input: EventStatusChangeInput,
    transition: Transition,
) -> Result<Event> {
    let id = ids::decode(&input.id, NodeType::Event, "id")?;
    let event = events::transition(
        service(ctx)?,
        id,
        transition,
        input.expected_version,
        input.reason,
    )
    .await?;
    Ok(Event(event))
}
event_payload!(RemoveCoHostPayload, "Result of `removeCoHost`.");
event_payload!(
    UpdateCoHostPermissionsPayload,
    "Result of `updateCoHostPermissions`."
);

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events the caller may see, a page at a time.
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the events must meet.")] filter: Option<EventFilter>,
        #[graphql(desc = "Sort order (default: by start date, ascending).")] order_by: Option<
            EventOrder,
        >,
    ) -> Result<EventConnection> {
        let cx = service(ctx)?;
        let filter = filter.unwrap_or_default().into_service()?;
        let sort = order_by.map_or((EventSortField::StartDate, SortDirection::Asc), |o| {
            (o.field, o.direction)
        });
        let page =
            events::list(cx, &filter, sort, &page_request(first, after, last, before)).await?;
        let rows: Vec<event::Model> = page.items.iter().map(|(_, m)| m.clone()).collect();
        prefetch::events_below(
            ctx,
            &rows,
            &Selection::connection_nodes(ctx.look_ahead()),
            false,
        )
        .await?;
        Ok(EventConnection::new(page, filter))
    }

    /// One event by id; null, with a NOT_FOUND error, when there is none the
    /// caller may see.
    async fn event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the event.")] id: ID,
    ) -> Result<Option<Event>> {
        let id = ids::decode(&id, NodeType::Event, "id")?;
        Ok(Some(Event(prefetch::event(ctx, id).await?)))
    }
}

/// The event and organization of a co-host mutation.
fn co_host_ids(event_id: &ID, organization_id: &ID) -> Result<(uuid::Uuid, uuid::Uuid), AppError> {
    Ok((
        ids::decode(event_id, NodeType::Event, "eventId")?,
        ids::decode(organization_id, NodeType::Organization, "organizationId")?,
    ))
}

fn optional_event_id(id: Option<ID>, field: &str) -> Result<Option<uuid::Uuid>, AppError> {
    id.map(|id| ids::decode(&id, NodeType::Event, field))
        .transpose()
}

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
    /// Plans a new event hosted by the caller's organization (COORDINATOR).
    async fn create_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new event.")] input: CreateEventInput,
    ) -> Result<CreateEventPayload> {
        let fields = EventFields {
            kind: input.kind,
            title: input.title,
            description: input.description,
            election_name: input.election_name,
            election_date: input.election_date.map(Into::into),
            venue: input.venue,
            city: input.city,
            country_code: input.country_code,
            time_zone: input.time_zone,
            start_date: input.start_date.into(),
            end_date: input.end_date.into(),
            date_status: input.date_status,
            participation_mode: input.participation_mode,
            application_deadline: input.application_deadline.map(Into::into),
            max_delegations: input.max_delegations,
            max_participants: input.max_participants,
            held_alongside_event_id: optional_event_id(input.held_alongside_id, "heldAlongsideId")?,
        };
        let event = events::create(service(ctx)?, fields).await?;
        Ok(CreateEventPayload {
            event: Event(event),
        })
    }

    /// Changes an event's details (the host's COORDINATOR).
    async fn update_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the changes.")] input: UpdateEventInput,
    ) -> Result<UpdateEventPayload> {
        let id = ids::decode(&input.id, NodeType::Event, "id")?;
        let held_alongside = match patch(input.held_alongside_id) {
            None => None,
            Some(None) => Some(None),
            Some(Some(other)) => Some(Some(ids::decode(
                &other,
                NodeType::Event,
                "heldAlongsideId",
            )?)),
        };
        let changes = EventChanges {
            expected_version: input.expected_version,
            kind: input.kind,
            title: input.title,
            description: patch(input.description),
            election_name: patch(input.election_name),
            election_date: patch(input.election_date),
            venue: patch(input.venue),
            city: patch(input.city),
            country_code: patch(input.country_code),
            time_zone: input.time_zone,
            start_date: input.start_date.map(Into::into),
            end_date: input.end_date.map(Into::into),
            date_status: input.date_status,
            participation_mode: input.participation_mode,
            application_deadline: patch(input.application_deadline),
            max_delegations: patch(input.max_delegations),
            max_participants: patch(input.max_participants),
            held_alongside_event_id: held_alongside,
        };
        let event = events::update(service(ctx)?, id, changes).await?;
        Ok(UpdateEventPayload {
            event: Event(event),
        })
    }

    /// Makes a DRAFT event visible to partners (the host's COORDINATOR).
    async fn publish_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event to publish.")] input: PublishEventInput,
    ) -> Result<PublishEventPayload> {
        let id = ids::decode(&input.id, NodeType::Event, "id")?;
        let event = events::publish(service(ctx)?, id, input.expected_version).await?;
        Ok(PublishEventPayload {
            event: Event(event),
        })
    }

    /// Moves an event's dates and records why (the host's COORDINATOR).
    async fn reschedule_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and its new dates.")] input: RescheduleEventInput,
    ) -> Result<RescheduleEventPayload> {
        let id = ids::decode(&input.id, NodeType::Event, "id")?;
        let event = events::reschedule(
            service(ctx)?,
            id,
            Reschedule {
                expected_version: input.expected_version,
                start_date: input.start_date.into(),
                end_date: input.end_date.into(),
                date_status: input.date_status,
                reason: input.reason,
            },
        )
        .await?;
        Ok(RescheduleEventPayload {
            event: Event(event),
        })
    }

    /// Adds a co-host to an event with the permissions the host grants it (the
    /// host's COORDINATOR); adding one twice with the same permissions is safe.
    async fn add_co_host(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event, the organization and its permissions.")] input: AddCoHostInput,
    ) -> Result<AddCoHostPayload> {
        let (event_id, org_id) = co_host_ids(&input.event_id, &input.organization_id)?;
        let event =
            events::add_co_host(service(ctx)?, event_id, org_id, &input.permissions).await?;
        Ok(AddCoHostPayload {
            event: Event(event),
        })
    }

    /// Replaces what a co-host may do at an event (the host's COORDINATOR only;
    /// a co-host never changes its own permissions or another's).
    async fn update_co_host_permissions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event, the co-host and its permissions from now on.")]
        input: UpdateCoHostPermissionsInput,
    ) -> Result<UpdateCoHostPermissionsPayload> {
        let (event_id, org_id) = co_host_ids(&input.event_id, &input.organization_id)?;
        let event = events::update_co_host_permissions(
            service(ctx)?,
            event_id,
            org_id,
            &input.permissions,
            input.expected_version,
        )
        .await?;
        Ok(UpdateCoHostPermissionsPayload {
            event: Event(event),
        })
    }

    /// Stops taking applications and answers (the host's COORDINATOR).
    async fn close_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event.")] input: EventStatusChangeInput,
    ) -> Result<CloseEventPayload> {
        Ok(CloseEventPayload {
            event: change_status(ctx, input, Transition::Close).await?,
        })
    }

    /// Records that the event took place (the host's COORDINATOR).
    async fn complete_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event.")] input: EventStatusChangeInput,
    ) -> Result<CompleteEventPayload> {
        Ok(CompleteEventPayload {
            event: change_status(ctx, input, Transition::Complete).await?,
        })
    }

    /// Postpones the event to a date not yet known; `rescheduleEvent` later sets
    /// the new dates (the host's COORDINATOR).
    async fn postpone_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the reason.")] input: EventStatusChangeInput,
    ) -> Result<PostponeEventPayload> {
        Ok(PostponeEventPayload {
            event: change_status(ctx, input, Transition::Postpone).await?,
        })
    }

    /// Cancels the event: open invitations are withdrawn, delegations cancelled and
    /// pending applications rejected, in one transaction (the host's COORDINATOR).
    async fn cancel_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the reason.")] input: EventStatusChangeInput,
    ) -> Result<CancelEventPayload> {
        Ok(CancelEventPayload {
            event: change_status(ctx, input, Transition::Cancel).await?,
        })
    }

    /// Removes a co-host from an event (the host's COORDINATOR).
    async fn remove_co_host(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the organization.")] input: CoHostInput,
    ) -> Result<RemoveCoHostPayload> {
        let (event_id, org_id) = co_host_ids(&input.event_id, &input.organization_id)?;
        let event = events::remove_co_host(service(ctx)?, event_id, org_id).await?;
        Ok(RemoveCoHostPayload {
            event: Event(event),
        })
    }
}
