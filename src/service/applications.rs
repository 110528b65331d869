//! Applications to events open to them, and the host's decision (or a co-host's
//! the host granted REVIEW_APPLICATIONS).
//!
//! Accepting an application creates an ACCEPTED invitation and its delegation in
//! the same transaction, so everything downstream follows one path.

use chrono::Utc;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, Set,
};
use uuid::Uuid;

use super::invitations::{self, Offer, funding_items};
use super::lists::{self, ParticipationFilter, ParticipationSortField};
use super::pagination::{Page, PageRequest, SortDirection};
use super::{ServiceContext, access, audit, delegations, events};
use crate::domain::{
    ApplicationStatus, BoundedText, CoHostPermission, EventStatus, FundingItem, Name,
    ParticipationMode,
};
use crate::entity::application::{ActiveModel, Column, Entity, Model};
use crate::entity::event;
use crate::error::{AppError, AppResult, InputErrors};

const TEXT_MAX: usize = 10_000;
const TOPIC_MAX: usize = 300;
const MAX_TOPICS: usize = 20;
const MAX_SEATS: i32 = 50;
const NOT_FOUND: AppError = AppError::NotFound {
    entity: "application",
};

/// An application as the applicant enters it.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub motivation: String,
    pub proposed_topics: Vec<String>,
    pub seats_requested: i32,
    pub funding_requested: Vec<FundingItem>,
}

/// The host's decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub expected_version: Option<i32>,
    pub accept: bool,
    pub note: Option<String>,
    /// Seats to offer when accepting (default: the seats requested).
    pub seats_offered: Option<i32>,
    /// Funded seats when accepting (default: all offered seats if funding was asked).
    pub funded_seats: Option<i32>,
    /// What funding covers when accepting (default: what was asked).
    pub funding_covers: Option<Vec<FundingItem>>,
}

/// Which applications a list shows (within what the caller may see).
pub type ApplicationFilter = ParticipationFilter<ApplicationStatus>;

/// The topics an applicant proposed.
pub fn topics(model: &Model) -> Vec<String> {
    serde_json::from_value(model.proposed_topics.clone()).unwrap_or_default()
}

/// The funding an applicant asked for.
pub fn funding(model: &Model) -> Vec<FundingItem> {
    funding_items(&model.funding_requested)
}

fn visible(cx: &ServiceContext) -> Select<Entity> {
    Entity::find().filter(access::participation_visible(
        cx,
        Column::EventId,
        Column::OrganizationId,
    ))
}

/// The applications among `ids` the caller may see, in one query (for lists that
/// name many, such as an activity feed's targets).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(visible(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// Reads one application the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    visible(cx)
        .filter(Column::Id.eq(id))
        .one(&cx.db)
        .await?
        .ok_or(NOT_FOUND)
}

/// The visible applications of each of `event_ids`, oldest first.
pub async fn of_events(cx: &ServiceContext, event_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible(cx)
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(&cx.db)
        .await?)
}

pub(crate) fn filtered(cx: &ServiceContext, filter: &ApplicationFilter) -> Select<Entity> {
    lists::narrow(
        visible(cx),
        Column::EventId,
        Column::OrganizationId,
        Column::UpdatedAt,
        Column::Status,
        filter,
    )
}

/// The columns the applications lists sort, page and group by.
const LIST: lists::ParticipationList<Entity> = lists::ParticipationList {
    name: "applications",
    created_at: Column::CreatedAt,
    updated_at: Column::UpdatedAt,
    status: Column::Status,
    organization_id: Column::OrganizationId,
    id: Column::Id,
    event_id: Column::EventId,
    event_of: |m| m.event_id,
};

/// One page of the applications the caller may see, in `sort` order.
pub async fn list(
    cx: &ServiceContext,
    filter: &ApplicationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<Page<Model>> {
    lists::page(cx, &LIST, filtered(cx, filter), sort, page).await
}

/// How many applications the caller may see match `filter`.
pub async fn count(cx: &ServiceContext, filter: &ApplicationFilter) -> AppResult<u64> {
    Ok(filtered(cx, filter).count(&cx.db).await?)
}

/// One page of the applications of each of `event_ids` the caller may see, matching
/// `filter` (a filter's own `event_id` narrows further), in `sort` order:
/// one query for all the events, however many (a nested list of a page of events).
pub async fn pages_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &ApplicationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<std::collections::HashMap<Uuid, Page<Model>>> {
    lists::pages_per_event(cx, &LIST, filtered(cx, filter), event_ids, sort, page).await
}

/// How many applications of each of `event_ids` the caller may see match `filter`
/// in one grouped query.
pub async fn counts_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &ApplicationFilter,
) -> AppResult<std::collections::HashMap<Uuid, u64>> {
    super::pagination::count_per_parent(&cx.db, filtered(cx, filter), Column::EventId, event_ids)
        .await
}

async fn record(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: &Model,
) -> AppResult<()> {
    audit::record_change(
        txn,
        cx,
        action,
        "Application",
        after.id,
        before,
        Some(after),
    )
    .await
}

fn validate(input: &NewApplication) -> AppResult<(String, Vec<String>)> {
    let mut errors = InputErrors::default();
    let motivation = errors.check(BoundedText::parse(
        &input.motivation,
        "motivation",
        TEXT_MAX,
    ));
    if !(1..=MAX_SEATS).contains(&input.seats_requested) {
        errors.add(
            "seatsRequested",
            format!("must be between 1 and {MAX_SEATS}"),
        );
    }
    if input.proposed_topics.len() > MAX_TOPICS {
        errors.add("proposedTopics", format!("at most {MAX_TOPICS} topics"));
    }
    let topics: Vec<String> = input
        .proposed_topics
        .iter()
        .filter_map(|t| {
            errors
                .check(Name::parse(t, "proposedTopics", TOPIC_MAX))
                .map(Name::into_inner)
        })
        .collect();
    let Some(motivation) = motivation else {
        return Err(errors.fail());
    };
    errors.finish()?;
    Ok((motivation.into_inner(), topics))
}

fn ensure_open(event: &event::Model) -> AppResult<()> {
    events::ensure_not_over(event, Utc::now())?;
    if event.participation_mode != ParticipationMode::ApplicationsOpen {
        return Err(AppError::conflict(
            "this event takes participants by invitation only",
        ));
    }
    if event.status != EventStatus::Published {
        return Err(AppError::conflict(format!(
            "the event is {} and takes no applications",
            event.status.to_value()
        )));
    }
    if event
        .application_deadline
        .is_some_and(|deadline| deadline < Utc::now())
    {
        return Err(AppError::conflict("the application deadline has passed"));
    }
    Ok(())
}

/// Applies to an event for the caller's organization (partners and coordinators).
/// Applying again after withdrawing re-submits; applying twice returns the pending
/// application.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %event_id))]
pub async fn apply(cx: &ServiceContext, event_id: Uuid, input: NewApplication) -> AppResult<Model> {
    if !cx.caller().acts_as_partner() {
        return Err(AppError::forbidden("only partners apply to events"));
    }
    let (motivation, topics) = validate(&input)?;
    let organization_id = cx.caller().organization_id;
    let txn = cx.begin_write().await?;
    let event = events::visible_event(&txn, cx, event_id).await?;
    if event.host_organization_id == organization_id {
        return Err(AppError::conflict(
            "the host does not apply to its own event",
        ));
    }
    ensure_open(&event)?;
    // A host's DRAFT does not exist for the invitee: it may apply, and accepting
    // the application turns the draft into its accepted invitation.
    if invitations::visible_to_invitee_exists(&txn, event_id, organization_id).await? {
        return Err(AppError::conflict(
            "your organization is already invited to this event: answer the invitation",
        ));
    }
    let existing = Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::OrganizationId.eq(organization_id))
        .one(&txn)
        .await?;
    let now = Utc::now();
    let saved = match existing {
        Some(current) if current.status == ApplicationStatus::Submitted => return Ok(current),
        Some(current) if current.status == ApplicationStatus::Withdrawn => {
            let mut active: ActiveModel = current.clone().into();
            active.status = Set(ApplicationStatus::Submitted);
            active.motivation = Set(motivation);
            active.proposed_topics = Set(serde_json::json!(topics));
            active.seats_requested = Set(input.seats_requested);
            active.funding_requested =
                Set(serde_json::to_value(&input.funding_requested).map_err(AppError::internal)?);
            let updated = super::save_versioned(
                &txn,
                active,
                Column::Version,
                Column::UpdatedAt,
                current.version,
            )
            .await?;
            record(&txn, cx, "application.resubmit", Some(&current), &updated).await?;
            updated
        }
        Some(current) => {
            return Err(AppError::conflict(format!(
                "your organization's application was already {}",
                current.status.to_value()
            )));
        }
        None => {
            let created = ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event_id),
                organization_id: Set(organization_id),
                status: Set(ApplicationStatus::Submitted),
                motivation: Set(motivation),
                proposed_topics: Set(serde_json::json!(topics)),
                seats_requested: Set(input.seats_requested),
                funding_requested: Set(
                    serde_json::to_value(&input.funding_requested).map_err(AppError::internal)?
                ),
                decision_note: Set(None),
                decided_at: Set(None),
                invitation_id: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                AppError::from_write(e, || {
                    AppError::conflict("an application was submitted concurrently")
                })
            })?;
            record(&txn, cx, "application.submit", None, &created).await?;
            created
        }
    };
    cx.commit(txn).await?;
    Ok(saved)
}

/// Withdraws a pending application (the applicant). Withdrawing twice is a no-op.
pub async fn withdraw(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let current = visible(cx)
        .filter(Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    if !access::acts_for(cx, current.organization_id) {
        return Err(AppError::forbidden(
            "only the applicant withdraws its application",
        ));
    }
    match current.status {
        ApplicationStatus::Withdrawn => return Ok(current),
        ApplicationStatus::Submitted => {}
        other => {
            return Err(AppError::conflict(format!(
                "the application was already {}",
                other.to_value()
            )));
        }
    }
    super::check_version(expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(ApplicationStatus::Withdrawn);
    let updated = super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(&txn, cx, "application.withdraw", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// The host's decision (host coordinators, or co-hosts granted
/// REVIEW_APPLICATIONS, except on their own organization's application).
/// Accepting creates an ACCEPTED invitation and the delegation. Deciding the same way twice returns the first
/// result; the other way is a CONFLICT.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id, accept = decision.accept))]
pub async fn decide(cx: &ServiceContext, id: Uuid, decision: Decision) -> AppResult<Model> {
    let note = BoundedText::parse_optional(decision.note.as_deref(), "note", TEXT_MAX)?;
    let txn = cx.begin_write().await?;
    let current = visible(cx)
        .filter(Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    let event = events::load_with_permission(
        &txn,
        cx,
        current.event_id,
        CoHostPermission::ReviewApplications,
    )
    .await?;
    access::refuse_own_decision(cx, &event, current.organization_id, "application")?;
    let outcome = if decision.accept {
        ApplicationStatus::Accepted
    } else {
        ApplicationStatus::Rejected
    };
    match current.status {
        status if status == outcome => return Ok(current),
        ApplicationStatus::Submitted => {}
        other => {
            return Err(AppError::conflict(format!(
                "the application was already {}",
                other.to_value()
            )));
        }
    }
    super::check_version(decision.expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(outcome);
    active.decision_note = Set(note);
    active.decided_at = Set(Some(Utc::now()));
    if decision.accept {
        if event.status != EventStatus::Published {
            return Err(AppError::conflict(format!(
                "the event is {} and takes no more participants",
                event.status.to_value()
            )));
        }
        let asked = funding(&current);
        let seats = decision.seats_offered.unwrap_or(current.seats_requested);
        let offer = Offer {
            seats_offered: seats,
            funded_seats: decision
                .funded_seats
                .unwrap_or(if asked.is_empty() { 0 } else { seats }),
            funding_covers: decision.funding_covers.unwrap_or(asked),
            respond_by: None,
            message: None,
        };
        invitations::validate_offer(&offer, &event)?;
        events::ensure_not_over(&event, Utc::now())?;
        let (invitation, needs_delegation) =
            invitations::accept_application(&txn, cx, &event, current.organization_id, &offer)
                .await?;
        if needs_delegation {
            delegations::create_for(&txn, cx, &invitation).await?;
        }
        active.invitation_id = Set(Some(invitation.id));
    }
    let updated = super::save_versioned(
        &txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(
        &txn,
        cx,
        if decision.accept {
            "application.accept"
        } else {
            "application.reject"
        },
        Some(&current),
        &updated,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Rejects the pending applications of a cancelled event, inside `txn`.
pub(crate) async fn reject_pending_of_event(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    event_id: Uuid,
    note: &str,
) -> AppResult<()> {
    let pending = Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::Status.eq(ApplicationStatus::Submitted))
        .all(txn)
        .await?;
    for current in pending {
        let mut active: ActiveModel = current.clone().into();
        active.status = Set(ApplicationStatus::Rejected);
        active.decision_note = Set(Some(note.to_owned()));
        active.decided_at = Set(Some(Utc::now()));
        let updated = super::save_versioned(
            txn,
            active,
            Column::Version,
            Column::UpdatedAt,
            current.version,
        )
        .await?;
        record(txn, cx, "application.reject", Some(&current), &updated).await?;
    }
    Ok(())
}
