//! Directory sources and external ids: keeping the organization directory in sync
//! with another system's list (A-WEB's ~120 member EMBs), idempotently.
//!
//! - A **source** (`AWEB`) is registered by an administrator with its **steward**,
//!   the organization whose system maintains the source's entries.
//! - An organization carries at most one **external id** per source, and an id
//!   names at most one organization within its source (unique indexes).
//! - A `DIRECTORY` client of the steward upserts entries by external id
//!   ([`upsert`]): creates what it does not know, updates what changed, leaves the
//!   rest untouched (no write, no audit entry), and refuses per item what breaks
//!   the directory's rules while writing the good items, in one transaction.
//! - A steward only ever edits organizations that carry its source's external id.
//!   An item that would duplicate an organization without that id (same name in
//!   the same country, same acronym) is refused with the existing organization's
//!   id: matching by name never takes an entry over. An administrator links such
//!   an entry to the external id ([`link`]) when it is the same body.
//! - `awebMember` belongs to the `AWEB` source: true for every entry its sync
//!   writes and every organization linked to an AWEB id, false once unlinked.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, Set, SqlErr, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::organizations::{ValidOrganization, duplicate_of, validate};
use super::{ServiceContext, audit};
use crate::auth::Role;
use crate::domain::{Name, OrganizationKind};
use crate::entity::{directory_source, organization, organization_external_id as link_entity};
use crate::error::{AppError, AppResult, ExistingRecord, FieldError};

/// The source whose entries are A-WEB's members: its sync sets `awebMember`.
pub const AWEB: &str = "AWEB";

/// Most items one `upsertOrganizations` call takes.
pub const MAX_ITEMS: usize = 500;

const EXTERNAL_ID_MAX: usize = 100;

/// The first key of the PostgreSQL advisory lock a sync holds per source (the
/// second is the source's hash): syncs of one source run one after another, so
/// two racing requests cannot deadlock on each other's new rows, and the second
/// finds everything the first wrote.
const SYNC_LOCK_CLASS: i32 = 0x656d_6268; // "embh"

/// Parses a source code: 2 to 20 of `A`–`Z`, `0`–`9`, `_` and `-`, starting with a
/// letter; lowercase is accepted and uppercased (`aweb` is `AWEB`).
pub fn parse_source(raw: &str, field: &str) -> AppResult<String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = (2..=20).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(code)
    } else {
        Err(AppError::invalid(
            field,
            "a source code is 2 to 20 letters, digits, `_` or `-`, starting with a letter (such as `AWEB`)",
        ))
    }
}

/// Parses an id within a source: one line of at most 100 characters, compared
/// exactly (case matters), surrounding spaces trimmed.
pub fn parse_external_id(raw: &str, field: &str) -> AppResult<String> {
    Ok(Name::parse(raw, field, EXTERNAL_ID_MAX)?.into_inner())
}

/// An external id as given: `{ source, id }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalIdRef {
    pub source: String,
    pub id: String,
}

impl ExternalIdRef {
    /// Validates both parts; `field` names the input (`externalId`, `externalIds`).
    pub fn parse(source: &str, id: &str, field: &str) -> AppResult<Self> {
        Ok(Self {
            source: parse_source(source, &format!("{field}.source"))?,
            id: parse_external_id(id, &format!("{field}.id"))?,
        })
    }
}

/// Ids of the organizations with an external id of `source` (a subquery).
pub fn linked_to(source: &str) -> SelectStatement {
    Query::select()
        .column(link_entity::Column::OrganizationId)
        .from(link_entity::Entity)
        .and_where(link_entity::Column::Source.eq(source))
        .to_owned()
}

/// The external ids of organizations (for the `externalIds` field), by source.
pub async fn external_ids_of(
    cx: &ServiceContext,
    organization_ids: &[Uuid],
) -> AppResult<Vec<link_entity::Model>> {
    Ok(link_entity::Entity::find()
        .filter(link_entity::Column::OrganizationId.is_in(organization_ids.iter().copied()))
        .order_by_asc(link_entity::Column::Source)
        .all(&cx.db)
        .await?)
}

/// The organization known by `external_id`, if any (the directory is public).
pub async fn find(
    cx: &ServiceContext,
    external_id: &ExternalIdRef,
) -> AppResult<Option<organization::Model>> {
    let Some(link) = link_entity::Entity::find()
        .filter(link_entity::Column::Source.eq(external_id.source.as_str()))
        .filter(link_entity::Column::ExternalId.eq(external_id.id.as_str()))
        .one(&cx.db)
        .await?
    else {
        return Ok(None);
    };
    Ok(organization::Entity::find_by_id(link.organization_id)
        .one(&cx.db)
        .await?)
}

/// Resolves external ids to organization ids in one statement, in the order
/// given. Unknown ones are one BAD_USER_INPUT on `field`, naming each.
pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    external_ids: &[ExternalIdRef],
    field: &str,
) -> AppResult<Vec<Uuid>> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for x in external_ids {
        by_source
            .entry(x.source.as_str())
            .or_default()
            .push(x.id.as_str());
    }
    let mut any = Condition::any();
    for (source, ids) in by_source {
        any = any.add(
            Condition::all()
                .add(link_entity::Column::Source.eq(source))
                .add(link_entity::Column::ExternalId.is_in(ids)),
        );
    }
    let found: HashMap<(String, String), Uuid> = link_entity::Entity::find()
        .filter(any)
        .all(db)
        .await?
        .into_iter()
        .map(|l| ((l.source, l.external_id), l.organization_id))
        .collect();
    let mut unknown = Vec::new();
    let mut ids = Vec::with_capacity(external_ids.len());
    for x in external_ids {
        match found.get(&(x.source.clone(), x.id.clone())) {
            Some(id) => ids.push(*id),
            None => unknown.push(format!("{}:{}", x.source, x.id)),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::invalid(
            field,
            format!(
                "no organization has these external ids: {}",
                unknown.join(", ")
            ),
        ));
    }
    Ok(ids)
}

fn require_admin(cx: &ServiceContext) -> AppResult<()> {
    if cx.caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only administrators register directory sources and link external ids",
        ))
    }
}

async fn source_row<C: ConnectionTrait>(
    db: &C,
    source: &str,
    field: &str,
) -> AppResult<directory_source::Model> {
    directory_source::Entity::find_by_id(source.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                field,
                format!("no directory source `{source}` is registered"),
            )
        })
}

/// The registered directory sources, by code.
pub async fn sources(cx: &ServiceContext) -> AppResult<Vec<directory_source::Model>> {
    Ok(directory_source::Entity::find()
        .order_by_asc(directory_source::Column::Source)
        .all(&cx.db)
        .await?)
}

/// Registers a directory source with its steward, or hands an existing one to
/// another steward (ADMIN). Registering it again unchanged writes nothing.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id))]
pub async fn register_source(
    cx: &ServiceContext,
    source: &str,
    steward_organization_id: Uuid,
) -> AppResult<directory_source::Model> {
    require_admin(cx)?;
    let source = parse_source(source, "source")?;
    let txn = cx.begin_write().await?;
    organization::Entity::find_by_id(steward_organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })?;
    let current = directory_source::Entity::find_by_id(source.clone())
        .one(&txn)
        .await?;
    let now = Utc::now();
    let saved = match &current {
        Some(c) if c.steward_organization_id == steward_organization_id => return Ok(c.clone()),
        Some(c) => {
            let mut active: directory_source::ActiveModel = c.clone().into();
            active.steward_organization_id = Set(steward_organization_id);
            active.updated_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            directory_source::ActiveModel {
                source: Set(source.clone()),
                steward_organization_id: Set(steward_organization_id),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "organization.steward_source",
            entity_type: "Organization",
            entity_id: steward_organization_id,
            before: current.as_ref().and_then(audit::snapshot),
            after: audit::snapshot(&saved),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(saved)
}

/// An organization's snapshot for the audit trail, with the external id a
/// directory change is about.
fn entry_snapshot(
    org: &organization::Model,
    external_id: Option<&ExternalIdRef>,
) -> Option<serde_json::Value> {
    let mut value = audit::snapshot(org)?;
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "external_id".to_owned(),
            external_id.map_or(
                serde_json::Value::Null,
                |x| json!({ "source": x.source, "id": x.id }),
            ),
        );
    }
    Some(value)
}

/// Links an existing organization to an external id (ADMIN), e.g. an entry an
/// administrator created before A-WEB's sync knew it. Linking it again to the
/// same id writes nothing; another id of the same source, or an id another
/// organization has, is a CONFLICT naming the record it collides with.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %organization_id))]
pub async fn link(
    cx: &ServiceContext,
    organization_id: Uuid,
    external_id: ExternalIdRef,
) -> AppResult<organization::Model> {
    require_admin(cx)?;
    let txn = cx.begin_write().await?;
    let org = organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })?;
    source_row(&txn, &external_id.source, "source").await?;
    let same_source =
        link_entity::Entity::find_by_id((organization_id, external_id.source.clone()))
            .one(&txn)
            .await?;
    if let Some(existing) = same_source {
        if existing.external_id == external_id.id {
            return Ok(org);
        }
        return Err(AppError::conflict(format!(
            "the organization already has the {} id `{}`; unlink it first",
            existing.source, existing.external_id
        )));
    }
    let taken = link_entity::Entity::find()
        .filter(link_entity::Column::Source.eq(external_id.source.as_str()))
        .filter(link_entity::Column::ExternalId.eq(external_id.id.as_str()))
        .one(&txn)
        .await?;
    if let Some(taken) = taken {
        return Err(AppError::duplicate(
            format!(
                "the {} id `{}` belongs to another organization",
                external_id.source, external_id.id
            ),
            ExistingRecord {
                type_name: "Organization",
                id: taken.organization_id,
            },
        ));
    }
    link_entity::ActiveModel {
        organization_id: Set(organization_id),
        source: Set(external_id.source.clone()),
        external_id: Set(external_id.id.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        AppError::from_write(e, || {
            AppError::conflict("the external id was linked concurrently; read it again")
        })
    })?;
    let after = if external_id.source == AWEB && !org.aweb_member {
        set_aweb_member(&txn, &org, true).await?
    } else {
        org.clone()
    };
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "organization.link_external_id",
            entity_type: "Organization",
            entity_id: organization_id,
            before: entry_snapshot(&org, None),
            after: entry_snapshot(&after, Some(&external_id)),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(after)
}

/// Removes an organization's external id of `source` (ADMIN); its source's sync
/// no longer maintains it (and, for `AWEB`, it is no longer a member). Nothing
/// to remove writes nothing.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %organization_id))]
pub async fn unlink(
    cx: &ServiceContext,
    organization_id: Uuid,
    source: &str,
) -> AppResult<organization::Model> {
    require_admin(cx)?;
    let source = parse_source(source, "source")?;
    let txn = cx.begin_write().await?;
    let org = organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })?;
    let Some(existing) = link_entity::Entity::find_by_id((organization_id, source.clone()))
        .one(&txn)
        .await?
    else {
        return Ok(org);
    };
    link_entity::Entity::delete_by_id((organization_id, source.clone()))
        .exec(&txn)
        .await?;
    let after = if source == AWEB && org.aweb_member {
        set_aweb_member(&txn, &org, false).await?
    } else {
        org.clone()
    };
    let removed = ExternalIdRef {
        source,
        id: existing.external_id,
    };
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "organization.unlink_external_id",
            entity_type: "Organization",
            entity_id: organization_id,
            before: entry_snapshot(&org, Some(&removed)),
            after: entry_snapshot(&after, None),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(after)
}

async fn set_aweb_member(
    txn: &DatabaseTransaction,
    org: &organization::Model,
    member: bool,
) -> AppResult<organization::Model> {
    let mut active: organization::ActiveModel = org.clone().into();
    active.aweb_member = Set(member);
    super::save_versioned(
        txn,
        active,
        organization::Column::Version,
        organization::Column::UpdatedAt,
        org.version,
    )
    .await
}

/// One directory entry as the source's system knows it: every field of the
/// entry (an absent optional field is cleared), keyed by its id in the source.
#[derive(Debug, Clone)]
pub struct DirectoryItem {
    pub external_id: String,
    pub kind: OrganizationKind,
    pub name: String,
    pub local_name: Option<String>,
    pub acronym: Option<String>,
    pub country_code: Option<String>,
    pub website: Option<String>,
    pub contact_email: Option<String>,
}

/// What an upsert did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum UpsertOutcome {
    /// A new organization was added with this external id.
    Created,
    /// The organization with this external id was changed.
    Updated,
    /// The organization with this external id already read so: nothing was written.
    Unchanged,
    /// Nothing was written for this item; `errors` says why.
    Rejected,
}

/// Why an item was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The item's field, as the API names it (`name`, `countryCode`, `externalId`).
    pub field: String,
    pub message: String,
    /// `BAD_USER_INPUT` or `CONFLICT`.
    pub code: &'static str,
    /// The organization the item would duplicate.
    pub existing: Option<ExistingRecord>,
}

impl ItemError {
    fn invalid(FieldError { field, message }: FieldError) -> Self {
        Self {
            field,
            message,
            code: "BAD_USER_INPUT",
            existing: None,
        }
    }

    /// From a CONFLICT raised while writing the item.
    fn from_conflict(err: AppError, field: &str) -> AppResult<Self> {
        match err {
            AppError::Conflict {
                message, existing, ..
            } => Ok(Self {
                field: field.to_owned(),
                message,
                code: "CONFLICT",
                existing,
            }),
            other => Err(other),
        }
    }
}

/// The outcome of one item, in request order.
#[derive(Debug, Clone)]
pub struct ItemResult {
    /// The item's external id as stored (trimmed), or as sent when invalid.
    pub external_id: String,
    pub outcome: UpsertOutcome,
    /// The entry with this external id after the call (for a rejected item, the
    /// entry as it was, if there is one).
    pub organization: Option<organization::Model>,
    pub errors: Vec<ItemError>,
}

/// What `upsert` did: the source as normalized (`AWEB`) and one result per item.
#[derive(Debug, Clone)]
pub struct Upserted {
    pub source: String,
    pub results: Vec<ItemResult>,
}

fn field_errors(err: AppError) -> AppResult<Vec<ItemError>> {
    match err {
        AppError::InvalidInput { field, message } => {
            Ok(vec![ItemError::invalid(FieldError { field, message })])
        }
        AppError::InvalidInputs(fields) => Ok(fields.into_iter().map(ItemError::invalid).collect()),
        other => Err(other),
    }
}

/// An item that passed validation, waiting for its write.
struct Checked {
    index: usize,
    external_id: String,
    kind: OrganizationKind,
    fields: ValidOrganization,
}

/// Creates or updates up to [`MAX_ITEMS`] organizations of `source` by external
/// id, for a DIRECTORY client of the source's steward, in one transaction.
///
/// How an item's refusal writes nothing of it while the others are written:
/// every item is validated before anything is written (field rules, its
/// external id, the same id twice in one call). Unchanged items are compared in
/// memory and never written, so a repeat run writes and records nothing. The
/// rest are written together inside a savepoint (new entries and their links in
/// one statement each). Only the database's unique indexes judge duplicate names
/// and acronyms exactly (case folding differs between SQLite and PostgreSQL), so
/// when that write hits one, the savepoint is rolled back and the items are
/// written again one by one, each in its own savepoint: an item that clashes
/// (with an existing organization, an earlier item of the same call, or a
/// concurrent writer) is rolled back alone and refused with the organization it
/// duplicates.
///
/// On PostgreSQL, syncs of one source take a transaction-level advisory lock,
/// so two racing calls run one after the other: the second finds what the first
/// wrote (UNCHANGED) instead of deadlocking on the other's uncommitted rows.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, count = items.len()))]
pub async fn upsert(
    cx: &ServiceContext,
    source: &str,
    items: Vec<DirectoryItem>,
) -> AppResult<Upserted> {
    let source = stewarded_source(cx, source, items.len()).await?;
    let (mut results, checked) = validate_items(items)?;

    // Write what changed, in one transaction, one source at a time.
    let txn = cx.begin_write().await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [SYNC_LOCK_CLASS.into(), source.clone().into()],
        ))
        .await?;
    }
    let mut current = entries_of(&txn, &source, &results).await?;
    let aweb = source == AWEB;
    let now = Utc::now();
    let mut pending: Vec<Pending> = Vec::new();
    for item in checked {
        let existing = current.remove(&item.external_id);
        let result = &mut results[item.index];
        result.organization = existing.clone();
        match existing {
            Some(org) if reads_as(&org, &item, aweb) => result.outcome = UpsertOutcome::Unchanged,
            Some(org) => pending.push(Pending {
                row: changed_row(&org, &item, aweb, now),
                before: Some(org),
                item,
            }),
            None => pending.push(Pending {
                row: new_row(&item, aweb, now),
                before: None,
                item,
            }),
        }
    }
    // All at once (a few statements whatever the count); if anything clashes,
    // undo that and write item by item, each in its own savepoint, to find
    // which items clash and keep the others.
    let written = match write_all(&txn, &source, &pending).await? {
        true => pending
            .iter()
            .map(|p| Ok(p.row.clone()))
            .collect::<Vec<_>>(),
        false => {
            let mut one_by_one = Vec::with_capacity(pending.len());
            for p in &pending {
                one_by_one.push(write_one(&txn, &source, p).await);
            }
            one_by_one
        }
    };
    let mut changes: Vec<(
        &str,
        Option<serde_json::Value>,
        Option<serde_json::Value>,
        Uuid,
    )> = Vec::new();
    for (p, written) in pending.iter().zip(written) {
        let external_id = ExternalIdRef {
            source: source.clone(),
            id: p.item.external_id.clone(),
        };
        let result = &mut results[p.item.index];
        match written {
            Ok(after) => {
                let after_snapshot = entry_snapshot(&after, Some(&external_id));
                changes.push(match &p.before {
                    Some(org) => (
                        "organization.update",
                        entry_snapshot(org, Some(&external_id)),
                        after_snapshot,
                        after.id,
                    ),
                    None => ("organization.create", None, after_snapshot, after.id),
                });
                result.outcome = if p.before.is_some() {
                    UpsertOutcome::Updated
                } else {
                    UpsertOutcome::Created
                };
                result.organization = Some(after);
            }
            Err(err) => result.errors.push(conflict_of(&txn, err, &p.item).await?),
        }
    }
    // A refused item whose entry exists shows it as it still is.
    for result in results.iter_mut() {
        if result.outcome == UpsertOutcome::Rejected && result.organization.is_none() {
            result.organization = current.get(&result.external_id).cloned();
        }
    }
    let entries: Vec<audit::Change<'_>> = changes
        .into_iter()
        .map(|(action, before, after, id)| audit::Change {
            action,
            entity_type: "Organization",
            entity_id: id,
            before,
            after,
            event_id: None,
        })
        .collect();
    audit::record_many(&txn, cx, entries).await?;
    cx.commit(txn).await?;
    Ok(Upserted { source, results })
}

/// The source the caller may sync, checked before anything is read for the
/// items: a DIRECTORY client of the steward of a registered source, with at
/// most [`MAX_ITEMS`] items.
async fn stewarded_source(cx: &ServiceContext, source: &str, count: usize) -> AppResult<String> {
    if !cx.caller.has_role(Role::Directory) {
        return Err(AppError::forbidden(
            "only a DIRECTORY client of the source's steward maintains its entries",
        ));
    }
    let source = parse_source(source, "source")?;
    if count > MAX_ITEMS {
        return Err(AppError::invalid(
            "items",
            format!("at most {MAX_ITEMS} items per call"),
        ));
    }
    let registered = source_row(&cx.db, &source, "source").await?;
    if registered.steward_organization_id != cx.caller.organization_id {
        return Err(AppError::forbidden(format!(
            "only the steward of the source `{source}` maintains its entries"
        )));
    }
    Ok(source)
}

/// Validates every item without touching the database: each item's result
/// (REJECTED with its errors until written) and the items fit to be written.
fn validate_items(items: Vec<DirectoryItem>) -> AppResult<(Vec<ItemResult>, Vec<Checked>)> {
    let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
    let mut checked: Vec<Checked> = Vec::with_capacity(items.len());
    let mut seen: HashSet<String> = HashSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let mut errors = Vec::new();
        let external_id = match parse_external_id(&item.external_id, "externalId") {
            Ok(id) => Some(id),
            Err(err) => {
                errors.extend(field_errors(err)?);
                None
            }
        };
        if let Some(id) = &external_id
            && !seen.insert(id.clone())
        {
            errors.push(ItemError::invalid(FieldError {
                field: "externalId".to_owned(),
                message: format!("`{id}` appears more than once in `items`"),
            }));
        }
        let fields = match validate(
            item.kind,
            &item.name,
            item.local_name.as_deref(),
            item.acronym.as_deref(),
            item.country_code.as_deref(),
            item.website.as_deref(),
            item.contact_email.as_deref(),
        ) {
            Ok(fields) => Some(fields),
            Err(err) => {
                errors.extend(field_errors(err)?);
                None
            }
        };
        results.push(ItemResult {
            external_id: external_id.clone().unwrap_or(item.external_id),
            outcome: UpsertOutcome::Rejected,
            organization: None,
            errors,
        });
        if let (Some(external_id), Some(fields), true) =
            (external_id, fields, results[index].errors.is_empty())
        {
            checked.push(Checked {
                index,
                external_id,
                kind: item.kind,
                fields,
            });
        }
    }
    Ok((results, checked))
}

/// An item's refusal from the CONFLICT its write met, naming the field it clashes
/// on: `acronym` when the existing organization has the item's acronym, else
/// `name` (the same name in the same country).
async fn conflict_of(
    txn: &DatabaseTransaction,
    err: AppError,
    item: &Checked,
) -> AppResult<ItemError> {
    let existing = match &err {
        AppError::Conflict {
            existing: Some(existing),
            ..
        } => {
            organization::Entity::find_by_id(existing.id)
                .one(txn)
                .await?
        }
        _ => None,
    };
    let same_acronym = match (existing.and_then(|e| e.acronym), &item.fields.acronym) {
        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => false,
    };
    ItemError::from_conflict(err, if same_acronym { "acronym" } else { "name" })
}

/// The entries of `source` the items name, by external id (two statements).
async fn entries_of(
    txn: &DatabaseTransaction,
    source: &str,
    results: &[ItemResult],
) -> AppResult<HashMap<String, organization::Model>> {
    let mut by_org: HashMap<Uuid, String> = HashMap::new();
    // Stay far below the databases' bound-parameter limits.
    let wanted: Vec<&str> = results.iter().map(|r| r.external_id.as_str()).collect();
    for chunk in wanted.chunks(MAX_ITEMS) {
        for link in link_entity::Entity::find()
            .filter(link_entity::Column::Source.eq(source))
            .filter(link_entity::Column::ExternalId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
        {
            by_org.insert(link.organization_id, link.external_id);
        }
    }
    if by_org.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(by_org.keys().copied()))
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|org| by_org.remove(&org.id).map(|id| (id, org)))
        .collect())
}

/// Whether `org` already reads as `item` says (so the item writes nothing).
fn reads_as(org: &organization::Model, item: &Checked, aweb: bool) -> bool {
    let f = &item.fields;
    org.kind == item.kind
        && org.name == f.name
        && org.local_name == f.local_name
        && org.acronym == f.acronym
        && org.country_code == f.country_code
        && org.website == f.website
        && org.contact_email == f.contact_email
        && (!aweb || org.aweb_member)
}

/// An item to write: the organization as it will read, and as it read before
/// (none for a new entry).
struct Pending {
    item: Checked,
    row: organization::Model,
    before: Option<organization::Model>,
}

/// A new entry for `item`.
fn new_row(item: &Checked, aweb: bool, now: chrono::DateTime<Utc>) -> organization::Model {
    let f = item.fields.clone();
    organization::Model {
        id: Uuid::now_v7(),
        kind: item.kind,
        name: f.name,
        local_name: f.local_name,
        acronym: f.acronym,
        country_code: f.country_code,
        website: f.website,
        contact_email: f.contact_email,
        aweb_member: aweb,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// `current` changed as `item` says, at the next version.
fn changed_row(
    current: &organization::Model,
    item: &Checked,
    aweb: bool,
    now: chrono::DateTime<Utc>,
) -> organization::Model {
    let f = item.fields.clone();
    organization::Model {
        kind: item.kind,
        name: f.name,
        local_name: f.local_name,
        acronym: f.acronym,
        country_code: f.country_code,
        website: f.website,
        contact_email: f.contact_email,
        aweb_member: current.aweb_member || aweb,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    }
}

fn link_row(source: &str, p: &Pending) -> link_entity::ActiveModel {
    link_entity::ActiveModel {
        organization_id: Set(p.row.id),
        source: Set(source.to_owned()),
        external_id: Set(p.item.external_id.clone()),
        created_at: Set(p.row.created_at),
    }
}

/// Writes one changed entry, guarded by the version it was read at.
async fn update_row<C: ConnectionTrait>(db: &C, p: &Pending) -> Result<(), DbErr> {
    let before = p.before.as_ref().map_or(0, |b| b.version);
    let active: organization::ActiveModel = p.row.clone().into();
    organization::Entity::update(active.reset_all())
        .validate()?
        .filter(organization::Column::Version.eq(before))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether a write failed on something one item caused (a unique index, a
/// concurrent change), so that writing item by item tells which.
fn clash(err: &DbErr) -> bool {
    matches!(err, DbErr::RecordNotUpdated)
        || matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Writes every pending item inside one savepoint: the new entries and their
/// links in one statement each, the changed ones one by one. `false` (and
/// nothing written) when an item clashes.
async fn write_all(
    txn: &DatabaseTransaction,
    source: &str,
    pending: &[Pending],
) -> AppResult<bool> {
    if pending.is_empty() {
        return Ok(true);
    }
    let savepoint = txn.begin().await?;
    let written = async {
        let (created, updated): (Vec<&Pending>, Vec<&Pending>) =
            pending.iter().partition(|p| p.before.is_none());
        if !created.is_empty() {
            organization::Entity::insert_many(created.iter().map(|p| {
                let active: organization::ActiveModel = p.row.clone().into();
                active.reset_all()
            }))
            .exec_without_returning(&savepoint)
            .await?;
            link_entity::Entity::insert_many(created.iter().map(|p| link_row(source, p)))
                .exec_without_returning(&savepoint)
                .await?;
        }
        for p in updated {
            update_row(&savepoint, p).await?;
        }
        Ok::<_, DbErr>(())
    }
    .await;
    match written {
        Ok(()) => {
            savepoint.commit().await?;
            Ok(true)
        }
        Err(err) if clash(&err) => {
            savepoint.rollback().await?;
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// Writes one item inside its own savepoint. On a clash only this item is
/// rolled back, and it is refused with the organization it duplicates.
async fn write_one(
    txn: &DatabaseTransaction,
    source: &str,
    p: &Pending,
) -> AppResult<organization::Model> {
    let savepoint = txn.begin().await?;
    let written = async {
        match &p.before {
            None => {
                let active: organization::ActiveModel = p.row.clone().into();
                organization::Entity::insert(active.reset_all())
                    .exec_without_returning(&savepoint)
                    .await?;
                link_row(source, p).insert(&savepoint).await?;
            }
            Some(_) => update_row(&savepoint, p).await?,
        }
        Ok::<_, DbErr>(())
    }
    .await;
    let err = match written {
        Ok(()) => {
            savepoint.commit().await?;
            return Ok(p.row.clone());
        }
        Err(err) => {
            savepoint.rollback().await?;
            err
        }
    };
    if matches!(err, DbErr::RecordNotUpdated) {
        return Err(AppError::conflict(
            "the organization was changed by another request; send the item again",
        ));
    }
    if !clash(&err) {
        return Err(err.into());
    }
    let f = &p.item.fields;
    Err(duplicate_of(
        txn,
        p.before.as_ref().map(|b| b.id),
        &f.name,
        f.country_code.as_deref(),
        f.acronym.as_deref(),
    )
    .await?
    .unwrap_or_else(|| {
        AppError::conflict(
            "the external id was linked to another organization concurrently; send the item again",
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_codes_are_uppercase_letters_digits_and_dashes() {
        assert_eq!(parse_source("AWEB", "source").unwrap(), "AWEB");
        assert_eq!(parse_source(" aweb ", "source").unwrap(), "AWEB");
        assert_eq!(parse_source("UN-DPPA_2", "source").unwrap(), "UN-DPPA_2");
        for bad in ["", "A", "1AWEB", "A WEB", "AWEB!", "ÄWEB", &"A".repeat(21)] {
            assert!(parse_source(bad, "source").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn external_ids_are_one_trimmed_line() {
        assert_eq!(
            parse_external_id(" KR-001 ", "externalId").unwrap(),
            "KR-001"
        );
        assert!(parse_external_id("", "externalId").is_err());
        assert!(parse_external_id("a\nb", "externalId").is_err());
        assert!(parse_external_id(&"x".repeat(101), "externalId").is_err());
    }
}
