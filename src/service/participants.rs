//! Delegation members, with the seat limits of the invitation and the privacy of
//! their personal data.
//!
//! Sensitive fields (nationality, date of birth, passport number, dietary and
//! accessibility needs) are blanked here, in the service layer, for every caller
//! other than the delegation's own organization and the host's coordinators, and
//! never decrypted for them; they are sealed and opened only through
//! [`super::personal_data`], and never reach the audit log.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, FromQueryResult,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::personal_data::{self, Sensitive};
use super::{Patch, ServiceContext, access, audit, delegations, events, invitations};
use crate::domain::{
    BoundedText, CountryCode, EmailAddress, Name, ParticipantRole, parse_optional,
    plausible_date_opt,
};
use crate::entity::participant::{ActiveModel, Column, Entity, Model, stored};
use crate::entity::{delegation, event, invitation};
use crate::error::{AppError, AppResult, InputErrors};

const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 2_000;
const NOT_FOUND: AppError = AppError::NotFound {
    entity: "participant",
};

/// A participant's details as entered.
#[derive(Debug, Clone)]
pub struct ParticipantFields {
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
}

/// Changes to a participant; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct ParticipantChanges {
    pub expected_version: Option<i32>,
    pub full_name: Option<String>,
    pub local_name: Patch<String>,
    pub position: Patch<String>,
    pub role: Option<ParticipantRole>,
    pub email: Patch<String>,
    pub dietary_needs: Patch<String>,
    pub accessibility_needs: Patch<String>,
    pub funded: Option<bool>,
    pub needs_visa_support: Option<bool>,
    pub nationality: Patch<String>,
    pub date_of_birth: Patch<NaiveDate>,
    pub passport_number: Patch<String>,
}

/// Whether a read opens the sensitive fields of a member of a delegation of
/// `delegation_organization_id` at an event hosted by `event_host_id`: only where
/// the caller may read them (the delegation's own organization and the host's
/// coordinators), and only when the request asks for them at all (decrypting is
/// most of the cost of reading a participant; see
/// [`ServiceContext::without_personal_data`]).
pub(crate) fn opens_sensitive(
    cx: &ServiceContext,
    delegation_organization_id: Uuid,
    event_host_id: Uuid,
) -> bool {
    cx.wants_personal_data()
        && access::reads_sensitive(cx, delegation_organization_id, event_host_id)
}

/// A participant with what deciding its visibility takes: its delegation's
/// organization and the host of the delegation's event.
#[derive(Debug, FromQueryResult)]
struct ParticipantRow {
    #[sea_orm(nested)]
    participant: stored::Model,
    delegation_organization_id: Uuid,
    event_host_id: Uuid,
}

/// Participants of delegations the caller may see, with sensitive fields only where
/// it may read them: one query, joining each participant's delegation (for its
/// visibility) and event (for its host).
async fn visible_where(cx: &ServiceContext, condition: Condition) -> AppResult<Vec<Model>> {
    let to_delegation = Entity::belongs_to(delegation::Entity)
        .from(Column::DelegationId)
        .to(delegation::Column::Id)
        .into();
    let to_event = delegation::Entity::belongs_to(event::Entity)
        .from(delegation::Column::EventId)
        .to(event::Column::Id)
        .into();
    let rows = Entity::find()
        .join(JoinType::InnerJoin, to_delegation)
        .join(JoinType::InnerJoin, to_event)
        .filter(condition)
        .filter(delegations::visible_condition(cx))
        .column_as(
            Expr::col((delegation::Entity, delegation::Column::OrganizationId)),
            "delegation_organization_id",
        )
        .column_as(
            Expr::col((event::Entity, event::Column::HostOrganizationId)),
            "event_host_id",
        )
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .into_model::<ParticipantRow>()
        .all(&cx.db)
        .await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            (
                row.participant,
                (row.delegation_organization_id, row.event_host_id),
            )
        })
        .collect();
    let opened = personal_data::open_where(cx.data_keys(), rows, |_, (organization, host)| {
        opens_sensitive(cx, *organization, *host)
    })
    .await?;
    Ok(opened.into_iter().map(|(member, _)| member).collect())
}

/// The members of each of `delegation_ids` the caller may see, in the order they
/// were registered.
pub async fn of_delegations(cx: &ServiceContext, delegation_ids: &[Uuid]) -> AppResult<Vec<Model>> {
    visible_where(
        cx,
        Condition::all().add(Column::DelegationId.is_in(delegation_ids.iter().copied())),
    )
    .await
}

/// The participants among `ids` the caller may see (for loaders).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    visible_where(
        cx,
        Condition::all().add(Column::Id.is_in(ids.iter().copied())),
    )
    .await
}

/// One participant the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    get_many(cx, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(NOT_FOUND)
}

fn validate(f: ParticipantFields) -> AppResult<ParticipantFields> {
    let mut errors = InputErrors::default();
    let name = |errors: &mut InputErrors, v: Option<String>, field: &str, max| {
        errors
            .check(Name::parse_optional(v.as_deref(), field, max))
            .flatten()
    };
    let text = |errors: &mut InputErrors, v: Option<String>, field: &str| {
        errors
            .check(BoundedText::parse_optional(v.as_deref(), field, TEXT_MAX))
            .flatten()
    };
    let full_name = errors.check(Name::parse(&f.full_name, "fullName", NAME_MAX));
    let email = errors
        .check(parse_optional(f.email.as_deref(), |e| {
            EmailAddress::parse(e, "email").map(EmailAddress::into_inner)
        }))
        .flatten();
    let nationality = errors
        .check(parse_optional(f.nationality.as_deref(), |n| {
            CountryCode::parse(n, "nationality").map(CountryCode::into_inner)
        }))
        .flatten();
    let date_of_birth = errors
        .check(plausible_date_opt(f.date_of_birth, "dateOfBirth"))
        .flatten();
    if date_of_birth.is_some_and(|d| d > Utc::now().date_naive()) {
        errors.add("dateOfBirth", "is in the future");
    }
    let local_name = name(&mut errors, f.local_name, "localName", NAME_MAX);
    let position = name(&mut errors, f.position, "position", NAME_MAX);
    let dietary_needs = text(&mut errors, f.dietary_needs, "dietaryNeeds");
    let accessibility_needs = text(&mut errors, f.accessibility_needs, "accessibilityNeeds");
    let passport_number = name(&mut errors, f.passport_number, "passportNumber", 40);
    let Some(full_name) = full_name else {
        return Err(errors.fail());
    };
    errors.finish()?;
    Ok(ParticipantFields {
        full_name: full_name.into_inner(),
        local_name,
        position,
        role: f.role,
        email,
        dietary_needs,
        accessibility_needs,
        funded: f.funded,
        needs_visa_support: f.needs_visa_support,
        nationality,
        date_of_birth,
        passport_number,
    })
}

impl ParticipantFields {
    fn sensitive(&self) -> Sensitive {
        Sensitive {
            nationality: self.nationality.clone(),
            date_of_birth: self.date_of_birth,
            passport_number: self.passport_number.clone(),
            dietary_needs: self.dietary_needs.clone(),
            accessibility_needs: self.accessibility_needs.clone(),
        }
    }
}

/// Sets every field of row `id` from `f`, the sensitive ones sealed; returns them
/// in the clear, for the answer.
fn apply(
    cx: &ServiceContext,
    id: Uuid,
    active: &mut ActiveModel,
    f: ParticipantFields,
) -> AppResult<Sensitive> {
    let sensitive = f.sensitive();
    personal_data::seal_into(cx.data_keys(), id, active, &sensitive)?;
    active.full_name = Set(f.full_name);
    active.local_name = Set(f.local_name);
    active.position = Set(f.position);
    active.role = Set(f.role);
    active.email = Set(f.email);
    active.funded = Set(f.funded);
    active.needs_visa_support = Set(f.needs_visa_support);
    Ok(sensitive)
}

/// Checks the invitation's seats for the delegation's members after a change:
/// `members` and `funded` are the counts the change would leave.
async fn check_seats(
    txn: &DatabaseTransaction,
    delegation: &delegation::Model,
    members: u64,
    funded: u64,
) -> AppResult<()> {
    let offer = invitation::Entity::find_by_id(delegation.invitation_id)
        .one(txn)
        .await?
        .ok_or(delegations::NOT_FOUND)?;
    let (seats, funded_seats) = invitations::seat_limits(&offer);
    if members > seats as u64 {
        return Err(AppError::conflict(format!(
            "no seat left: the delegation has {seats} seats and all are taken"
        )));
    }
    if funded > funded_seats as u64 {
        return Err(AppError::conflict(format!(
            "no funded seat left: the delegation has {funded_seats} funded seats and all are taken"
        )));
    }
    Ok(())
}

async fn counts(
    txn: &DatabaseTransaction,
    delegation_id: Uuid,
    except: Option<Uuid>,
) -> AppResult<(u64, u64)> {
    let mut members = Entity::find().filter(Column::DelegationId.eq(delegation_id));
    if let Some(id) = except {
        members = members.filter(Column::Id.ne(id));
    }
    let total = members.clone().count(txn).await?;
    let funded = members.filter(Column::Funded.eq(true)).count(txn).await?;
    Ok((total, funded))
}

/// Audits a change of a participant of an event's delegation, from the stored
/// rows: its sensitive values are never decrypted for the log (see
/// [`personal_data::audit_snapshot`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&stored::Model>,
    after: Option<&stored::Model>,
    id: Uuid,
    event_id: Uuid,
) -> AppResult<()> {
    audit::record(
        txn,
        cx,
        audit::Change {
            action,
            entity_type: "Participant",
            entity_id: id,
            before: before.and_then(personal_data::audit_snapshot),
            after: after.and_then(personal_data::audit_snapshot),
            event_id: Some(event_id),
        },
    )
    .await
}

/// Registers a member (the delegation's organization), within the invitation's
/// seats and funded seats, also under concurrent requests.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %delegation_id))]
pub async fn add(
    cx: &ServiceContext,
    delegation_id: Uuid,
    fields: ParticipantFields,
) -> AppResult<Model> {
    let fields = validate(fields)?;
    let txn = cx.begin_write().await?;
    delegations::lock_and_touch(&txn, delegation_id).await?;
    let delegation = delegations::load_for_owner(&txn, cx, delegation_id).await?;
    ensure_event_not_over(&txn, &delegation).await?;
    if fields.role == ParticipantRole::Head {
        ensure_no_other_head(&txn, &delegation, None).await?;
    }
    let (members, funded) = counts(&txn, delegation_id, None).await?;
    check_seats(
        &txn,
        &delegation,
        members + 1,
        funded + u64::from(fields.funded),
    )
    .await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let mut active = ActiveModel {
        id: Set(id),
        delegation_id: Set(delegation_id),
        version: Set(1),
        personal_data_erased_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let sensitive = apply(cx, id, &mut active, fields)?;
    let created = active.insert(&txn).await.map_err(|e| {
        AppError::from_write(e, || {
            AppError::conflict("another head of delegation was registered concurrently")
        })
    })?;
    record(
        &txn,
        cx,
        "participant.add",
        None,
        Some(&created),
        created.id,
        delegation.event_id,
    )
    .await?;
    if created.role == ParticipantRole::Head {
        name_head(&txn, cx, &delegation, Some(created.id)).await?;
    }
    cx.commit(txn).await?;
    Ok(personal_data::with_sensitive(created, sensitive))
}

/// Refuses new members once the delegation's event is over.
async fn ensure_event_not_over(
    txn: &DatabaseTransaction,
    delegation: &delegation::Model,
) -> AppResult<()> {
    let event = event::Entity::find_by_id(delegation.event_id)
        .one(txn)
        .await?
        .ok_or(delegations::NOT_FOUND)?;
    events::ensure_not_over(&event, Utc::now())
}

/// A delegation has at most one HEAD: refuses a second one (`except` is the
/// participant being changed).
async fn ensure_no_other_head(
    txn: &DatabaseTransaction,
    delegation: &delegation::Model,
    except: Option<Uuid>,
) -> AppResult<()> {
    let mut heads = Entity::find()
        .filter(Column::DelegationId.eq(delegation.id))
        .filter(Column::Role.eq(ParticipantRole::Head));
    if let Some(id) = except {
        heads = heads.filter(Column::Id.ne(id));
    }
    match heads.one(txn).await? {
        Some(head) => Err(AppError::conflict(format!(
            "the delegation already has a head, {}: change the head with updateDelegation(headParticipantId), or give {} another role first",
            head.full_name, head.full_name
        ))),
        None => Ok(()),
    }
}

/// Records on the delegation who its head is (the participant with role HEAD), so
/// `Delegation.head` and the roles never disagree.
async fn name_head(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    delegation: &delegation::Model,
    head: Option<Uuid>,
) -> AppResult<()> {
    if delegation.head_participant_id == head {
        return Ok(());
    }
    let mut active: delegation::ActiveModel = delegation.clone().into();
    active.head_participant_id = Set(head);
    let updated = super::save_versioned(
        txn,
        active,
        delegation::Column::Version,
        delegation::Column::UpdatedAt,
        delegation.version,
    )
    .await?;
    audit::record_change(
        txn,
        cx,
        "delegation.name_head",
        "Delegation",
        delegation.id,
        Some(delegation),
        Some(&updated),
    )
    .await
}

/// Makes `head` (a member of `delegation`, or nobody) the one participant with
/// role HEAD, inside `txn`: a previous head becomes a MEMBER. The caller writes
/// `head_participant_id` on the delegation. Each role change is audited.
pub(crate) async fn make_head(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    delegation: &delegation::Model,
    head: Option<Uuid>,
) -> AppResult<()> {
    let (delegation_id, event_id) = (delegation.id, delegation.event_id);
    let new_head = match head {
        Some(id) => Some(
            Entity::find_by_id(id)
                .one(txn)
                .await?
                .filter(|p| p.delegation_id == delegation_id)
                .ok_or_else(|| {
                    AppError::invalid(
                        "headParticipantId",
                        "the head must be a member of this delegation",
                    )
                })?,
        ),
        None => None,
    };
    let previous = Entity::find()
        .filter(Column::DelegationId.eq(delegation_id))
        .filter(Column::Role.eq(ParticipantRole::Head))
        .all(txn)
        .await?;
    // Demote first: the unique index allows one HEAD at every moment.
    for old in previous.iter().filter(|p| Some(p.id) != head) {
        set_role(txn, cx, old, ParticipantRole::Member, event_id).await?;
    }
    if let Some(new_head) = new_head.filter(|p| p.role != ParticipantRole::Head) {
        set_role(txn, cx, &new_head, ParticipantRole::Head, event_id).await?;
    }
    Ok(())
}

async fn set_role(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    current: &stored::Model,
    role: ParticipantRole,
    event_id: Uuid,
) -> AppResult<()> {
    let mut active: ActiveModel = current.clone().into();
    active.role = Set(role);
    let updated = super::save_versioned(
        txn,
        active,
        Column::Version,
        Column::UpdatedAt,
        current.version,
    )
    .await?;
    record(
        txn,
        cx,
        "participant.update",
        Some(current),
        Some(&updated),
        current.id,
        event_id,
    )
    .await
}

async fn load_for_owner(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<(stored::Model, delegation::Model)> {
    let participant = Entity::find_by_id(id).one(txn).await?.ok_or(NOT_FOUND)?;
    delegations::lock_and_touch(txn, participant.delegation_id).await?;
    let delegation = delegations::load_for_owner(txn, cx, participant.delegation_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound { .. } => NOT_FOUND,
            other => other,
        })?;
    Ok((participant, delegation))
}

/// Changes a member's details (the delegation's organization).
pub async fn update(
    cx: &ServiceContext,
    id: Uuid,
    changes: ParticipantChanges,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let (stored_current, delegation) = load_for_owner(&txn, cx, id).await?;
    super::check_version(changes.expected_version, stored_current.version)?;
    let current = personal_data::open(cx.data_keys(), stored_current.clone()).await?;
    let pick = |patch: Patch<String>, old: &Option<String>| patch.unwrap_or_else(|| old.clone());
    let fields = validate(ParticipantFields {
        full_name: changes
            .full_name
            .unwrap_or_else(|| current.full_name.clone()),
        local_name: pick(changes.local_name, &current.local_name),
        position: pick(changes.position, &current.position),
        role: changes.role.unwrap_or(current.role),
        email: pick(changes.email, &current.email),
        dietary_needs: pick(changes.dietary_needs, &current.dietary_needs),
        accessibility_needs: pick(changes.accessibility_needs, &current.accessibility_needs),
        funded: changes.funded.unwrap_or(current.funded),
        needs_visa_support: changes
            .needs_visa_support
            .unwrap_or(current.needs_visa_support),
        nationality: pick(changes.nationality, &current.nationality),
        date_of_birth: changes.date_of_birth.unwrap_or(current.date_of_birth),
        passport_number: pick(changes.passport_number, &current.passport_number),
    })?;
    if fields.funded && !current.funded {
        let (members, funded) = counts(&txn, delegation.id, Some(id)).await?;
        check_seats(&txn, &delegation, members + 1, funded + 1).await?;
    }
    let becomes_head =
        fields.role == ParticipantRole::Head && current.role != ParticipantRole::Head;
    let stops_heading =
        fields.role != ParticipantRole::Head && current.role == ParticipantRole::Head;
    if becomes_head {
        ensure_no_other_head(&txn, &delegation, Some(id)).await?;
    }
    let mut active: ActiveModel = stored_current.clone().into();
    let sensitive = apply(cx, id, &mut active, fields)?;
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
        "participant.update",
        Some(&stored_current),
        Some(&updated),
        id,
        delegation.event_id,
    )
    .await?;
    if becomes_head {
        name_head(&txn, cx, &delegation, Some(id)).await?;
    } else if stops_heading {
        name_head(&txn, cx, &delegation, None).await?;
    }
    cx.commit(txn).await?;
    Ok(personal_data::with_sensitive(updated, sensitive))
}

/// Removes a member (the delegation's organization); their presentations go with
/// them, and they stop being the head.
pub async fn remove(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let (current, delegation) = load_for_owner(&txn, cx, id).await?;
    super::check_version(expected_version, current.version)?;
    if delegation.head_participant_id == Some(id) {
        name_head(&txn, cx, &delegation, None).await?;
    }
    Entity::delete_by_id(id).exec(&txn).await?;
    record(
        &txn,
        cx,
        "participant.remove",
        Some(&current),
        None,
        id,
        delegation.event_id,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(personal_data::without_sensitive(current))
}
