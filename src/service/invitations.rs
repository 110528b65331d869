//! Invitations: the host offers an organization seats (some funded) at an event,
//! and the invitee answers.
//!
//! Rules: one invitation per (event, organization); only the host's coordinators
//! (and co-hosts the host granted INVITE) create, send and withdraw; only the invitee answers, while SENT and before the
//! respond-by moment; accepting creates the delegation in the same transaction. An
//! invitation past its respond-by reads as EXPIRED at once; a periodic sweep also
//! writes it. Retries are safe: the same answer twice returns the first result.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select, Set,
};
use uuid::Uuid;

use super::access;
use super::lists::{self, ParticipationFilter, ParticipationSortField};
use super::pagination::{Page, PageRequest, SortDirection};
use super::{ServiceContext, audit, delegations, events};
use crate::domain::{
    BoundedText, CoHostPermission, EventStatus, FundingItem, InvitationStatus,
    plausible_instant_opt,
};
use crate::entity::invitation::{ActiveModel, Column, Entity, Model};
use crate::entity::{event, organization};
use crate::error::{AppError, AppResult, InputErrors};

/// The PostgreSQL advisory lock one expiry sweep at a time holds.
const EXPIRY_SWEEP_LOCK: i64 = 0x656d_6268_7562_0003; // "embhub" 3

/// Most organizations one `inviteOrganizations` call takes.
pub const MAX_BATCH: usize = 500;
const MESSAGE_MAX: usize = 10_000;
const NOTE_MAX: usize = 2_000;
const NOT_FOUND: AppError = AppError::NotFound {
    entity: "invitation",
};

/// The terms offered with an invitation.
#[derive(Debug, Clone)]
pub struct Offer {
    pub seats_offered: i32,
    pub funded_seats: i32,
    pub funding_covers: Vec<FundingItem>,
    pub respond_by: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// Which invitations a list shows (within what the caller may see); statuses
/// are matched as clients see them (EXPIRED included before the sweep).
pub type InvitationFilter = ParticipationFilter<InvitationStatus>;

/// The funding items stored with an invitation or application.
pub fn funding_items(json: &serde_json::Value) -> Vec<FundingItem> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

fn funding_json(items: &[FundingItem]) -> serde_json::Value {
    let mut unique: Vec<FundingItem> = Vec::new();
    for item in items {
        if !unique.contains(item) {
            unique.push(*item);
        }
    }
    serde_json::to_value(unique).unwrap_or_default()
}

/// Whether a SENT invitation can no longer be answered at `now`: its respond-by
/// passed, or its event ended.
fn lapsed(model: &Model, now: DateTime<Utc>) -> bool {
    model.respond_by.is_some_and(|by| by < now) || model.expires_at.is_some_and(|at| at <= now)
}

/// The status as clients see it: a SENT invitation past its respond-by, or to an
/// event that has ended, is EXPIRED even before the sweep writes it.
pub fn effective(mut model: Model, now: DateTime<Utc>) -> Model {
    if model.status == InvitationStatus::Sent && lapsed(&model, now) {
        model.status = InvitationStatus::Expired;
    }
    model
}

/// When an invitation with `respond_by` to `event` stops being answerable.
fn expiry(respond_by: Option<DateTime<Utc>>, event: &event::Model) -> DateTime<Utc> {
    let end = events::ends_at(event);
    respond_by.map_or(end, |by| Ord::min(by, end))
}

/// Keeps the invitations of `event` in step with its (new) end, inside `txn`.
pub(crate) async fn follow_event_end(
    txn: &DatabaseTransaction,
    event: &event::Model,
) -> AppResult<()> {
    use sea_orm::sea_query::{CaseStatement, Expr};
    let end = events::ends_at(event);
    let expires_at = CaseStatement::new()
        .case(
            Condition::all()
                .add(Column::RespondBy.is_not_null())
                .add(Column::RespondBy.lt(end)),
            Expr::col(Column::RespondBy),
        )
        .finally(Expr::value(end));
    Entity::update_many()
        .col_expr(Column::ExpiresAt, expires_at.into())
        .filter(Column::EventId.eq(event.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// SQL for "a SENT invitation that can no longer be answered at `now`" (see
/// [`lapsed`]).
fn lapsed_condition(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::RespondBy.lt(now))
        .add(Column::ExpiresAt.lte(now))
}

/// SQL for the opposite of [`lapsed_condition`], spelled out so NULLs (no
/// respond-by) count as answerable rather than unknown.
fn answerable_condition(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(
            Condition::any()
                .add(Column::RespondBy.is_null())
                .add(Column::RespondBy.gte(now)),
        )
        .add(
            Condition::any()
                .add(Column::ExpiresAt.is_null())
                .add(Column::ExpiresAt.gt(now)),
        )
}

/// SQL for "has effective status `status`" at `now`.
pub(crate) fn status_condition(status: InvitationStatus, now: DateTime<Utc>) -> Condition {
    match status {
        InvitationStatus::Sent => Condition::all()
            .add(Column::Status.eq(InvitationStatus::Sent))
            .add(answerable_condition(now)),
        InvitationStatus::Expired => Condition::any()
            .add(Column::Status.eq(InvitationStatus::Expired))
            .add(
                Condition::all()
                    .add(Column::Status.eq(InvitationStatus::Sent))
                    .add(lapsed_condition(now)),
            ),
        other => Condition::all().add(Column::Status.eq(other)),
    }
}

/// Invitations the caller may see: those of events it hosts or co-hosts, and
/// those addressed to its organization once sent.
fn visible(cx: &ServiceContext) -> Select<Entity> {
    let caller = cx.caller();
    let mut condition = access::participation_visible(cx, Column::EventId, Column::OrganizationId);
    if caller.acts_as_partner() && !caller.has_role(crate::auth::Role::Coordinator) {
        // A pure partner sees only invitations addressed to it, never drafts.
        condition = Condition::all()
            .add(Column::OrganizationId.eq(caller.organization_id))
            .add(Column::Status.ne(InvitationStatus::Draft));
    } else if caller.has_role(crate::auth::Role::Coordinator) {
        let org = caller.organization_id;
        condition = Condition::any()
            .add(Column::EventId.in_subquery(access::hosted_by(org)))
            .add(Column::EventId.in_subquery(access::co_hosted_by(org)))
            .add(
                Condition::all()
                    .add(Column::OrganizationId.eq(org))
                    .add(Column::Status.ne(InvitationStatus::Draft)),
            );
    }
    Entity::find().filter(condition)
}

/// Reads one invitation the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    let found = visible(cx).filter(Column::Id.eq(id)).one(&cx.db).await?;
    found.map(|m| effective(m, Utc::now())).ok_or(NOT_FOUND)
}

/// Reads the invitations among `ids` the caller may see (for loaders).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    let now = Utc::now();
    Ok(visible(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?
        .into_iter()
        .map(|m| effective(m, now))
        .collect())
}

/// The invitations of each of `event_ids` the caller may see, oldest first.
pub async fn of_events(cx: &ServiceContext, event_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    let now = Utc::now();
    Ok(visible(cx)
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(&cx.db)
        .await?
        .into_iter()
        .map(|m| effective(m, now))
        .collect())
}

pub(crate) fn filtered(cx: &ServiceContext, filter: &InvitationFilter) -> Select<Entity> {
    let mut select = lists::by_event_and_organization(
        visible(cx),
        Column::EventId,
        Column::OrganizationId,
        Column::UpdatedAt,
        filter,
    );
    if let Some(statuses) = &filter.statuses {
        let now = Utc::now();
        let mut any = Condition::any();
        for status in statuses {
            any = any.add(status_condition(*status, now));
        }
        select = select.filter(if statuses.is_empty() {
            access::nothing()
        } else {
            any
        });
    }
    select
}

/// The columns the invitations lists sort, page and group by.
const LIST: lists::ParticipationList<Entity> = lists::ParticipationList {
    name: "invitations",
    created_at: Column::CreatedAt,
    updated_at: Column::UpdatedAt,
    status: Column::Status,
    organization_id: Column::OrganizationId,
    id: Column::Id,
    event_id: Column::EventId,
    event_of: |m| m.event_id,
};

/// One page of the invitations the caller may see, in `sort` order.
pub async fn list(
    cx: &ServiceContext,
    filter: &InvitationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<Page<Model>> {
    let mut page = lists::page(cx, &LIST, filtered(cx, filter), sort, page).await?;
    let now = Utc::now();
    page.items = page
        .items
        .into_iter()
        .map(|(cursor, m)| (cursor, effective(m, now)))
        .collect();
    Ok(page)
}

/// How many invitations the caller may see match `filter`.
pub async fn count(cx: &ServiceContext, filter: &InvitationFilter) -> AppResult<u64> {
    Ok(filtered(cx, filter).count(&cx.db).await?)
}

/// One page of the invitations of each of `event_ids` the caller may see, matching
/// `filter` (a filter's own `event_id` narrows further), in `sort` order:
/// one query for all the events, however many (a nested list of a page of events).
pub async fn pages_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &InvitationFilter,
    sort: (ParticipationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<std::collections::HashMap<Uuid, Page<Model>>> {
    let mut pages =
        lists::pages_per_event(cx, &LIST, filtered(cx, filter), event_ids, sort, page).await?;
    let now = Utc::now();
    for page in pages.values_mut() {
        for (_, model) in page.items.iter_mut() {
            *model = effective(model.clone(), now);
        }
    }
    Ok(pages)
}

/// How many invitations of each of `event_ids` the caller may see match `filter`
/// in one grouped query.
pub async fn counts_of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
    filter: &InvitationFilter,
) -> AppResult<std::collections::HashMap<Uuid, u64>> {
    super::pagination::count_per_parent(&cx.db, filtered(cx, filter), Column::EventId, event_ids)
        .await
}

/// Checks an offer's terms against the event; returns the cleaned message.
pub(crate) fn validate_offer(offer: &Offer, event: &event::Model) -> AppResult<Option<String>> {
    let mut errors = InputErrors::default();
    let message = errors
        .check(BoundedText::parse_optional(
            offer.message.as_deref(),
            "message",
            MESSAGE_MAX,
        ))
        .flatten();
    if offer.seats_offered < 1 {
        errors.add("seatsOffered", "must be at least 1");
    }
    if offer.funded_seats < 0 {
        errors.add("fundedSeats", "must not be negative");
    } else if offer.funded_seats > offer.seats_offered {
        errors.add("fundedSeats", "cannot exceed the seats offered");
    }
    if offer.funded_seats > 0 && offer.funding_covers.is_empty() {
        errors.add(
            "fundingCovers",
            "say what the funding covers for funded seats",
        );
    }
    if let Some(by) = errors
        .check(plausible_instant_opt(offer.respond_by, "respondBy"))
        .flatten()
    {
        let last_day = event.end_date.and_hms_opt(23, 59, 59).map(|t| t.and_utc());
        if last_day.is_some_and(|last| by > last) {
            errors.add("respondBy", "must not be after the event's last day");
        }
    }
    errors.finish().map(|()| message)
}

fn ensure_sendable(event: &event::Model, respond_by: Option<DateTime<Utc>>) -> AppResult<()> {
    if event.status != EventStatus::Published {
        return Err(AppError::conflict(
            "invitations are sent for PUBLISHED events only: publish the event first",
        ));
    }
    if respond_by.is_some_and(|by| by <= Utc::now()) {
        return Err(AppError::invalid("respondBy", "is already in the past"));
    }
    Ok(())
}

/// Loads the event of an invitation change, inside `txn`, for the host's
/// coordinators or a co-host the host granted INVITE.
async fn host_event(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    event_id: Uuid,
) -> AppResult<event::Model> {
    events::load_with_permission(txn, cx, event_id, CoHostPermission::Invite).await
}

async fn record(
    txn: &impl ConnectionTrait,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: &Model,
) -> AppResult<()> {
    audit::record_change(txn, cx, action, "Invitation", after.id, before, Some(after)).await
}

/// Invites many organizations to an event at once (host coordinators, and
/// co-hosts granted INVITE; a co-host does not invite its own organization).
///
/// One transaction and a fixed number of statements whatever the count, so 150
/// EMBs are one fast request. Organizations already invited keep their invitation,
/// which is returned as it is (sent now if it was a draft and `send` is true).
/// Returns one invitation per requested organization, in request order.
pub async fn invite(
    cx: &ServiceContext,
    event_id: Uuid,
    organization_ids: &[Uuid],
    offer: Offer,
    send: bool,
) -> AppResult<Vec<Model>> {
    let invitees = Invitees {
        organization_ids: organization_ids.to_vec(),
        external_ids: Vec::new(),
    };
    invite_all(cx, event_id, &invitees, offer, send).await
}

/// Whom `inviteOrganizations` invites: organizations by global id, and by their
/// ids in a directory source (an association inviting from its own member list).
#[derive(Debug, Clone, Default)]
pub struct Invitees {
    pub organization_ids: Vec<Uuid>,
    pub external_ids: Vec<super::directory::ExternalIdRef>,
}

/// Like [`invite`], with organizations also named by external id: those are
/// resolved in one statement, and unknown ones are a BAD_USER_INPUT on
/// `externalIds` naming each. Invitations come back in the order given, the
/// organization ids first.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %event_id, count = invitees.organization_ids.len() + invitees.external_ids.len()))]
pub async fn invite_all(
    cx: &ServiceContext,
    event_id: Uuid,
    invitees: &Invitees,
    offer: Offer,
    send: bool,
) -> AppResult<Vec<Model>> {
    let requested = invitees.organization_ids.len() + invitees.external_ids.len();
    if requested == 0 {
        return Err(AppError::invalid(
            "organizationIds",
            "give at least one organization (`organizationIds` or `externalIds`)",
        ));
    }
    if requested > MAX_BATCH {
        return Err(AppError::invalid(
            "organizationIds",
            format!("at most {MAX_BATCH} organizations per call"),
        ));
    }
    let txn = cx.begin_write().await?;
    let event = host_event(&txn, cx, event_id).await?;
    let mut organization_ids = invitees.organization_ids.clone();
    organization_ids
        .extend(super::directory::resolve(&txn, &invitees.external_ids, "externalIds").await?);
    let organization_ids = &organization_ids;
    let message = validate_offer(&offer, &event)?;
    if matches!(
        event.status,
        EventStatus::Cancelled | EventStatus::Completed
    ) {
        return Err(AppError::conflict("the event is over or cancelled"));
    }
    if send {
        ensure_sendable(&event, offer.respond_by)?;
    }
    let mut wanted: Vec<Uuid> = Vec::with_capacity(organization_ids.len());
    let mut seen = HashSet::new();
    for id in organization_ids {
        if seen.insert(*id) {
            wanted.push(*id);
        }
    }
    if wanted.contains(&event.host_organization_id) {
        return Err(AppError::invalid(
            "organizationIds",
            "the host cannot invite itself",
        ));
    }
    if !cx.caller().coordinates(event.host_organization_id)
        && wanted.contains(&cx.caller().organization_id)
    {
        // Seats (funded ones above all) are the host's to offer: a co-host
        // offering them to itself would grant itself what only the host may.
        return Err(AppError::invalid(
            "organizationIds",
            "a co-host cannot invite its own organization; the host can",
        ));
    }
    let known: HashSet<Uuid> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(wanted.iter().copied()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    if let Some(missing) = wanted.iter().find(|id| !known.contains(id)) {
        return Err(AppError::invalid(
            "organizationIds",
            format!("no organization {missing}"),
        ));
    }
    let mut existing: HashMap<Uuid, Model> = Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::OrganizationId.is_in(wanted.iter().copied()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| (m.organization_id, m))
        .collect();

    let now = Utc::now();
    let status = if send {
        InvitationStatus::Sent
    } else {
        InvitationStatus::Draft
    };
    let new_rows: Vec<ActiveModel> = wanted
        .iter()
        .filter(|org| !existing.contains_key(org))
        .map(|org| ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(event_id),
            organization_id: Set(*org),
            sent_by_client_id: Set(cx.caller().api_client_id()),
            status: Set(status),
            seats_offered: Set(offer.seats_offered),
            funded_seats: Set(offer.funded_seats),
            funding_covers: Set(funding_json(&offer.funding_covers)),
            respond_by: Set(offer.respond_by),
            message: Set(message.clone()),
            sent_at: Set(send.then_some(now)),
            responded_at: Set(None),
            response_note: Set(None),
            seats_accepted: Set(None),
            expires_at: Set(Some(expiry(offer.respond_by, &event))),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    let new_ids: Vec<Uuid> = new_rows
        .iter()
        .filter_map(|r| r.id.clone().take())
        .collect();
    if !new_rows.is_empty() {
        Entity::insert_many(new_rows)
            .exec(&txn)
            .await
            .map_err(|e| {
                AppError::from_write(e, || {
                    AppError::conflict("an invitation was created concurrently; retry")
                })
            })?;
    }
    if send {
        let drafts: Vec<Uuid> = existing
            .values()
            .filter(|m| m.status == InvitationStatus::Draft)
            .map(|m| m.id)
            .collect();
        if !drafts.is_empty() {
            Entity::update_many()
                .col_expr(
                    Column::Status,
                    sea_orm::sea_query::Expr::value(InvitationStatus::Sent),
                )
                .col_expr(Column::SentAt, sea_orm::sea_query::Expr::value(now))
                .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
                .col_expr(
                    Column::Version,
                    sea_orm::sea_query::Expr::col(Column::Version).add(1),
                )
                .filter(Column::Id.is_in(drafts.iter().copied()))
                .exec(&txn)
                .await?;
            let mut sent = Vec::with_capacity(drafts.len());
            for id in drafts {
                if let Some(m) = existing.values_mut().find(|m| m.id == id) {
                    let before = audit::snapshot(&*m);
                    m.status = InvitationStatus::Sent;
                    m.sent_at = Some(now);
                    m.updated_at = now;
                    m.version += 1;
                    sent.push(audit::Change {
                        action: "invitation.send",
                        entity_type: "Invitation",
                        entity_id: m.id,
                        before,
                        after: audit::snapshot(&*m),
                        event_id: None,
                    });
                }
            }
            // Sending a draft is a change like `sendInvitation`'s: audited and
            // announced the same way.
            audit::record_many(&txn, cx, sent).await?;
        }
    }
    let created: HashMap<Uuid, Model> = Entity::find()
        .filter(Column::Id.is_in(new_ids.iter().copied()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| (m.organization_id, m))
        .collect();
    let entries: Vec<audit::Change> = created
        .values()
        .map(|m| audit::Change {
            action: "invitation.create",
            entity_type: "Invitation",
            entity_id: m.id,
            before: None,
            after: audit::snapshot(m),
            event_id: None,
        })
        .collect();
    audit::record_many(&txn, cx, entries).await?;
    cx.commit(txn).await?;
    existing.extend(created);
    Ok(wanted
        .iter()
        .filter_map(|org| existing.get(org).cloned())
        .map(|m| effective(m, now))
        .collect())
}

async fn load_for_host(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<(Model, event::Model)> {
    let invitation = visible(cx)
        .filter(Column::Id.eq(id))
        .one(txn)
        .await?
        .ok_or(NOT_FOUND)?;
    let event = host_event(txn, cx, invitation.event_id).await?;
    Ok((invitation, event))
}

/// Sends a DRAFT invitation (host coordinators, co-hosts granted INVITE). Sending
/// a sent one again is a no-op.
pub async fn send(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let (current, event) = load_for_host(&txn, cx, id).await?;
    match current.status {
        InvitationStatus::Sent => return Ok(effective(current, Utc::now())),
        InvitationStatus::Draft => {}
        other => {
            return Err(AppError::conflict(format!(
                "only a DRAFT invitation can be sent; this one is {}",
                other.to_value()
            )));
        }
    }
    super::check_version(expected_version, current.version)?;
    ensure_sendable(&event, current.respond_by)?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(InvitationStatus::Sent);
    active.sent_at = Set(Some(Utc::now()));
    active.sent_by_client_id = Set(cx.caller().api_client_id());
    let updated = save(&txn, &current, active).await?;
    record(&txn, cx, "invitation.send", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Withdraws an invitation (host coordinators, co-hosts granted INVITE); an
/// accepted one's delegation is cancelled with it. Withdrawing twice is a no-op.
pub async fn withdraw(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
    note: Option<String>,
) -> AppResult<Model> {
    let note = BoundedText::parse_optional(note.as_deref(), "note", NOTE_MAX)?;
    let txn = cx.begin_write().await?;
    let (current, _) = load_for_host(&txn, cx, id).await?;
    let current = effective(current, Utc::now());
    match current.status {
        InvitationStatus::Withdrawn => return Ok(current),
        InvitationStatus::Draft | InvitationStatus::Sent | InvitationStatus::Accepted => {}
        other => {
            return Err(AppError::conflict(format!(
                "a {} invitation cannot be withdrawn",
                other.to_value()
            )));
        }
    }
    super::check_version(expected_version, current.version)?;
    if current.status == InvitationStatus::Accepted {
        delegations::cancel_for_invitation(&txn, cx, current.id).await?;
    }
    let updated = withdraw_in(&txn, cx, &current, note).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Withdraws `current` inside `txn` (used by event cancellation too).
pub(crate) async fn withdraw_in(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    current: &Model,
    note: Option<String>,
) -> AppResult<Model> {
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(InvitationStatus::Withdrawn);
    if note.is_some() {
        active.response_note = Set(note);
    }
    let updated = save(txn, current, active).await?;
    record(txn, cx, "invitation.withdraw", Some(current), &updated).await?;
    Ok(updated)
}

/// The open (DRAFT or SENT) invitations of an event, inside `txn`.
pub(crate) async fn open_of_event(
    txn: &DatabaseTransaction,
    event_id: Uuid,
) -> AppResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::Status.is_in([InvitationStatus::Draft, InvitationStatus::Sent]))
        .all(txn)
        .await?)
}

async fn save(txn: &DatabaseTransaction, current: &Model, active: ActiveModel) -> AppResult<Model> {
    super::save_versioned(
        txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await
}

/// The invitee's answer to an invitation.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub accept: bool,
    /// Seats taken when accepting: at most the seats offered (default: all of them).
    /// Funded seats are capped to it.
    pub seats_accepted: Option<i32>,
    pub note: Option<String>,
    pub expected_version: Option<i32>,
}

/// The seats an invitation lets its delegation fill, and how many of them funded:
/// what was accepted, or the offer while there is no answer yet.
pub fn seat_limits(invitation: &Model) -> (i32, i32) {
    let seats = invitation
        .seats_accepted
        .unwrap_or(invitation.seats_offered);
    (seats, Ord::min(invitation.funded_seats, seats))
}

/// The invitee's answer. Accepting creates the delegation in the same transaction.
/// The same answer twice returns the first result; a different one is a CONFLICT.
/// Nothing can be answered once the event is over (ended, completed, cancelled).
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id, accept = answer.accept))]
pub async fn respond(cx: &ServiceContext, id: Uuid, answer: Answer) -> AppResult<Model> {
    let mut errors = InputErrors::default();
    let note = errors
        .check(BoundedText::parse_optional(
            answer.note.as_deref(),
            "note",
            NOTE_MAX,
        ))
        .flatten();
    if !answer.accept && answer.seats_accepted.is_some() {
        errors.add("seatsAccepted", "give seats only when accepting");
    }
    if answer.seats_accepted.is_some_and(|n| n < 1) {
        errors.add(
            "seatsAccepted",
            "must be at least 1 (decline the invitation to take none)",
        );
    }
    errors.finish()?;
    let txn = cx.begin_write().await?;
    let current = visible(cx)
        .filter(Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    if !access::acts_for(cx, current.organization_id) {
        return Err(AppError::forbidden("only the invited organization answers"));
    }
    let now = Utc::now();
    let current = effective(current, now);
    let status = if answer.accept {
        InvitationStatus::Accepted
    } else {
        InvitationStatus::Declined
    };
    match current.status {
        InvitationStatus::Accepted
            if answer.accept
                && answer
                    .seats_accepted
                    .is_some_and(|n| Some(n) != current.seats_accepted) =>
        {
            return Err(AppError::conflict(format!(
                "the invitation was already accepted with {} seats",
                current.seats_accepted.unwrap_or(current.seats_offered)
            )));
        }
        same if same == status => return Ok(current),
        InvitationStatus::Sent => {}
        InvitationStatus::Expired => {
            return Err(AppError::conflict(
                "the invitation expired: its respond-by passed or the event ended",
            ));
        }
        other => {
            return Err(AppError::conflict(format!(
                "the invitation is already {}",
                other.to_value()
            )));
        }
    }
    super::check_version(answer.expected_version, current.version)?;
    let event = event::Entity::find_by_id(current.event_id)
        .one(&txn)
        .await?
        .ok_or(NOT_FOUND)?;
    events::ensure_not_over(&event, now)?;
    if answer.accept && event.status != EventStatus::Published {
        return Err(AppError::conflict(format!(
            "the event is {} and takes no more participants",
            event.status.to_value()
        )));
    }
    let seats_accepted = if answer.accept {
        let seats = answer.seats_accepted.unwrap_or(current.seats_offered);
        if seats > current.seats_offered {
            return Err(AppError::invalid(
                "seatsAccepted",
                format!("cannot exceed the {} seats offered", current.seats_offered),
            ));
        }
        Some(seats)
    } else {
        None
    };
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(status);
    active.responded_at = Set(Some(now));
    active.response_note = Set(note);
    active.seats_accepted = Set(seats_accepted);
    let updated = save(&txn, &current, active).await?;
    record(
        &txn,
        cx,
        if answer.accept {
            "invitation.accept"
        } else {
            "invitation.decline"
        },
        Some(&current),
        &updated,
    )
    .await?;
    if answer.accept {
        delegations::create_for(&txn, cx, &updated).await?;
    }
    cx.commit(txn).await?;
    Ok(updated)
}

/// The accepted invitation behind an accepted application, inside `txn`, and
/// whether its delegation must still be formed.
///
/// There is one invitation per event and organization, so the application is
/// accepted into the organization's invitation where it has one: a host's DRAFT
/// (which the applicant never saw) or a SENT invitation still open takes the
/// decision's terms and becomes ACCEPTED; an ACCEPTED one is kept as it is, its
/// delegation already formed. One the organization declined or the host withdrew
/// or that expired is a CONFLICT. Without one, an ACCEPTED invitation is created.
pub(crate) async fn accept_application(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    event: &event::Model,
    organization_id: Uuid,
    offer: &Offer,
) -> AppResult<(Model, bool)> {
    let now = Utc::now();
    let existing = Entity::find()
        .filter(Column::EventId.eq(event.id))
        .filter(Column::OrganizationId.eq(organization_id))
        .one(txn)
        .await?
        .map(|m| effective(m, now));
    if let Some(current) = existing {
        return match current.status {
            InvitationStatus::Accepted => Ok((current, false)),
            InvitationStatus::Draft | InvitationStatus::Sent => {
                let mut active: ActiveModel = current.clone().into();
                active.status = Set(InvitationStatus::Accepted);
                active.seats_offered = Set(offer.seats_offered);
                active.funded_seats = Set(offer.funded_seats);
                active.funding_covers = Set(funding_json(&offer.funding_covers));
                active.seats_accepted = Set(Some(offer.seats_offered));
                active.sent_at = Set(current.sent_at.or(Some(now)));
                active.responded_at = Set(Some(now));
                let updated = save(txn, &current, active).await?;
                record(
                    txn,
                    cx,
                    "invitation.accept_from_application",
                    Some(&current),
                    &updated,
                )
                .await?;
                Ok((updated, true))
            }
            other => Err(AppError::conflict(format!(
                "the organization's invitation to this event is {}: invite it again instead",
                other.to_value()
            ))),
        };
    }
    let created = ActiveModel {
        id: Set(Uuid::now_v7()),
        event_id: Set(event.id),
        organization_id: Set(organization_id),
        sent_by_client_id: Set(cx.caller().api_client_id()),
        status: Set(InvitationStatus::Accepted),
        seats_offered: Set(offer.seats_offered),
        funded_seats: Set(offer.funded_seats),
        funding_covers: Set(funding_json(&offer.funding_covers)),
        respond_by: Set(None),
        message: Set(offer.message.clone()),
        sent_at: Set(Some(now)),
        responded_at: Set(Some(now)),
        response_note: Set(None),
        seats_accepted: Set(Some(offer.seats_offered)),
        expires_at: Set(Some(expiry(None, event))),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(|e| {
        AppError::from_write(e, || {
            AppError::conflict("the organization was invited concurrently; retry")
        })
    })?;
    record(
        txn,
        cx,
        "invitation.create_from_application",
        None,
        &created,
    )
    .await?;
    Ok((created, true))
}

/// Whether (`event_id`, `organization_id`) has an invitation its invitee can see
/// (anything but a host's DRAFT), inside `txn`.
pub(crate) async fn visible_to_invitee_exists(
    txn: &DatabaseTransaction,
    event_id: Uuid,
    organization_id: Uuid,
) -> AppResult<bool> {
    Ok(Entity::find()
        .filter(Column::EventId.eq(event_id))
        .filter(Column::OrganizationId.eq(organization_id))
        .filter(Column::Status.ne(InvitationStatus::Draft))
        .one(txn)
        .await?
        .is_some())
}

/// Writes EXPIRED on every SENT invitation past its respond-by or whose event
/// ended; returns how many.
///
/// Every instance runs the sweep, but one round happens once across them: the
/// transaction first tries a PostgreSQL advisory lock and, while another
/// instance's sweep holds it, skips the round (returns 0) instead of expiring the
/// same invitations a second time with a second audit entry each. The lock ends
/// with the transaction. (On SQLite the write transaction alone serializes.)
pub async fn sweep_expired(
    db: &DatabaseConnection,
    feed: &crate::feed::ChangeFeed,
) -> AppResult<u64> {
    let now = Utc::now();
    let txn = super::begin_write(db).await?;
    if !super::try_advisory_xact_lock(&txn, EXPIRY_SWEEP_LOCK).await? {
        tracing::debug!("another instance is sweeping expired invitations; skipping this round");
        txn.rollback().await?;
        return Ok(0);
    }
    let due = Entity::find()
        .filter(Column::Status.eq(InvitationStatus::Sent))
        .filter(lapsed_condition(now))
        .all(&txn)
        .await?;
    if due.is_empty() {
        // Release the advisory lock now, not when the dropped transaction's
        // rollback reaches the database (see `retention::sweep`).
        txn.rollback().await?;
        return Ok(0);
    }
    let expired = Entity::update_many()
        .col_expr(
            Column::Status,
            sea_orm::sea_query::Expr::value(InvitationStatus::Expired),
        )
        .col_expr(Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(
            Column::Version,
            sea_orm::sea_query::Expr::col(Column::Version).add(1),
        )
        .filter(Column::Id.is_in(due.iter().map(|m| m.id)))
        .filter(Column::Status.eq(InvitationStatus::Sent))
        .exec_with_returning(&txn)
        .await?;
    // Only what this statement changed is audited: an invitation withdrawn
    // between the read and the update was not expired by this sweep.
    let expired: HashSet<Uuid> = expired.into_iter().map(|m| m.id).collect();
    let entries: Vec<_> = due
        .iter()
        .filter(|m| expired.contains(&m.id))
        .map(|m| audit::Change {
            action: "invitation.expire",
            entity_type: "Invitation",
            entity_id: m.id,
            before: audit::snapshot(m),
            after: Some(serde_json::json!({ "status": "EXPIRED" })),
            event_id: None,
        })
        .collect();
    let count = entries.len() as u64;
    let announced = audit::record_system(&txn, entries).await?;
    txn.commit().await?;
    feed.committed(announced);
    Ok(count)
}
