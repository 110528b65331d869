//! Delegation members: the row as stored ([`stored`]) and the member as the rest
//! of embhub sees it ([`Model`]).
//!
//! The sensitive fields (nationality, date of birth, passport number, dietary and
//! accessibility needs) are stored only sealed (AES-256-GCM, see
//! `service::personal_data`), so the table's entity cannot be the type the service
//! layer and GraphQL work with: [`Model`] carries them in the clear, and
//! `service::personal_data` is the one place that turns one into the other.

use chrono::NaiveDate;
use sea_orm::prelude::{DateTimeUtc, Uuid};

use crate::domain::ParticipantRole;

pub mod stored;

pub use stored::{ActiveModel, Column, Entity, PrimaryKey, Relation};

/// A delegation member with its personal data in the clear. The service layer
/// blanks the sensitive fields for callers who may not read them, and the audit
/// log redacts them; it is never stored as it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Model {
    pub id: Uuid,
    pub delegation_id: Uuid,
    pub full_name: String,
    pub local_name: Option<String>,
    pub position: Option<String>,
    pub role: ParticipantRole,
    pub email: Option<String>,
    pub dietary_needs: Option<String>,
    pub accessibility_needs: Option<String>,
    pub funded: bool,
    pub needs_visa_support: bool,
    pub nationality: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub passport_number: Option<String>,
    /// When the personal data was erased (on request or at the end of retention).
    pub personal_data_erased_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}
