//! Calendar feeds: an organization's events as an iCalendar (RFC 5545) document
//! behind a secret, revocable URL that calendar apps poll without a token.
//!
//! A feed holds the events the organization hosts, co-hosts, is invited to
//! (SENT or ACCEPTED) or has a delegation at, never drafts, each with its
//! sessions. Event dates are all-day dates (the event's own calendar days);
//! session times are UTC, so no VTIMEZONE is needed. STATUS follows the event's
//! status and date status; SEQUENCE is derived from the records' versions, so it
//! grows whenever an event (or session) changes, dates included; UIDs are the
//! records' ids. No personal data: no participant, no person, no contact.
//!
//! Only a SHA-256 of a feed's token is stored: the URL is shown once, at
//! creation, and a database dump reveals no live URL.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Days, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus as IcalStatus, Property};
use rand::RngCore;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ServiceContext, audit};
use crate::domain::{BoundedText, DateStatus, DelegationStatus, EventStatus, InvitationStatus};
use crate::entity::calendar_feed::{ActiveModel, Column, Entity, Model};
use crate::entity::{delegation, event, event_co_host, invitation, organization, session};
use crate::error::{AppError, AppResult};

/// Longest label.
const LABEL_MAX: usize = 200;
/// Most live feeds per organization.
const FEEDS_MAX: u64 = 50;

/// A new feed and the token of its URL, shown this once.
pub struct CreatedFeed {
    pub feed: Model,
    pub token: String,
}

impl CreatedFeed {
    /// The feed's path on this server: `/calendar/<token>.ics`.
    pub fn path(&self) -> String {
        format!("/calendar/{}.ics", self.token)
    }
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ensure_may_manage(cx: &ServiceContext) -> AppResult<()> {
    if cx.caller().acts_as_partner() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "calendar feeds are managed by the organization's COORDINATOR or PARTNER",
        ))
    }
}

async fn record(
    txn: &sea_orm::DatabaseTransaction,
    cx: &ServiceContext,
    action: &str,
    before: Option<&Model>,
    after: Option<&Model>,
    id: Uuid,
) -> AppResult<()> {
    audit::record_change(txn, cx, action, "CalendarFeed", id, before, after).await
}

/// Creates a feed of the caller's organization.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id))]
pub async fn create(cx: &ServiceContext, label: Option<&str>) -> AppResult<CreatedFeed> {
    ensure_may_manage(cx)?;
    let label = BoundedText::parse_optional(label, "label", LABEL_MAX)?;
    let txn = cx.begin_write().await?;
    let live = Entity::find()
        .filter(Column::OrganizationId.eq(cx.caller().organization_id))
        .filter(Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if live >= FEEDS_MAX {
        return Err(AppError::conflict(format!(
            "an organization may have at most {FEEDS_MAX} calendar feeds; revoke one first"
        )));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let feed = ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(cx.caller().organization_id),
        token_hash: Set(hash(&token)),
        label: Set(label),
        created_by_client_id: Set(cx.caller().api_client_id()),
        created_by_person_id: Set(cx.caller().person_id),
        revoked_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    record(&txn, cx, "calendar_feed.create", None, Some(&feed), feed.id).await?;
    cx.commit(txn).await?;
    Ok(CreatedFeed { feed, token })
}

/// Revokes one of the caller organization's feeds: its URL answers 404 from
/// now on. Revoking a revoked feed returns it unchanged.
#[tracing::instrument(skip_all, fields(caller = %cx.caller().client_id, %id))]
pub async fn revoke(cx: &ServiceContext, id: Uuid) -> AppResult<Model> {
    ensure_may_manage(cx)?;
    let txn = cx.begin_write().await?;
    let feed = Entity::find_by_id(id)
        .filter(Column::OrganizationId.eq(cx.caller().organization_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound {
            entity: "calendar feed",
        })?;
    if feed.revoked_at.is_some() {
        return Ok(feed);
    }
    let mut active: ActiveModel = feed.clone().into();
    active.revoked_at = Set(Some(Utc::now()));
    let revoked = active.update(&txn).await?;
    record(
        &txn,
        cx,
        "calendar_feed.revoke",
        Some(&feed),
        Some(&revoked),
        id,
    )
    .await?;
    cx.commit(txn).await?;
    Ok(revoked)
}

/// The caller organization's feeds, newest first (revoked ones included).
pub async fn list(cx: &ServiceContext) -> AppResult<Vec<Model>> {
    ensure_may_manage(cx)?;
    Ok(Entity::find()
        .filter(Column::OrganizationId.eq(cx.caller().organization_id))
        .order_by_desc(Column::CreatedAt)
        .all(&cx.db)
        .await?)
}

/// A rendered feed and its entity tag.
pub struct Rendered {
    pub body: String,
    /// A strong validator: the body's SHA-256, quoted.
    pub etag: String,
}

/// The feed behind `token`, or `None` for an unknown or revoked one (both look
/// the same to the caller: 404).
#[tracing::instrument(skip_all)]
pub async fn render(db: &DatabaseConnection, token: &str) -> AppResult<Option<Rendered>> {
    let Some(feed) = Entity::find()
        .filter(Column::TokenHash.eq(hash(token)))
        .filter(Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(organization) = organization::Entity::find_by_id(feed.organization_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let events = events_of(db, organization.id).await?;
    let event_ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let mut sessions: HashMap<Uuid, Vec<session::Model>> = HashMap::new();
    if !event_ids.is_empty() {
        for s in session::Entity::find()
            .filter(session::Column::EventId.is_in(event_ids))
            .order_by_asc(session::Column::StartsAt)
            .order_by_asc(session::Column::Id)
            .all(db)
            .await?
        {
            sessions.entry(s.event_id).or_default().push(s);
        }
    }
    let body = calendar(&organization, &events, &sessions).to_string();
    let etag = format!("\"{}\"", hash(&body));
    Ok(Some(Rendered { body, etag }))
}

/// The non-draft events `organization_id` hosts, co-hosts, is invited to (SENT
/// or ACCEPTED) or has a live delegation at, by start date.
async fn events_of(db: &DatabaseConnection, organization_id: Uuid) -> AppResult<Vec<event::Model>> {
    let mut ids: BTreeSet<Uuid> = BTreeSet::new();
    ids.extend(
        event_co_host::Entity::find()
            .filter(event_co_host::Column::OrganizationId.eq(organization_id))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.event_id),
    );
    ids.extend(
        invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(organization_id))
            .filter(
                invitation::Column::Status
                    .is_in([InvitationStatus::Sent, InvitationStatus::Accepted]),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|i| i.event_id),
    );
    ids.extend(
        delegation::Entity::find()
            .filter(delegation::Column::OrganizationId.eq(organization_id))
            .filter(delegation::Column::Status.ne(DelegationStatus::Cancelled))
            .all(db)
            .await?
            .into_iter()
            .map(|d| d.event_id),
    );
    let related = sea_orm::Condition::any()
        .add(event::Column::HostOrganizationId.eq(organization_id))
        .add(event::Column::Id.is_in(ids));
    Ok(event::Entity::find()
        .filter(related)
        .filter(event::Column::Status.ne(EventStatus::Draft))
        .order_by_asc(event::Column::StartDate)
        .order_by_asc(event::Column::Id)
        .all(db)
        .await?)
}

/// RFC 5545 STATUS of an event: cancelled, confirmed dates, or tentative.
fn status(event: &event::Model) -> IcalStatus {
    match (event.status, event.date_status) {
        (EventStatus::Cancelled, _) => IcalStatus::Cancelled,
        (EventStatus::Postponed, _) => IcalStatus::Tentative,
        (_, DateStatus::Confirmed) => IcalStatus::Confirmed,
        (_, DateStatus::Tentative | DateStatus::ToBeConfirmed) => IcalStatus::Tentative,
    }
}

fn sequence(version: i32) -> u32 {
    u32::try_from(version.saturating_sub(1)).unwrap_or(0)
}

/// The iCalendar document. DTSTAMP is each record's last change, not the time
/// of the request, so an unchanged feed renders byte for byte the same and its
/// ETag holds.
fn calendar(
    organization: &organization::Model,
    events: &[event::Model],
    sessions: &HashMap<Uuid, Vec<session::Model>>,
) -> Calendar {
    let mut calendar = Calendar {
        properties: vec![
            Property::new("VERSION", "2.0"),
            Property::new("PRODID", "-//embhub//calendar feed//EN"),
            Property::new("CALSCALE", "GREGORIAN"),
            Property::new("METHOD", "PUBLISH"),
        ],
        components: Vec::new(),
    };
    calendar.name(&format!("{} — events (embhub)", organization.name));
    // RFC 7986: how often a calendar app should poll.
    let mut refresh = Property::new("REFRESH-INTERVAL", "PT1H");
    refresh.add_parameter("VALUE", "DURATION");
    calendar.append_property(refresh);
    for event in events {
        let mut entry = icalendar::Event::new();
        let location: Vec<&str> = [
            event.venue.as_deref(),
            event.city.as_deref(),
            event.country_code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        entry
            .uid(&format!("event-{}@embhub", event.id))
            .timestamp(event.updated_at)
            .last_modified(event.updated_at)
            .summary(&event.title)
            .starts(event.start_date)
            // DTEND of an all-day event is exclusive: the day after the last.
            .ends(
                event
                    .end_date
                    .checked_add_days(Days::new(1))
                    .unwrap_or(event.end_date),
            )
            .status(status(event))
            .sequence(sequence(event.version))
            .add_property("CATEGORIES", event.kind.to_value());
        if let Some(description) = &event.description {
            entry.description(description);
        }
        if !location.is_empty() {
            entry.location(&location.join(", "));
        }
        calendar.push(entry.done());
        for s in sessions.get(&event.id).into_iter().flatten() {
            let mut item = icalendar::Event::new();
            item.uid(&format!("session-{}@embhub", s.id))
                .timestamp(s.updated_at.max(event.updated_at))
                .last_modified(s.updated_at)
                .summary(&format!("{}: {}", event.title, s.title))
                .starts(s.starts_at)
                .ends(s.ends_at)
                .status(status(event))
                // The event's changes (cancelled, say) change its sessions too.
                .sequence(sequence(s.version) + sequence(event.version))
                .add_property("CATEGORIES", s.kind.to_value())
                .add_property("RELATED-TO", format!("event-{}@embhub", event.id));
            if let Some(location) = &s.location {
                item.location(location);
            }
            if let Some(topic) = &s.topic {
                item.description(topic);
            }
            calendar.push(item.done());
        }
    }
    calendar.done()
}
