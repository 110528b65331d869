//! Events: who may see them, who may change them, and their life cycle.
//!
//! Visibility: a DRAFT event is seen only by the coordinators of its host and
//! co-hosts; every other status is seen by every authenticated client. Changes to
//! the event itself and its co-hosts are made by the host's coordinators; what a
//! co-host may do on the event's agenda and participation is what the host grants
//! it (see `access`).

use super::access::{self, co_hosted_by};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction,
    EntityTrait, FromQueryResult, IdenStatic, Iterable, JoinType, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set, Value,
};
use uuid::Uuid;

use crate::entity::decode;

use super::pagination::{
    Ordering, Page, PageArgs, PageRequest, ParseValueFn, SortDirection, SortKey, SortValueFn,
    fetch_page, parse_text, parse_timestamp, timestamp_text,
};
use super::{Patch, ServiceContext, audit, search};
use crate::auth::Role;
use crate::domain::{
    BoundedText, CoHostPermission, CountryCode, DateRange, DateStatus, EventKind, EventStatus,
    Name, ParticipationMode, TimeZoneName, capacity, parse_optional, plausible_date,
    plausible_date_opt, plausible_instant_opt,
};
use crate::entity::event::{ActiveModel, Column, Entity, Model};
use crate::entity::{event_co_host, event_date_change, organization, session};
use crate::error::{AppError, AppResult, InputErrors};

const TITLE_MAX: usize = 300;
const TEXT_MAX: usize = 10_000;
const NAME_MAX: usize = 200;

/// Which events a list shows (always within what the caller may see).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kinds: Option<Vec<EventKind>>,
    pub statuses: Option<Vec<EventStatus>>,
    pub host_organization_id: Option<Uuid>,
    pub co_host_organization_id: Option<Uuid>,
    pub country_code: Option<String>,
    pub starts_on_or_after: Option<NaiveDate>,
    pub starts_on_or_before: Option<NaiveDate>,
    /// Case-insensitive match on the title.
    pub search: Option<String>,
    /// Only events changed after this instant (their agenda or co-hosts included).
    pub updated_since: Option<DateTime<Utc>>,
}

/// How event lists sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum EventSortField {
    /// By first day.
    StartDate,
    /// By title.
    Title,
    /// By when the event was created.
    CreatedAt,
    /// By when the event, its agenda or its co-hosts last changed (to catch up
    /// with `updatedSince`).
    UpdatedAt,
}

/// Every editable field of an event, as validated before writing.
#[derive(Debug, Clone)]
pub struct EventFields {
    pub kind: EventKind,
    pub title: String,
    pub description: Option<String>,
    pub election_name: Option<String>,
    pub election_date: Option<NaiveDate>,
    pub venue: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    pub time_zone: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub date_status: DateStatus,
    pub participation_mode: ParticipationMode,
    pub application_deadline: Option<DateTime<Utc>>,
    pub max_delegations: Option<i32>,
    pub max_participants: Option<i32>,
    pub held_alongside_event_id: Option<Uuid>,
}

/// Changes to an event; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct EventChanges {
    pub expected_version: Option<i32>,
    pub kind: Option<EventKind>,
    pub title: Option<String>,
    pub description: Patch<String>,
    pub election_name: Patch<String>,
    pub election_date: Patch<NaiveDate>,
    pub venue: Patch<String>,
    pub city: Patch<String>,
    pub country_code: Patch<String>,
    pub time_zone: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub date_status: Option<DateStatus>,
    pub participation_mode: Option<ParticipationMode>,
    pub application_deadline: Patch<DateTime<Utc>>,
    pub max_delegations: Patch<i32>,
    pub max_participants: Patch<i32>,
    pub held_alongside_event_id: Patch<Uuid>,
}

/// New dates for an event that others already see.
#[derive(Debug, Clone)]
pub struct Reschedule {
    pub expected_version: Option<i32>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub date_status: DateStatus,
    pub reason: String,
}

/// The SQL condition for "events the caller may see".
fn visible_to(cx: &ServiceContext) -> Condition {
    let mut visible = Condition::any().add(Column::Status.ne(EventStatus::Draft));
    if cx.caller().has_role(Role::Coordinator) {
        let org = cx.caller().organization_id;
        visible = visible
            .add(Column::HostOrganizationId.eq(org))
            .add(Column::Id.in_subquery(co_hosted_by(org)));
    }
    visible
}

fn visible_events(cx: &ServiceContext) -> Select<Entity> {
    Entity::find().filter(visible_to(cx))
}

/// Ids of the events the caller may see, as a subquery for other lists.
pub(crate) fn visible_ids(cx: &ServiceContext) -> sea_orm::sea_query::SelectStatement {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(visible_to(cx))
        .into_query()
}

const NOT_FOUND: AppError = AppError::NotFound { entity: "event" };

/// The first moment after the event's last day in its own time zone: from then on
/// the event has ended (UTC when the stored zone is somehow unknown).
pub fn ends_at(event: &Model) -> DateTime<Utc> {
    let next_day = event
        .end_date
        .checked_add_days(chrono::Days::new(1))
        .unwrap_or(event.end_date)
        .and_time(chrono::NaiveTime::MIN);
    match event.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => chrono::TimeZone::from_local_datetime(&tz, &next_day)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| next_day.and_utc()),
        Err(_) => next_day.and_utc(),
    }
}

/// Refuses participation changes (answers, applications, new members) once the
/// event is over: ended, completed or cancelled.
pub(crate) fn ensure_not_over(event: &Model, now: DateTime<Utc>) -> AppResult<()> {
    match event.status {
        EventStatus::Cancelled | EventStatus::Completed => Err(AppError::conflict(format!(
            "the event is {} and takes no more participation",
            event.status.to_value()
        ))),
        _ if now >= ends_at(event) => Err(AppError::conflict(format!(
            "the event ended on {}: it takes no more participation",
            event.end_date
        ))),
        _ => Ok(()),
    }
}

/// Reads one event the caller may see.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    visible_events(cx)
        .filter(Column::Id.eq(id))
        .one(&cx.db)
        .await?
        .ok_or(NOT_FOUND)
}

/// Reads the events among `ids` the caller may see (for loaders).
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(visible_events(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

/// The events among `ids` the caller may see, each with its host: one query.
pub async fn get_many_with_hosts(
    cx: &ServiceContext,
    ids: &[Uuid],
) -> AppResult<Vec<(Model, organization::Model)>> {
    let to_host = Entity::belongs_to(organization::Entity)
        .from(Column::HostOrganizationId)
        .to(organization::Column::Id)
        .into();
    let mut select = visible_events(cx)
        .filter(Column::Id.is_in(ids.iter().copied()))
        .join(JoinType::InnerJoin, to_host);
    for column in organization::Column::iter() {
        select = select.column_as(
            Expr::col((organization::Entity, column)),
            format!("host_{}", column.as_str()),
        );
    }
    let rows = cx
        .db
        .query_all_raw(select.build(cx.db.get_database_backend()))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let event_at = decode::offset_of::<Model>(first, "");
    let host_at = decode::offset_of::<organization::Model>(first, "host_");
    rows.iter()
        .map(|row| {
            Ok((
                decode::decode_at(row, event_at, "")?,
                decode::decode_at(row, host_at, "host_")?,
            ))
        })
        .collect()
}

/// An event the caller may see, with its host and agenda (in order of start), in
/// one query: the event page is the most frequent single-object read, and each
/// round trip to the database costs about as much as the query itself.
///
/// The sessions need no rule of their own: everyone who sees an event sees its
/// agenda (see `sessions`).
pub async fn get_with_host_and_agenda(
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<Option<(Model, organization::Model, Vec<session::Model>)>> {
    let to_host = Entity::belongs_to(organization::Entity)
        .from(Column::HostOrganizationId)
        .to(organization::Column::Id)
        .into();
    let to_sessions = sea_orm::RelationDef::from(
        session::Entity::belongs_to(Entity)
            .from(session::Column::EventId)
            .to(Column::Id),
    )
    .rev();
    let mut select = visible_events(cx)
        .filter(Column::Id.eq(id))
        .join(JoinType::InnerJoin, to_host)
        .join(JoinType::LeftJoin, to_sessions);
    for column in organization::Column::iter() {
        select = select.column_as(
            Expr::col((organization::Entity, column)),
            format!("host_{}", column.as_str()),
        );
    }
    for column in session::Column::iter() {
        select = select.column_as(
            Expr::col((session::Entity, column)),
            format!("session_{}", column.as_str()),
        );
    }
    let statement = select
        .order_by_asc(session::Column::StartsAt)
        .order_by_asc(session::Column::Id)
        .build(cx.db.get_database_backend());
    let rows = cx.db.query_all_raw(statement).await?;
    // The event and host repeat on every row: read them once.
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let event = decode::decode_at(first, decode::offset_of::<Model>(first, ""), "")?;
    let host_at = decode::offset_of::<organization::Model>(first, "host_");
    let host = decode::decode_at(first, host_at, "host_")?;
    let session_at = decode::offset_of::<session::Model>(first, "session_");
    let mut agenda = Vec::with_capacity(rows.len());
    for row in &rows {
        // An event without sessions comes back as one row of nulls for them.
        match session_at {
            Some(at) => {
                if decode::nullable::<Uuid>(row, at)?.is_some() {
                    agenda.push(decode::decode_at(row, session_at, "session_")?);
                }
            }
            None => match session::Model::from_query_result_nullable(row, "session_") {
                Ok(session) => agenda.push(session),
                Err(sea_orm::TryGetError::Null(_)) => {}
                Err(sea_orm::TryGetError::DbErr(error)) => return Err(error.into()),
            },
        }
    }
    Ok(Some((event, host, agenda)))
}

/// A co-host of an event: the organization, and when and with which permissions
/// the host added it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct CoHost {
    #[sea_orm(nested)]
    pub link: event_co_host::Model,
    #[sea_orm(nested(prefix = "organization_"))]
    pub organization: organization::Model,
}

/// The co-hosts of each of `event_ids`, in the order they were added, for
/// loaders: one query for any number of events, joining the organizations.
///
/// The caller must already have been allowed to see the events (the loader is only
/// reached through an event it was given).
pub async fn co_hosts_of(cx: &ServiceContext, event_ids: &[Uuid]) -> AppResult<Vec<CoHost>> {
    let to_organization = event_co_host::Entity::belongs_to(organization::Entity)
        .from(event_co_host::Column::OrganizationId)
        .to(organization::Column::Id)
        .into();
    let mut select = event_co_host::Entity::find()
        .filter(event_co_host::Column::EventId.is_in(event_ids.iter().copied()))
        .join(JoinType::InnerJoin, to_organization);
    for column in organization::Column::iter() {
        select = select.column_as(
            Expr::col((organization::Entity, column)),
            format!("organization_{}", column.as_str()),
        );
    }
    Ok(select
        .order_by_asc(event_co_host::Column::CreatedAt)
        .order_by_asc(event_co_host::Column::OrganizationId)
        .into_model::<CoHost>()
        .all(&cx.db)
        .await?)
}

/// The date history of each of `event_ids`, oldest first, for loaders.
pub async fn date_changes_of(
    cx: &ServiceContext,
    event_ids: &[Uuid],
) -> AppResult<Vec<event_date_change::Model>> {
    Ok(event_date_change::Entity::find()
        .filter(event_date_change::Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(event_date_change::Column::CreatedAt)
        .all(&cx.db)
        .await?)
}

fn filtered(cx: &ServiceContext, filter: &EventFilter) -> AppResult<Select<Entity>> {
    let mut select =
        super::lists::changed_since(visible_events(cx), Column::UpdatedAt, filter.updated_since);
    if let Some(kinds) = &filter.kinds {
        select = select.filter(Column::Kind.is_in(kinds.iter().copied()));
    }
    if let Some(statuses) = &filter.statuses {
        select = select.filter(Column::Status.is_in(statuses.iter().copied()));
    }
    if let Some(host) = filter.host_organization_id {
        select = select.filter(Column::HostOrganizationId.eq(host));
    }
    if let Some(co_host) = filter.co_host_organization_id {
        select = select.filter(Column::Id.in_subquery(co_hosted_by(co_host)));
    }
    if let Some(country) = &filter.country_code {
        let country = CountryCode::parse(country, "filter.countryCode")?;
        select = select.filter(Column::CountryCode.eq(country.into_inner()));
    }
    if let Some(from) = filter.starts_on_or_after {
        select = select.filter(Column::StartDate.gte(from));
    }
    if let Some(to) = filter.starts_on_or_before {
        select = select.filter(Column::StartDate.lte(to));
    }
    if let Some(text) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        select = select.filter(search::lower_like(
            Column::Title,
            &search::contains_pattern(text),
        ));
    }
    Ok(select)
}

fn ordering(field: EventSortField, direction: SortDirection) -> Ordering<Entity> {
    let (column, sort_value, parse_value): (Column, SortValueFn<Model>, ParseValueFn) = match field
    {
        EventSortField::StartDate => (
            Column::StartDate,
            |m| m.start_date.to_string(),
            |s| s.parse::<NaiveDate>().ok().map(Value::from),
        ),
        EventSortField::Title => (Column::Title, |m| m.title.clone(), parse_text),
        EventSortField::CreatedAt => (
            Column::CreatedAt,
            |m| timestamp_text(&m.created_at),
            parse_timestamp,
        ),
        EventSortField::UpdatedAt => (
            Column::UpdatedAt,
            |m| timestamp_text(&m.updated_at),
            parse_timestamp,
        ),
    };
    Ordering {
        name: format!("events:{field:?}:{direction:?}"),
        key: SortKey::Column {
            column,
            text: sort_value,
        },
        id_column: Column::Id,
        direction,
        parse_value,
        id_of: |m| m.id,
    }
}

/// One page of the events the caller may see.
pub async fn list(
    cx: &ServiceContext,
    filter: &EventFilter,
    sort: (EventSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<Page<Model>> {
    let ordering = ordering(sort.0, sort.1);
    let args = PageArgs::parse(page, &ordering.name)?;
    fetch_page(&cx.db, filtered(cx, filter)?, &ordering, &args).await
}

/// How many events the caller may see match `filter`.
pub async fn count(cx: &ServiceContext, filter: &EventFilter) -> AppResult<u64> {
    Ok(filtered(cx, filter)?.count(&cx.db).await?)
}

/// Reads an event the caller may see through `db` (a transaction, usually).
pub(crate) async fn visible_event<C: ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<Model> {
    visible_events(cx)
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(NOT_FOUND)
}

/// Marks an event changed (its `updated_at`; the version stays, so an agenda edit
/// never makes an `expectedVersion` of the event stale), inside `txn`. The agenda
/// is part of the event: `events(filter: {updatedSince})` then reports an event
/// whose sessions were added, changed or removed, which a removed session could
/// not report itself.
pub(crate) async fn touch(txn: &DatabaseTransaction, id: Uuid) -> AppResult<()> {
    Entity::update_many()
        .col_expr(
            Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Loads an event for a change by its host, inside `txn`.
///
/// An event the caller cannot see is NOT_FOUND; one it sees but does not host (a
/// co-host, whatever its permissions, or a partner reading a published event) is
/// FORBIDDEN.
pub(crate) async fn load_for_host(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
) -> AppResult<Model> {
    let event = visible_event(txn, cx, id).await?;
    access::require_host(cx, &event)?;
    Ok(event)
}

/// Loads an event for a change that `permission` covers, inside `txn`: by the
/// host's coordinators, or a co-host's the host granted it. An event the caller
/// cannot see is NOT_FOUND; otherwise a missing grant is FORBIDDEN, naming it.
pub(crate) async fn load_with_permission(
    txn: &DatabaseTransaction,
    cx: &ServiceContext,
    id: Uuid,
    permission: CoHostPermission,
) -> AppResult<Model> {
    let event = visible_event(txn, cx, id).await?;
    access::require_event_permission(txn, cx, &event, permission).await?;
    Ok(event)
}

async fn validate<C: ConnectionTrait>(
    db: &C,
    cx: &ServiceContext,
    event_id: Option<Uuid>,
    fields: EventFields,
) -> AppResult<EventFields> {
    let mut errors = InputErrors::default();
    let start_date = errors.check(plausible_date(fields.start_date, "startDate"));
    let end_date = errors.check(plausible_date(fields.end_date, "endDate"));
    let dates = match (start_date, end_date) {
        (Some(start), Some(end)) => errors.check(DateRange::new(start, end, "endDate")),
        _ => None,
    };
    let application_deadline = errors.check(plausible_instant_opt(
        fields.application_deadline,
        "applicationDeadline",
    ));
    if let (Some(dates), Some(Some(deadline))) = (dates, application_deadline) {
        let last_day = dates.end().and_hms_opt(23, 59, 59).map(|t| t.and_utc());
        if last_day.is_some_and(|last| deadline > last) {
            errors.add(
                "applicationDeadline",
                "must not be after the event's last day",
            );
        }
    }
    if fields.participation_mode == ParticipationMode::ApplicationsOpen
        && fields.application_deadline.is_none()
    {
        errors.add(
            "applicationDeadline",
            "an event open to applications needs an application deadline",
        );
    }
    if let Some(other) = fields.held_alongside_event_id {
        if Some(other) == event_id {
            errors.add(
                "heldAlongsideId",
                "an event cannot be held alongside itself",
            );
        } else {
            let exists = visible_events(cx)
                .filter(Column::Id.eq(other))
                .one(db)
                .await?;
            match exists {
                None => errors.add("heldAlongsideId", "no such event"),
                Some(o)
                    if o.held_alongside_event_id.is_some()
                        && o.held_alongside_event_id == event_id =>
                {
                    errors.add(
                        "heldAlongsideId",
                        "that event is already held alongside this one",
                    );
                }
                Some(_) => {}
            }
        }
    }
    let name = |errors: &mut InputErrors, v: Option<String>, field: &str, max| {
        errors
            .check(Name::parse_optional(v.as_deref(), field, max))
            .flatten()
    };
    let title = errors.check(Name::parse(&fields.title, "title", TITLE_MAX));
    let description = errors
        .check(BoundedText::parse_optional(
            fields.description.as_deref(),
            "description",
            TEXT_MAX,
        ))
        .flatten();
    let election_name = name(&mut errors, fields.election_name, "electionName", NAME_MAX);
    let election_date = errors
        .check(plausible_date_opt(fields.election_date, "electionDate"))
        .flatten();
    let venue = name(&mut errors, fields.venue, "venue", NAME_MAX);
    let city = name(&mut errors, fields.city, "city", NAME_MAX);
    let country_code = errors
        .check(parse_optional(fields.country_code.as_deref(), |c| {
            CountryCode::parse(c, "countryCode").map(CountryCode::into_inner)
        }))
        .flatten();
    let time_zone = errors.check(TimeZoneName::parse(&fields.time_zone, "timeZone"));
    let max_delegations = errors
        .check(capacity(fields.max_delegations, "maxDelegations"))
        .flatten();
    let max_participants = errors
        .check(capacity(fields.max_participants, "maxParticipants"))
        .flatten();
    let (Some(dates), Some(title), Some(time_zone)) = (dates, title, time_zone) else {
        return Err(errors.fail());
    };
    errors.finish()?;
    Ok(EventFields {
        kind: fields.kind,
        title: title.into_inner(),
        description,
        election_name,
        election_date,
        venue,
        city,
        country_code,
        time_zone: time_zone.into_inner(),
        start_date: dates.start(),
        end_date: dates.end(),
        date_status: fields.date_status,
        participation_mode: fields.participation_mode,
        application_deadline: fields.application_deadline,
        max_delegations,
        max_participants,
        held_alongside_event_id: fields.held_alongside_event_id,
    })
}

fn apply(active: &mut ActiveModel, f: EventFields) {
    active.kind = Set(f.kind);
    active.title = Set(f.title);
    active.description = Set(f.description);
    active.election_name = Set(f.election_name);
    active.election_date = Set(f.election_date);
    active.venue = Set(f.venue);
    active.city = Set(f.city);
    active.country_code = Set(f.country_code);
    active.time_zone = Set(f.time_zone);
    active.start_date = Set(f.start_date);
    active.end_date = Set(f.end_date);
    active.date_status = Set(f.date_status);
    active.participation_mode = Set(f.participation_mode);
    active.application_deadline = Set(f.application_deadline);
    active.max_delegations = Set(f.max_delegations);
    active.max_participants = Set(f.max_participants);
    active.held_alongside_event_id = Set(f.held_alongside_event_id);
}

fn fields_of(m: &Model) -> EventFields {
    EventFields {
        kind: m.kind,
        title: m.title.clone(),
        description: m.description.clone(),
        election_name: m.election_name.clone(),
        election_date: m.election_date,
        venue: m.venue.clone(),
        city: m.city.clone(),
        country_code: m.country_code.clone(),
        time_zone: m.time_zone.clone(),
        start_date: m.start_date,
        end_date: m.end_date,
        date_status: m.date_status,
        participation_mode: m.participation_mode,
        application_deadline: m.application_deadline,
        max_delegations: m.max_delegations,
        max_participants: m.max_participants,
        held_alongside_event_id: m.held_alongside_event_id,
    }
}

async fn audited<C: ConnectionTrait>(
    txn: &C,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: &Model,
) -> AppResult<()> {
    audit::record_change(txn, cx, action, "Event", after.id, before, Some(after)).await
}

/// Creates a DRAFT event hosted by the caller's organization.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id))]
pub async fn create(cx: &ServiceContext, fields: EventFields) -> AppResult<Model> {
    if !cx.caller.has_role(Role::Coordinator) {
        return Err(AppError::forbidden("only coordinators create events"));
    }
    let txn = cx.begin_write().await?;
    let fields = validate(&txn, cx, None, fields).await?;
    let now = Utc::now();
    let mut active = ActiveModel {
        id: Set(Uuid::now_v7()),
        host_organization_id: Set(cx.caller.organization_id),
        status: Set(EventStatus::Draft),
        published_at: Set(None),
        personal_data_retention_days: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut active, fields);
    let created = active.insert(&txn).await?;
    audited(&txn, cx, "event.create", None, &created).await?;
    cx.commit(txn).await?;
    Ok(created)
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

pub(crate) fn ensure_editable(event: &Model) -> AppResult<()> {
    match event.status {
        EventStatus::Cancelled | EventStatus::Completed => Err(AppError::conflict(format!(
            "a {} event can no longer be changed",
            event.status.to_value()
        ))),
        _ => Ok(()),
    }
}

/// Changes an event's details (host coordinators only).
///
/// Dates of an event partners can already see change through [`reschedule`], which
/// keeps the history and tells those invited; here they may change only in DRAFT.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %id))]
pub async fn update(cx: &ServiceContext, id: Uuid, changes: EventChanges) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, id).await?;
    super::check_version(changes.expected_version, current.version)?;
    ensure_editable(&current)?;
    let moves_dates = changes.start_date.is_some_and(|d| d != current.start_date)
        || changes.end_date.is_some_and(|d| d != current.end_date)
        || changes
            .date_status
            .is_some_and(|s| s != current.date_status);
    if moves_dates && current.status != EventStatus::Draft {
        return Err(AppError::conflict(
            "the event is no longer a draft: change its dates with rescheduleEvent, which keeps the history and notifies those invited",
        ));
    }
    let mut f = fields_of(&current);
    let patch = |slot: &mut Option<String>, p: Patch<String>| {
        if let Some(v) = p {
            *slot = v;
        }
    };
    if let Some(v) = changes.kind {
        f.kind = v;
    }
    if let Some(v) = changes.title {
        f.title = v;
    }
    patch(&mut f.description, changes.description);
    patch(&mut f.election_name, changes.election_name);
    patch(&mut f.venue, changes.venue);
    patch(&mut f.city, changes.city);
    patch(&mut f.country_code, changes.country_code);
    if let Some(v) = changes.election_date {
        f.election_date = v;
    }
    if let Some(v) = changes.time_zone {
        f.time_zone = v;
    }
    if let Some(v) = changes.start_date {
        f.start_date = v;
    }
    if let Some(v) = changes.end_date {
        f.end_date = v;
    }
    if let Some(v) = changes.date_status {
        f.date_status = v;
    }
    if let Some(v) = changes.participation_mode {
        f.participation_mode = v;
    }
    if let Some(v) = changes.application_deadline {
        f.application_deadline = v;
    }
    if let Some(v) = changes.max_delegations {
        f.max_delegations = v;
    }
    if let Some(v) = changes.max_participants {
        f.max_participants = v;
    }
    if let Some(v) = changes.held_alongside_event_id {
        f.held_alongside_event_id = v;
    }
    let f = validate(&txn, cx, Some(id), f).await?;
    let mut active: ActiveModel = current.clone().into();
    apply(&mut active, f);
    let updated = save(&txn, &current, active).await?;
    if ends_at(&updated) != ends_at(&current) {
        super::invitations::follow_event_end(&txn, &updated).await?;
    }
    audited(&txn, cx, "event.update", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Makes a DRAFT event visible to partners. Publishing a published event again
/// returns it unchanged, so a retried request is safe.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %id))]
pub async fn publish(
    cx: &ServiceContext,
    id: Uuid,
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, id).await?;
    match current.status {
        EventStatus::Published => return Ok(current),
        EventStatus::Draft => {}
        other => {
            return Err(AppError::conflict(format!(
                "only a DRAFT event can be published; this one is {}",
                other.to_value()
            )));
        }
    }
    super::check_version(expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(EventStatus::Published);
    active.published_at = Set(Some(Utc::now()));
    let updated = save(&txn, &current, active).await?;
    audited(&txn, cx, "event.publish", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Moves an event's dates, keeping the old ones in its date history.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %id))]
pub async fn reschedule(cx: &ServiceContext, id: Uuid, change: Reschedule) -> AppResult<Model> {
    let mut errors = InputErrors::default();
    let reason = errors.check(BoundedText::parse(&change.reason, "reason", TEXT_MAX));
    let start = errors.check(plausible_date(change.start_date, "startDate"));
    let end = errors.check(plausible_date(change.end_date, "endDate"));
    let dates = match (start, end) {
        (Some(start), Some(end)) => errors.check(DateRange::new(start, end, "endDate")),
        _ => None,
    };
    let (Some(reason), Some(dates)) = (reason.map(BoundedText::into_inner), dates) else {
        return Err(errors.fail());
    };
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, id).await?;
    super::check_version(change.expected_version, current.version)?;
    ensure_editable(&current)?;
    if let Some(deadline) = current.application_deadline {
        let last_day = dates.end().and_hms_opt(23, 59, 59).map(|t| t.and_utc());
        if last_day.is_some_and(|last| deadline > last) {
            return Err(AppError::invalid(
                "endDate",
                "the event would end before its application deadline",
            ));
        }
    }
    event_date_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        event_id: Set(id),
        previous_start_date: Set(current.start_date),
        previous_end_date: Set(current.end_date),
        previous_date_status: Set(current.date_status),
        new_start_date: Set(dates.start()),
        new_end_date: Set(dates.end()),
        new_date_status: Set(change.date_status),
        reason: Set(reason),
        changed_by_client_id: Set(cx.caller.api_client_id()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let mut active: ActiveModel = current.clone().into();
    active.start_date = Set(dates.start());
    active.end_date = Set(dates.end());
    active.date_status = Set(change.date_status);
    if current.status == EventStatus::Postponed {
        active.status = Set(EventStatus::Published);
    }
    let updated = save(&txn, &current, active).await?;
    super::invitations::follow_event_end(&txn, &updated).await?;
    audited(&txn, cx, "event.reschedule", Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Adds a co-host with the permissions the host grants it (host coordinators
/// only; none: it reads the event and its participation). Adding one that is
/// already a co-host with the same permissions is a no-op; with others, a
/// CONFLICT (their permissions change through [`update_co_host_permissions`]).
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %event_id, %organization_id))]
pub async fn add_co_host(
    cx: &ServiceContext,
    event_id: Uuid,
    organization_id: Uuid,
    permissions: &[CoHostPermission],
) -> AppResult<Model> {
    let permissions = distinct_permissions(permissions);
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, event_id).await?;
    ensure_editable(&current)?;
    if organization_id == current.host_organization_id {
        return Err(AppError::invalid(
            "organizationId",
            "the host cannot also be a co-host",
        ));
    }
    organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })?;
    let existing = event_co_host::Entity::find_by_id((event_id, organization_id))
        .one(&txn)
        .await?;
    if let Some(existing) = existing {
        if existing.permissions() == permissions {
            return Ok(current);
        }
        return Err(AppError::conflict(
            "the organization is already a co-host with other permissions: change them with updateCoHostPermissions",
        ));
    }
    let mut link = event_co_host::ActiveModel {
        event_id: Set(event_id),
        organization_id: Set(organization_id),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    link.grant_exactly(&permissions);
    link.insert(&txn).await.map_err(|e| {
        AppError::from_write(e, || AppError::conflict("the co-host was just added"))
    })?;
    let updated = save(&txn, &current, current.clone().into()).await?;
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "event.add_co_host",
            entity_type: "Event",
            entity_id: event_id,
            before: None,
            after: Some(co_host_snapshot(organization_id, &permissions)),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// The permissions asked for, each once, in the enumeration's order (how they
/// are stored and read back).
fn distinct_permissions(permissions: &[CoHostPermission]) -> Vec<CoHostPermission> {
    CoHostPermission::ALL
        .into_iter()
        .filter(|p| permissions.contains(p))
        .collect()
}

/// A co-host as its audit entries record it.
fn co_host_snapshot(organization_id: Uuid, permissions: &[CoHostPermission]) -> serde_json::Value {
    serde_json::json!({ "coHostOrganizationId": organization_id, "permissions": permissions })
}

/// Replaces what a co-host may do at an event (host coordinators only: a co-host
/// never changes its own permissions or another's). `expected_version` is the
/// event's, which the change moves like adding a co-host does. Setting the
/// permissions it already has returns the event unchanged. Allowed on a cancelled
/// or completed event too.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %event_id, %organization_id))]
pub async fn update_co_host_permissions(
    cx: &ServiceContext,
    event_id: Uuid,
    organization_id: Uuid,
    permissions: &[CoHostPermission],
    expected_version: Option<i32>,
) -> AppResult<Model> {
    let permissions = distinct_permissions(permissions);
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, event_id).await?;
    let existing = event_co_host::Entity::find_by_id((event_id, organization_id))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "organizationId",
                "the organization is not a co-host of this event",
            )
        })?;
    let before = existing.permissions();
    if before == permissions {
        return Ok(current);
    }
    // No `ensure_editable`: after an event is over its host may still take back
    // what a co-host may read (VIEW_ACTIVITY).
    super::check_version(expected_version, current.version)?;
    let mut link: event_co_host::ActiveModel = existing.into();
    link.grant_exactly(&permissions);
    link.update(&txn).await?;
    let updated = save(&txn, &current, current.clone().into()).await?;
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "event.update_co_host_permissions",
            entity_type: "Event",
            entity_id: event_id,
            before: Some(co_host_snapshot(organization_id, &before)),
            after: Some(co_host_snapshot(organization_id, &permissions)),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// Removes a co-host (host coordinators only). Removing one that is not a co-host
/// is a no-op.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %event_id, %organization_id))]
pub async fn remove_co_host(
    cx: &ServiceContext,
    event_id: Uuid,
    organization_id: Uuid,
) -> AppResult<Model> {
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, event_id).await?;
    ensure_editable(&current)?;
    let Some(existing) = event_co_host::Entity::find_by_id((event_id, organization_id))
        .one(&txn)
        .await?
    else {
        return Ok(current);
    };
    let removed_permissions = existing.permissions();
    let removed = event_co_host::Entity::delete_by_id((event_id, organization_id))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Ok(current);
    }
    let updated = save(&txn, &current, current.clone().into()).await?;
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "event.remove_co_host",
            entity_type: "Event",
            entity_id: event_id,
            before: Some(co_host_snapshot(organization_id, &removed_permissions)),
            after: None,
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}

/// A status change of the event life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// PUBLISHED → CLOSED: no more applications or answers.
    Close,
    /// PUBLISHED or CLOSED → COMPLETED: it took place.
    Complete,
    /// PUBLISHED or CLOSED → POSTPONED: moved to a date not yet known.
    Postpone,
    /// Anything but COMPLETED → CANCELLED: open invitations are withdrawn,
    /// delegations cancelled and pending applications rejected.
    Cancel,
}

impl Transition {
    fn target(self) -> EventStatus {
        match self {
            Transition::Close => EventStatus::Closed,
            Transition::Complete => EventStatus::Completed,
            Transition::Postpone => EventStatus::Postponed,
            Transition::Cancel => EventStatus::Cancelled,
        }
    }

    fn allowed_from(self, status: EventStatus) -> bool {
        use EventStatus::*;
        match self {
            Transition::Close => status == Published,
            Transition::Complete | Transition::Postpone => matches!(status, Published | Closed),
            Transition::Cancel => !matches!(status, Completed | Cancelled),
        }
    }

    fn action(self) -> &'static str {
        match self {
            Transition::Close => "event.close",
            Transition::Complete => "event.complete",
            Transition::Postpone => "event.postpone",
            Transition::Cancel => "event.cancel",
        }
    }
}

/// Moves an event through its life cycle (host coordinators), in one transaction
/// with everything the move implies. Repeating a move that already happened
/// returns the event unchanged.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id, ?transition))]
pub async fn transition(
    cx: &ServiceContext,
    id: Uuid,
    transition: Transition,
    expected_version: Option<i32>,
    reason: Option<String>,
) -> AppResult<Model> {
    let reason = BoundedText::parse_optional(reason.as_deref(), "reason", TEXT_MAX)?;
    if matches!(transition, Transition::Postpone | Transition::Cancel) && reason.is_none() {
        return Err(AppError::invalid("reason", "say why, for everyone invited"));
    }
    let txn = cx.begin_write().await?;
    let current = load_for_host(&txn, cx, id).await?;
    if current.status == transition.target() {
        return Ok(current);
    }
    if !transition.allowed_from(current.status) {
        return Err(AppError::conflict(format!(
            "a {} event cannot become {}",
            current.status.to_value(),
            transition.target().to_value()
        )));
    }
    super::check_version(expected_version, current.version)?;
    let mut active: ActiveModel = current.clone().into();
    active.status = Set(transition.target());
    match transition {
        Transition::Postpone => {
            active.date_status = Set(DateStatus::ToBeConfirmed);
            event_date_change::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(id),
                previous_start_date: Set(current.start_date),
                previous_end_date: Set(current.end_date),
                previous_date_status: Set(current.date_status),
                new_start_date: Set(current.start_date),
                new_end_date: Set(current.end_date),
                new_date_status: Set(DateStatus::ToBeConfirmed),
                reason: Set(reason.clone().unwrap_or_default()),
                changed_by_client_id: Set(cx.caller().api_client_id()),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
        }
        Transition::Cancel => {
            let note = reason.clone().unwrap_or_default();
            for invitation in super::invitations::open_of_event(&txn, id).await? {
                super::invitations::withdraw_in(&txn, cx, &invitation, Some(note.clone())).await?;
            }
            super::delegations::cancel_for_event(&txn, cx, id).await?;
            super::applications::reject_pending_of_event(&txn, cx, id, &note).await?;
        }
        Transition::Close | Transition::Complete => {}
    }
    let updated = save(&txn, &current, active).await?;
    audited(&txn, cx, transition.action(), Some(&current), &updated).await?;
    cx.commit(txn).await?;
    Ok(updated)
}
