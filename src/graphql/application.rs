//! GraphQL surface of applications.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::connection::{
    DateTimeInput, ParticipationOrder, connection_type, page_request, participation_filter,
    participation_sort,
};
use super::context::{load_one, load_required, service};
use super::event::Event;
use super::ids::{self, NodeType};
use super::invitation::Invitation;
use super::loaders::{EventLoader, InvitationLoader, OrganizationLoader};
use super::organization::Organization;
use crate::domain::{ApplicationStatus, FundingItem};
use crate::entity::application;
use crate::error::AppError;
use crate::service::applications::{self, ApplicationFilter as Filter, Decision, NewApplication};

/// An organization's request to take part in an event open to applications.
pub struct Application(pub application::Model);

impl From<application::Model> for Application {
    fn from(model: application::Model) -> Self {
        Application(model)
    }
}

/// An organization's request to take part in an event open to applications.
#[Object]
impl Application {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Application, self.0.id)
    }
    /// The event applied to.
    async fn event(&self, ctx: &Context<'_>) -> Result<Event> {
        load_required::<EventLoader, _>(ctx, self.0.event_id, "event of an application")
            .await
            .map(Event)
    }
    /// The applying organization.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<OrganizationLoader, _>(
            ctx,
            self.0.organization_id,
            "organization of an application",
        )
        .await
        .map(Organization)
    }
    /// Where the application stands.
    async fn status(&self) -> ApplicationStatus {
        self.0.status
    }
    /// Why the organization wants to take part.
    async fn motivation(&self) -> &str {
        &self.0.motivation
    }
    /// Topics the organization would present on.
    async fn proposed_topics(&self) -> Vec<String> {
        applications::topics(&self.0)
    }
    /// Seats asked for.
    async fn seats_requested(&self) -> i32 {
        self.0.seats_requested
    }
    /// Costs the organization asks the host to fund.
    async fn funding_requested(&self) -> Vec<FundingItem> {
        applications::funding(&self.0)
    }
    /// The host's note with its decision.
    async fn decision_note(&self) -> Option<&str> {
        self.0.decision_note.as_deref()
    }
    /// When the host decided.
    async fn decided_at(&self) -> Option<IsoDateTime> {
        self.0.decided_at.map(IsoDateTime)
    }
    /// The accepted invitation created when the application was accepted.
    async fn invitation(&self, ctx: &Context<'_>) -> Result<Option<Invitation>> {
        let Some(id) = self.0.invitation_id else {
            return Ok(None);
        };
        Ok(load_one::<InvitationLoader, _>(ctx, id)
            .await?
            .map(Invitation))
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the application was submitted.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}

connection_type!(
    ApplicationConnection,
    ApplicationEdge,
    Application,
    Filter,
    applications::count,
    "A page of applications.",
    "An application in a page, with its cursor.",
    nested = super::nested::ApplicationCounts
);

/// Narrows an application list; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct ApplicationFilter {
    /// Only applications to this event.
    event_id: Option<ID>,
    /// Only applications of this organization.
    organization_id: Option<ID>,
    /// Only these statuses.
    statuses: Option<Vec<ApplicationStatus>>,
    /// Only applications changed after this instant (strictly after). To catch up, pass
    /// the largest `updatedAt` you hold, less a safety margin (a change is stamped
    /// a moment before it commits, and instances' clocks differ), with
    /// `orderBy: {field: UPDATED_AT}`, and skip what you already hold (same id
    /// and `updatedAt`).
    updated_since: Option<DateTimeInput>,
    /// Only applications of organizations whose name, local name or acronym contains
    /// this text, ignoring case (as the directory's `search`).
    search: Option<String>,
}

/// Input of `applyToEvent`.
#[derive(InputObject)]
pub struct ApplyToEventInput {
    /// The event (open to applications, before its deadline).
    event_id: ID,
    /// Why the organization wants to take part.
    motivation: String,
    /// Topics the organization would present on.
    #[graphql(default)]
    proposed_topics: Vec<String>,
    /// Seats asked for (1 to 50).
    seats_requested: i32,
    /// Costs the organization asks the host to fund.
    #[graphql(default)]
    funding_requested: Vec<FundingItem>,
}

/// Input of `withdrawApplication`.
#[derive(InputObject)]
pub struct WithdrawApplicationInput {
    /// The application.
    id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Input of `decideApplication`.
#[derive(InputObject)]
pub struct DecideApplicationInput {
    /// The application.
    id: ID,
    /// True to accept, false to reject.
    accept: bool,
    /// A note for the applicant.
    note: Option<String>,
    /// The version you read.
    expected_version: Option<i32>,
    /// Seats to offer when accepting (default: the seats requested).
    seats_offered: Option<i32>,
    /// Funded seats when accepting (default: all, if funding was requested).
    funded_seats: Option<i32>,
    /// What the funding covers when accepting (default: what was requested).
    funding_covers: Option<Vec<FundingItem>>,
}

macro_rules! application_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The application after the change.
            application: Application,
        }
    };
}

application_payload!(ApplyToEventPayload, "Result of `applyToEvent`.");
application_payload!(
    WithdrawApplicationPayload,
    "Result of `withdrawApplication`."
);
application_payload!(DecideApplicationPayload, "Result of `decideApplication`.");

pub(super) fn filter(input: ApplicationFilter) -> Result<Filter, AppError> {
    participation_filter(
        input.event_id,
        input.organization_id,
        input.statuses,
        input.updated_since,
        input.search,
    )
}

#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Applications the caller may see: its organization's, and for coordinators
    /// those to the events it hosts or co-hosts. Oldest first
    /// unless `orderBy` says otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the applications must meet.")] filter: Option<
            ApplicationFilter,
        >,
        #[graphql(desc = "Sort order (default: by creation, oldest first).")] order_by: Option<
            ParticipationOrder,
        >,
    ) -> Result<ApplicationConnection> {
        let filter = self::filter(filter.unwrap_or_default())?;
        let page = applications::list(
            service(ctx)?,
            &filter,
            participation_sort(order_by),
            &page_request(first, after, last, before),
        )
        .await?;
        Ok(ApplicationConnection::new(page, filter))
    }
}

#[derive(Default)]
pub struct ApplicationMutation;

#[Object]
impl ApplicationMutation {
    /// Applies to an event open to applications for the caller's organization
    /// (PARTNER or COORDINATOR). Applying twice returns the pending application.
    async fn apply_to_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the application.")] input: ApplyToEventInput,
    ) -> Result<ApplyToEventPayload> {
        let event_id = ids::decode(&input.event_id, NodeType::Event, "eventId")?;
        let application = applications::apply(
            service(ctx)?,
            event_id,
            NewApplication {
                motivation: input.motivation,
                proposed_topics: input.proposed_topics,
                seats_requested: input.seats_requested,
                funding_requested: input.funding_requested,
            },
        )
        .await?;
        Ok(ApplyToEventPayload {
            application: Application(application),
        })
    }

    /// Withdraws a pending application (the applicant).
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application.")] input: WithdrawApplicationInput,
    ) -> Result<WithdrawApplicationPayload> {
        let id = ids::decode(&input.id, NodeType::Application, "id")?;
        let application = applications::withdraw(service(ctx)?, id, input.expected_version).await?;
        Ok(WithdrawApplicationPayload {
            application: Application(application),
        })
    }

    /// Accepts or rejects an application (the host's COORDINATOR, or a co-host's
    /// granted REVIEW_APPLICATIONS, except its own organization's). Accepting
    /// creates an ACCEPTED invitation and the delegation.
    async fn decide_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application and the decision.")] input: DecideApplicationInput,
    ) -> Result<DecideApplicationPayload> {
        let id = ids::decode(&input.id, NodeType::Application, "id")?;
        let application = applications::decide(
            service(ctx)?,
            id,
            Decision {
                expected_version: input.expected_version,
                accept: input.accept,
                note: input.note,
                seats_offered: input.seats_offered,
                funded_seats: input.funded_seats,
                funding_covers: input.funding_covers,
            },
        )
        .await?;
        Ok(DecideApplicationPayload {
            application: Application(application),
        })
    }
}
