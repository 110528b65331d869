//! The organization directory: EMBs and partner bodies.
//!
//! Every authenticated client may read the directory (partners need it to know who
//! invites them); administrators change it, and a source's steward keeps the
//! entries of its source in sync (`service::directory`).

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Select, Set,
};
use uuid::Uuid;

use super::pagination::{
    Ordering, Page, PageArgs, PageRequest, ParseValueFn, SortDirection, SortKey, SortValueFn,
    fetch_page, parse_text, parse_timestamp, timestamp_text,
};
use super::{Patch, ServiceContext, audit, search};
use crate::domain::{CountryCode, EmailAddress, Name, OrganizationKind, WebUrl, parse_optional};
use crate::entity::organization::{ActiveModel, Column, Entity, Model};
use crate::error::{AppError, AppResult, ExistingRecord, InputErrors};

const NAME_MAX: usize = 200;
const ACRONYM_MAX: usize = 30;

/// Which organizations a list shows.
#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub kinds: Option<Vec<OrganizationKind>>,
    pub country_code: Option<String>,
    pub aweb_member: Option<bool>,
    /// Case-insensitive match on name, local name or acronym.
    pub search: Option<String>,
    /// Only organizations changed after this instant.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only organizations with an external id of this directory source.
    pub source: Option<String>,
}

/// How organization lists sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum OrganizationSortField {
    /// By name.
    Name,
    /// By when the organization was added.
    CreatedAt,
    /// By when the directory entry last changed (to catch up with `updatedSince`).
    UpdatedAt,
}

/// New organization, as entered.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub kind: OrganizationKind,
    pub name: String,
    pub local_name: Option<String>,
    pub acronym: Option<String>,
    pub country_code: Option<String>,
    pub website: Option<String>,
    pub contact_email: Option<String>,
}

/// Changes to an organization; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct OrganizationChanges {
    pub expected_version: Option<i32>,
    pub kind: Option<OrganizationKind>,
    pub name: Option<String>,
    pub local_name: Patch<String>,
    pub acronym: Patch<String>,
    pub country_code: Patch<String>,
    pub website: Patch<String>,
    pub contact_email: Patch<String>,
}

fn require_admin(cx: &ServiceContext) -> AppResult<()> {
    if cx.caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only administrators manage the organization directory",
        ))
    }
}

/// The organization that a new or changed entry would duplicate: the same name
/// in the same country (international bodies among themselves), or the same
/// acronym, both case-insensitively; `except` is the entry being changed.
pub(super) async fn duplicate_of<C: ConnectionTrait>(
    db: &C,
    except: Option<Uuid>,
    name: &str,
    country_code: Option<&str>,
    acronym: Option<&str>,
) -> AppResult<Option<AppError>> {
    let lower = |column: Column| Expr::expr(Func::lower(Expr::col((Entity, column))));
    let same_name = Condition::all()
        .add(
            Expr::expr(Func::coalesce([
                Expr::col((Entity, Column::CountryCode)),
                Expr::val(""),
            ]))
            .eq(country_code.unwrap_or("")),
        )
        .add(lower(Column::Name).eq(Expr::expr(Func::lower(Expr::val(name)))));
    let mut clash = Condition::any().add(same_name);
    if let Some(acronym) = acronym {
        clash = clash.add(lower(Column::Acronym).eq(Expr::expr(Func::lower(Expr::val(acronym)))));
    }
    let mut query = Entity::find().filter(clash);
    if let Some(id) = except {
        query = query.filter(Column::Id.ne(id));
    }
    let Some(existing) = query.one(db).await? else {
        return Ok(None);
    };
    let record = ExistingRecord {
        type_name: "Organization",
        id: existing.id,
    };
    let same_acronym = match (acronym, existing.acronym.as_deref()) {
        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => false,
    };
    let message = if same_acronym {
        format!(
            "the acronym `{}` is already used by `{}`",
            existing.acronym.as_deref().unwrap_or_default(),
            existing.name
        )
    } else {
        match country_code {
            Some(country) => {
                format!("an organization named `{name}` already exists in {country}")
            }
            None => format!("an international organization named `{name}` already exists"),
        }
    };
    Ok(Some(AppError::duplicate(message, record)))
}

/// Maps a failed write: a unique-constraint race (another request created the
/// duplicate after our check) becomes the same CONFLICT the check gives.
async fn duplicate_after_write(
    cx: &ServiceContext,
    err: sea_orm::DbErr,
    except: Option<Uuid>,
    valid: &ValidOrganization,
) -> AppError {
    let is_unique = matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    );
    if !is_unique {
        return AppError::from_write(err, || AppError::conflict("the organization changed"));
    }
    match duplicate_of(
        &cx.db,
        except,
        &valid.name,
        valid.country_code.as_deref(),
        valid.acronym.as_deref(),
    )
    .await
    {
        Ok(Some(duplicate)) => duplicate,
        Ok(None) => AppError::conflict("a duplicate organization was created concurrently; retry"),
        Err(err) => err,
    }
}

/// Reads one organization.
pub async fn get(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    Entity::find_by_id(id)
        .one(&cx.db)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })
}

/// Reads many organizations at once (for loaders); missing ids are skipped.
pub async fn get_many(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(&cx.db)
        .await?)
}

fn filtered(filter: &OrganizationFilter) -> AppResult<Select<Entity>> {
    let mut select =
        super::lists::changed_since(Entity::find(), Column::UpdatedAt, filter.updated_since);
    if let Some(kinds) = &filter.kinds {
        select = select.filter(Column::Kind.is_in(kinds.iter().copied()));
    }
    if let Some(country) = &filter.country_code {
        let country = CountryCode::parse(country, "filter.countryCode")?;
        select = select.filter(Column::CountryCode.eq(country.into_inner()));
    }
    if let Some(member) = filter.aweb_member {
        select = select.filter(Column::AwebMember.eq(member));
    }
    if let Some(source) = &filter.source {
        let source = super::directory::parse_source(source, "filter.source")?;
        select = select.filter(Column::Id.in_subquery(super::directory::linked_to(&source)));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = search::contains_pattern(search);
        select = select.filter(
            Condition::any()
                .add(search::lower_like(Column::Name, &pattern))
                .add(search::lower_like(Column::LocalName, &pattern))
                .add(search::lower_like(Column::Acronym, &pattern)),
        );
    }
    Ok(select)
}

fn ordering(field: OrganizationSortField, direction: SortDirection) -> Ordering<Entity> {
    let (column, sort_value, parse_value): (Column, SortValueFn<Model>, ParseValueFn) = match field
    {
        OrganizationSortField::Name => (Column::Name, |m| m.name.clone(), parse_text),
        OrganizationSortField::CreatedAt => (
            Column::CreatedAt,
            |m| timestamp_text(&m.created_at),
            parse_timestamp,
        ),
        OrganizationSortField::UpdatedAt => (
            Column::UpdatedAt,
            |m| timestamp_text(&m.updated_at),
            parse_timestamp,
        ),
    };
    Ordering {
        name: format!("organizations:{field:?}:{direction:?}"),
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

/// One page of the directory.
pub async fn list(
    cx: &ServiceContext,
    filter: &OrganizationFilter,
    sort: (OrganizationSortField, SortDirection),
    page: &PageRequest,
) -> AppResult<Page<Model>> {
    let ordering = ordering(sort.0, sort.1);
    let args = PageArgs::parse(page, &ordering.name)?;
    fetch_page(&cx.db, filtered(filter)?, &ordering, &args).await
}

/// How many organizations match `filter`.
pub async fn count(cx: &ServiceContext, filter: &OrganizationFilter) -> AppResult<u64> {
    Ok(filtered(filter)?.count(&cx.db).await?)
}

/// A directory entry's fields, validated and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ValidOrganization {
    pub(super) name: String,
    pub(super) local_name: Option<String>,
    pub(super) acronym: Option<String>,
    pub(super) country_code: Option<String>,
    pub(super) website: Option<String>,
    pub(super) contact_email: Option<String>,
}

/// Checks every field of an entry (API field names), reporting all invalid ones.
pub(super) fn validate(
    kind: OrganizationKind,
    name: &str,
    local_name: Option<&str>,
    acronym: Option<&str>,
    country_code: Option<&str>,
    website: Option<&str>,
    contact_email: Option<&str>,
) -> AppResult<ValidOrganization> {
    let mut errors = InputErrors::default();
    let country_code = parse_optional(country_code, |c| {
        CountryCode::parse(c, "countryCode").map(CountryCode::into_inner)
    });
    let country_refused = country_code.is_err();
    let country_code = errors.check(country_code).flatten();
    if kind == OrganizationKind::ElectionManagementBody
        && country_code.is_none()
        && !country_refused
    {
        errors.add(
            "countryCode",
            "an election management body needs the country it serves",
        );
    }
    let name = errors.check(Name::parse(name, "name", NAME_MAX));
    let local_name = errors
        .check(Name::parse_optional(local_name, "localName", NAME_MAX))
        .flatten();
    let acronym = errors
        .check(Name::parse_optional(acronym, "acronym", ACRONYM_MAX))
        .flatten();
    let website = errors
        .check(parse_optional(website, |w| {
            WebUrl::parse(w, "website").map(WebUrl::into_inner)
        }))
        .flatten();
    let contact_email = errors
        .check(parse_optional(contact_email, |e| {
            EmailAddress::parse(e, "contactEmail").map(EmailAddress::into_inner)
        }))
        .flatten();
    let Some(name) = name else {
        return Err(errors.fail());
    };
    errors.finish()?;
    Ok(ValidOrganization {
        name: name.into_inner(),
        local_name,
        acronym,
        country_code,
        website,
        contact_email,
    })
}

/// Adds an organization to the directory (administrators only).
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id))]
pub async fn create(cx: &ServiceContext, input: NewOrganization) -> AppResult<Model> {
    require_admin(cx)?;
    let valid = validate(
        input.kind,
        &input.name,
        input.local_name.as_deref(),
        input.acronym.as_deref(),
        input.country_code.as_deref(),
        input.website.as_deref(),
        input.contact_email.as_deref(),
    )?;
    let now = Utc::now();
    let txn = cx.begin_write().await?;
    if let Some(duplicate) = duplicate_of(
        &txn,
        None,
        &valid.name,
        valid.country_code.as_deref(),
        valid.acronym.as_deref(),
    )
    .await?
    {
        return Err(duplicate);
    }
    let inserted = ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(input.kind),
        name: Set(valid.name.clone()),
        local_name: Set(valid.local_name.clone()),
        acronym: Set(valid.acronym.clone()),
        country_code: Set(valid.country_code.clone()),
        website: Set(valid.website.clone()),
        contact_email: Set(valid.contact_email.clone()),
        // A-WEB membership is the AWEB source's to set (see `service::directory`).
        aweb_member: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        Err(err) => {
            drop(txn);
            return Err(duplicate_after_write(cx, err, None, &valid).await);
        }
    };
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "organization.create",
            entity_type: "Organization",
            entity_id: created.id,
            before: None,
            after: audit::snapshot(&created),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(created)
}

/// Changes an organization (administrators only), guarded by `expected_version`.
#[tracing::instrument(skip_all, fields(caller = %cx.caller.client_id, %id))]
pub async fn update(
    cx: &ServiceContext,
    id: Uuid,
    changes: OrganizationChanges,
) -> AppResult<Model> {
    require_admin(cx)?;
    let txn = cx.begin_write().await?;
    let current = Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "organization",
        })?;
    super::check_version(changes.expected_version, current.version)?;

    let pick = |patch: &Patch<String>, old: &Option<String>| match patch {
        Some(new) => new.clone(),
        None => old.clone(),
    };
    let kind = changes.kind.unwrap_or(current.kind);
    let name = changes.name.clone().unwrap_or_else(|| current.name.clone());
    let valid = validate(
        kind,
        &name,
        pick(&changes.local_name, &current.local_name).as_deref(),
        pick(&changes.acronym, &current.acronym).as_deref(),
        pick(&changes.country_code, &current.country_code).as_deref(),
        pick(&changes.website, &current.website).as_deref(),
        pick(&changes.contact_email, &current.contact_email).as_deref(),
    )?;

    if let Some(duplicate) = duplicate_of(
        &txn,
        Some(id),
        &valid.name,
        valid.country_code.as_deref(),
        valid.acronym.as_deref(),
    )
    .await?
    {
        return Err(duplicate);
    }
    let mut active: ActiveModel = current.clone().into();
    active.kind = Set(kind);
    active.name = Set(valid.name.clone());
    active.local_name = Set(valid.local_name.clone());
    active.acronym = Set(valid.acronym.clone());
    active.country_code = Set(valid.country_code.clone());
    active.website = Set(valid.website.clone());
    active.contact_email = Set(valid.contact_email.clone());
    active.version = Set(current.version + 1);
    active.updated_at = Set(Utc::now());
    let written = Entity::update(active)
        .validate()?
        .filter(Column::Version.eq(current.version))
        .exec(&txn)
        .await;
    let updated = match written {
        Ok(updated) => updated,
        Err(err) => {
            drop(txn);
            return Err(duplicate_after_write(cx, err, Some(id), &valid).await);
        }
    };
    audit::record(
        &txn,
        cx,
        audit::Change {
            action: "organization.update",
            entity_type: "Organization",
            entity_id: id,
            before: audit::snapshot(&current),
            after: audit::snapshot(&updated),
            event_id: None,
        },
    )
    .await?;
    cx.commit(txn).await?;
    Ok(updated)
}
