//! GraphQL surface of calendar feeds. Access and rules are in
//! [`crate::service::calendar`].

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use super::context::service;
use crate::entity::calendar_feed;
use crate::error::AppError;
use crate::service::calendar;

const TYPE_NAME: &str = "CalendarFeed";

fn decode(raw: &ID, field: &str) -> Result<Uuid, AppError> {
    let invalid = || AppError::invalid(field, "expected the id of a CalendarFeed");
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let uuid = text.strip_prefix("CalendarFeed:").ok_or_else(invalid)?;
    Uuid::parse_str(uuid).map_err(|_| invalid())
}

/// A secret iCalendar URL of an organization's events, which calendar apps poll
/// without a token. Its URL is shown only when it is created.
pub struct CalendarFeed(pub calendar_feed::Model);

/// A secret iCalendar URL of an organization's events, which calendar apps poll
/// without a token. Its URL is shown only when it is created.
#[Object]
impl CalendarFeed {
    /// Global id.
    async fn id(&self) -> ID {
        ID(super::global_id(TYPE_NAME, self.0.id))
    }
    /// What the feed is for (which app or team uses it).
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// When it was created.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When it was revoked; its URL answers 404 since. Null while it works.
    async fn revoked_at(&self) -> Option<IsoDateTime> {
        self.0.revoked_at.map(IsoDateTime)
    }
}

/// Input of `createCalendarFeed`.
#[derive(InputObject)]
pub struct CreateCalendarFeedInput {
    /// What the feed is for (up to 200 characters).
    label: Option<String>,
}

/// Result of `createCalendarFeed`.
#[derive(SimpleObject)]
pub struct CreateCalendarFeedPayload {
    /// The new feed.
    feed: CalendarFeed,
    /// The feed's secret path on this server, `/calendar/<token>.ics`: prefix it
    /// with the server's address and give it to the calendar app. Shown only
    /// this once; whoever has it can read the feed until it is revoked.
    url: String,
}

/// Input of `revokeCalendarFeed`.
#[derive(InputObject)]
pub struct RevokeCalendarFeedInput {
    /// The feed.
    id: ID,
}

/// Result of `revokeCalendarFeed`.
#[derive(SimpleObject)]
pub struct RevokeCalendarFeedPayload {
    /// The revoked feed.
    feed: CalendarFeed,
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The caller organization's calendar feeds, newest first (COORDINATOR or
    /// PARTNER).
    async fn calendar_feeds(&self, ctx: &Context<'_>) -> Result<Vec<CalendarFeed>> {
        Ok(calendar::list(service(ctx)?)
            .await?
            .into_iter()
            .map(CalendarFeed)
            .collect())
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Creates a calendar feed of the caller's organization: the events it hosts,
    /// co-hosts, is invited to or has a delegation at, with their sessions
    /// (COORDINATOR or PARTNER).
    async fn create_calendar_feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The feed's label.")] input: CreateCalendarFeedInput,
    ) -> Result<CreateCalendarFeedPayload> {
        let created = calendar::create(service(ctx)?, input.label.as_deref()).await?;
        Ok(CreateCalendarFeedPayload {
            url: created.path(),
            feed: CalendarFeed(created.feed),
        })
    }

    /// Revokes a calendar feed: its URL answers 404 from now on.
    async fn revoke_calendar_feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The feed.")] input: RevokeCalendarFeedInput,
    ) -> Result<RevokeCalendarFeedPayload> {
        let id = decode(&input.id, "id")?;
        let feed = calendar::revoke(service(ctx)?, id).await?;
        Ok(RevokeCalendarFeedPayload {
            feed: CalendarFeed(feed),
        })
    }
}
