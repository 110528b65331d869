//! Enumerations shared by storage and the API.
//!
//! Each enum is stored as its SCREAMING_SNAKE_CASE name (a CHECK constraint in the
//! migrations lists the allowed values) and exposed under the same name in GraphQL.
//! Deriving both here keeps one definition per concept: the stored value and the
//! wire value are the same stable contract, and a new variant needs one edit plus a
//! migration.

use async_graphql::Enum;
use sea_orm::{DeriveActiveEnum, EnumIter};
use serde::Serialize;

/// What kind of body an organization is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum OrganizationKind {
    /// A national or regional election management body (EMB).
    ElectionManagementBody,
    /// An international organization such as A-WEB, International IDEA or IFES.
    InternationalOrganization,
    /// A development cooperation agency such as KOICA.
    DevelopmentAgency,
    /// A civic or voter education institute such as KOCEI.
    CivicEducationInstitute,
    /// A research institute or university.
    ResearchInstitute,
    /// A non-governmental organization.
    Ngo,
    /// Any other kind of organization.
    Other,
}

/// What kind of international event it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum EventKind {
    /// A visitor program around an election: briefings, observation, counting.
    ElectionVisitorProgram,
    /// A forum of experts on election topics.
    Forum,
    /// A seminar where delegations present and discuss.
    Seminar,
    /// An invitation to observe another body's election.
    ElectionObservation,
    /// A training program.
    Training,
    /// A conference.
    Conference,
    /// Any other kind of event.
    Other,
}

/// How certain the event's dates are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DateStatus {
    /// The dates are placeholders until the host confirms them.
    ToBeConfirmed,
    /// The dates are planned but may still move (for example with an election date).
    Tentative,
    /// The dates are fixed.
    Confirmed,
}

/// Where an event is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum EventStatus {
    /// Being prepared by the host; invisible to partners.
    Draft,
    /// Announced to partners.
    Published,
    /// No longer taking applications or answers.
    Closed,
    /// Took place.
    Completed,
    /// Moved to a later, not yet known date.
    Postponed,
    /// Will not take place.
    Cancelled,
}

/// How organizations come to take part in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ParticipationMode {
    /// Only organizations the host invites take part.
    InvitationOnly,
    /// Organizations may apply until the application deadline.
    ApplicationsOpen,
}

/// What an agenda item of an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SessionKind {
    /// A briefing for participants.
    Briefing,
    /// A lecture.
    Lecture,
    /// A panel discussion.
    Panel,
    /// Delegations present on a topic.
    Presentations,
    /// An open discussion.
    Discussion,
    /// Observation of early voting.
    ObservationEarlyVoting,
    /// Observation of voting on election day.
    ObservationElectionDay,
    /// Observation of the count.
    ObservationCounting,
    /// A mock vote with the host's equipment.
    MockVoting,
    /// A visit to a site such as a polling station or the commission.
    SiteVisit,
    /// A cultural program.
    CulturalProgram,
    /// A reception or dinner.
    Reception,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum InvitationStatus {
    /// Prepared by the host, not yet sent; invisible to the invitee.
    Draft,
    /// Sent and awaiting an answer.
    Sent,
    /// Accepted by the invitee; a delegation exists.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Withdrawn by the host.
    Withdrawn,
    /// Not answered before the respond-by date.
    Expired,
}

/// A cost the host's funding covers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum FundingItem {
    /// International flights.
    Airfare,
    /// Hotel.
    Accommodation,
    /// Meals.
    Meals,
    /// Transport during the event.
    LocalTransport,
    /// A daily allowance.
    PerDiem,
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ApplicationStatus {
    /// Awaiting the host's decision.
    Submitted,
    /// Accepted: an accepted invitation and a delegation exist.
    Accepted,
    /// Rejected by the host.
    Rejected,
    /// Withdrawn by the applicant.
    Withdrawn,
}

/// Where a delegation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DelegationStatus {
    /// Members are being registered.
    Forming,
    /// The organization confirmed its members.
    Confirmed,
    /// The delegation will not come (the event was cancelled or the invitation withdrawn).
    Cancelled,
}

/// A participant's part in the delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ParticipantRole {
    /// Head of the delegation.
    Head,
    /// A member.
    Member,
    /// An interpreter.
    Interpreter,
    /// A speaker at a session.
    Speaker,
    /// Support staff.
    Staff,
}

/// Where a proposed presentation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum PresentationStatus {
    /// Awaiting the host's decision.
    Proposed,
    /// On the agenda.
    Accepted,
    /// Not on the agenda.
    Rejected,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(
    rs_type = "String",
    db_type = "Text",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet: waiting for its first attempt or for a retry.
    Pending,
    /// The receiver answered with a 2xx status.
    Delivered,
    /// Every attempt failed; no more are made (`redeliverWebhook` starts again).
    Failed,
}

/// What the host lets a co-host do at one event, beyond reading it and its
/// participation (which every co-host may). The host's coordinators hold every
/// permission; changes to the event itself (its details, dates, status, co-hosts
/// and personal-data retention) stay the host's alone, and no permission reveals
/// participants' personal data.
// Stored as one boolean column each on `event_co_hosts` (so access checks can
// filter in SQL), not as text like the enumerations above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CoHostPermission {
    /// Invite organizations, send and withdraw invitations.
    Invite,
    /// Add, change and remove sessions; accept or reject proposed presentations.
    ManageAgenda,
    /// Accept or reject applications.
    ReviewApplications,
    /// Read the audit trail (activity) of the event and its records.
    ViewActivity,
}

impl CoHostPermission {
    /// Every permission, in the order lists show them.
    pub const ALL: [CoHostPermission; 4] = [
        CoHostPermission::Invite,
        CoHostPermission::ManageAgenda,
        CoHostPermission::ReviewApplications,
        CoHostPermission::ViewActivity,
    ];

    /// The name clients see, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            CoHostPermission::Invite => "INVITE",
            CoHostPermission::ManageAgenda => "MANAGE_AGENDA",
            CoHostPermission::ReviewApplications => "REVIEW_APPLICATIONS",
            CoHostPermission::ViewActivity => "VIEW_ACTIVITY",
        }
    }
}
