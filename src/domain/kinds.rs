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
