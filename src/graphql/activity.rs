//! GraphQL surface of the activity feed: `Event.activity` and
//! `Organization.activity` (see [`crate::service::activity`]).
//!
//! A page of activity costs a fixed number of queries whatever its size: the
//! page (one windowed query for every event of a page of events), its count when
//! asked, and through loaders the actors' organizations, the people the caller
//! may see and the targets, one query per kind of record.

use std::collections::HashMap;

use async_graphql::connection::PageInfo;
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Error, ID, InputObject, Object, Result, SimpleObject};
use uuid::Uuid;

use super::Node;
use super::application::Application;
use super::connection::DateTimeInput;
use super::context::{load_one, service};
use super::delegation::{Delegation, Participant};
use super::event::Event;
use super::ids::{self, NodeType};
use super::invitation::Invitation;
use super::loaders::{Cached, OrganizationLoader};
use super::nested;
use super::organization::Organization;
use super::person::Person;
use super::presentation::Presentation;
use super::scalars::IsoDateTime;
use super::session::Session;
use crate::entity::{audit_entry, person};
use crate::service::ServiceContext;
use crate::service::activity::{
    self, ActivityFilter as Filter, ActorKind, FieldValue, ReadableEvent, Target, TargetType,
};
use crate::service::pagination::{Page, PageRequest};

/// Narrows an activity feed; all given conditions must hold.
#[derive(InputObject, Default)]
#[graphql(name = "ActivityFilter")]
pub struct ActivityFilterInput {
    /// Only changes to these kinds of records.
    target_types: Option<Vec<TargetType>>,
    /// Only these actions, by the names `ActivityEntry.action` gives (e.g.
    /// `INVITATION_SENT`, `PARTICIPANT_ADDED`); an unknown name is a
    /// `BAD_USER_INPUT`.
    actions: Option<Vec<String>>,
    /// Only changes made strictly after this instant.
    since: Option<DateTimeInput>,
    /// Only changes made at or before this instant.
    until: Option<DateTimeInput>,
}

fn filter(input: Option<ActivityFilterInput>) -> Result<Filter, crate::error::AppError> {
    let input = input.unwrap_or_default();
    Ok(Filter {
        target_types: input.target_types,
        actions: input.actions,
        since: DateTimeInput::parse_optional(input.since, "filter.since")?,
        until: DateTimeInput::parse_optional(input.until, "filter.until")?,
    })
}

/// Whose feed a connection pages.
#[derive(Clone, Copy)]
enum Source {
    Event(ReadableEvent),
    Organization(Uuid),
}

/// A page of activity, newest first.
pub struct ActivityConnection {
    edges: Vec<ActivityEdge>,
    page_info: PageInfo,
    known_total: Option<u64>,
    source: Source,
    filter: Filter,
}

impl ActivityConnection {
    fn new(page: Page<audit_entry::Model>, source: Source, filter: Filter) -> Self {
        let (edges, page_info, known_total) =
            super::connection::edges_and_info(page, ActivityEntry);
        Self {
            edges: edges
                .into_iter()
                .map(|(cursor, node)| ActivityEdge { cursor, node })
                .collect(),
            page_info,
            known_total,
            source,
            filter,
        }
    }
}

/// A page of activity, newest first.
#[Object]
impl ActivityConnection {
    /// The entries of this page, each with its cursor.
    async fn edges(&self) -> &[ActivityEdge] {
        &self.edges
    }
    /// The entries of this page.
    async fn nodes(&self) -> Vec<&ActivityEntry> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Where this page is in the whole feed.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// How many entries match the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        if let Some(total) = self.known_total {
            return Ok(total);
        }
        match self.source {
            Source::Event(event) => {
                let key = Keyed::new(event, FilterKey(self.filter.clone()));
                Ok(keyed::<ActivityCounts>(ctx)?
                    .load_one(key)
                    .await?
                    .unwrap_or(0))
            }
            Source::Organization(id) => {
                Ok(activity::count_of_organization(service(ctx)?, id, &self.filter).await?)
            }
        }
    }
}

/// An activity entry in a page, with its cursor.
#[derive(SimpleObject)]
pub struct ActivityEdge {
    /// Opaque position of this entry, for `after` and `before`.
    cursor: String,
    /// The entry.
    node: ActivityEntry,
}

/// One change to an event, its participation or an organization: who did what
/// to which record, and the fields it changed, in the schema's own terms
/// (participants' personal data never shows).
pub struct ActivityEntry(audit_entry::Model);

/// One change to an event, its participation or an organization: who did what
/// to which record, and the fields it changed, in the schema's own terms
/// (participants' personal data never shows).
#[Object]
impl ActivityEntry {
    /// Global id of the entry (the same as the deprecated `auditLog` gives it).
    async fn id(&self) -> ID {
        ids::encode(NodeType::AuditEntry, self.0.id)
    }
    /// When the change was made.
    async fn occurred_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// What was done, in upper snake case: the names subscriptions and webhooks
    /// use (`INVITATION_SENT`, `APPLICATION_ACCEPTED`, `EVENT_RESCHEDULED`,
    /// `CO_HOST_ADDED`, `SESSION_CHANGED`, `DELEGATION_CONFIRMED`,
    /// `PARTICIPANT_ADDED`, `PRESENTATION_PROPOSED`, `PERSONAL_DATA_ERASED`, …,
    /// the full list is `webhookEventTypes`) and `PERSONAL_DATA_EXPORTED`,
    /// `PERSONAL_DATA_RETENTION_CHANGED`, `ORGANIZATION_CREATED`,
    /// `ORGANIZATION_UPDATED`. An invitation created already sent
    /// (`inviteOrganizations(send: true)`) is `INVITATION_CREATED` with `sentAt`
    /// among its changes.
    async fn action(&self) -> String {
        activity::action_name(&self.0.action)
    }
    /// Who made the change.
    async fn actor(&self) -> ActivityActor {
        ActivityActor(self.0.clone())
    }
    /// The type of the changed record, as the schema names it (`Invitation`,
    /// `Participant`, …); a co-host's addition or removal is a change of the
    /// `Event`.
    async fn target_type(&self) -> &str {
        &self.0.entity_type
    }
    /// Global id of the changed record (also when it has been removed since).
    async fn target_id(&self) -> ID {
        ID(super::global_id(&self.0.entity_type, self.0.entity_id))
    }
    /// The changed record as it is now; null when it has been removed since (a
    /// session, a participant) or the caller may no longer see it.
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<Node>> {
        let Some(target_type) = TargetType::of(&self.0.entity_type) else {
            return Ok(None);
        };
        let found = keyed::<TargetLoader>(ctx)?
            .load_one((target_type, self.0.entity_id))
            .await?;
        Ok(found.map(|target| match target {
            Target::Event(m) => Node::Event(Event(m)),
            Target::Session(m) => Node::Session(Session(m)),
            Target::Invitation(m) => Node::Invitation(Invitation(m)),
            Target::Application(m) => Node::Application(Application(m)),
            Target::Delegation(m) => Node::Delegation(Delegation(m)),
            Target::Participant(m) => Node::Participant(Participant(m)),
            Target::Presentation(m) => Node::Presentation(Presentation(m)),
            Target::Organization(m) => Node::Organization(Organization(m)),
        }))
    }
    /// The fields the change set, with their values before and after. A
    /// creation lists the fields it set, a removal those the record had. Empty
    /// for entries that change no field shown here (a personal-data export or
    /// erasure, whose data never shows).
    async fn changes(&self) -> Vec<ActivityFieldChange> {
        activity::changes(&self.0)
            .into_iter()
            .map(|c| ActivityFieldChange {
                field: c.field.to_owned(),
                before: c.before.map(api_text),
                after: c.after.map(api_text),
            })
            .collect()
    }
    /// The request that made the change, to find it in the server's logs.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
}

fn api_text(value: FieldValue) -> String {
    match value {
        FieldValue::Id(type_name, id) => super::global_id(type_name, id),
        FieldValue::Text(text) => text,
    }
}

/// One field a change set.
#[derive(SimpleObject)]
pub struct ActivityFieldChange {
    /// The field's name in the schema, on the target's type (`seatsOffered`,
    /// `status`, `head`; `coHosts` for a co-host added or removed,
    /// `personalDataRetentionDays` for `setPersonalDataRetention`'s `days`).
    field: String,
    /// The value before, as the API gives it: a global id for a reference, an
    /// enumeration's name, an ISO 8601 date or RFC 3339 instant, a number or
    /// boolean as text, a list as a JSON array; null when it was empty or the
    /// record did not exist.
    before: Option<String>,
    /// The value after, in the same form; null when it became empty or the
    /// record was removed.
    after: Option<String>,
}

/// Who made a change: an API client or a person, for an organization, or
/// embhub itself.
pub struct ActivityActor(audit_entry::Model);

/// Who made a change: an API client or a person, for an organization, or
/// embhub itself.
#[Object]
impl ActivityActor {
    /// An API client, a person, or the system.
    async fn kind(&self) -> ActorKind {
        activity::actor_kind(&self.0)
    }
    /// Global id of the API client; null for a person or the system.
    async fn client_id(&self) -> Option<ID> {
        self.0
            .actor_client_id
            .map(|id| ids::encode(NodeType::ApiClient, id))
    }
    /// Global id of the person; null for an API client or the system.
    async fn person_id(&self) -> Option<ID> {
        self.0
            .actor_person_id
            .map(|id| ID(super::global_id("Person", id)))
    }
    /// The person, when they belong to the caller's organization (another
    /// organization's staff show by their organization only).
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        let Some(id) = self.0.actor_person_id else {
            return Ok(None);
        };
        Ok(load_one::<PersonLoader, _>(ctx, id).await?.map(Person))
    }
    /// The organization the client or person acted for; null for the system.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        let Some(id) = self.0.actor_organization_id else {
            return Ok(None);
        };
        Ok(load_one::<OrganizationLoader, _>(ctx, id)
            .await?
            .map(Organization))
    }
}

/// `Event.activity`: null when the caller may not read it.
pub async fn of_event(
    ctx: &Context<'_>,
    event: &crate::entity::event::Model,
    page: PageRequest,
    filter_input: Option<ActivityFilterInput>,
) -> Result<Option<ActivityConnection>> {
    let Some(readable) = activity::readable(service(ctx)?, event).await? else {
        return Ok(None);
    };
    let filter = filter(filter_input)?;
    let key = Keyed::new(
        readable,
        PageKey {
            filter: filter.clone(),
            page,
        },
    );
    let page = keyed::<ActivityPages>(ctx)?
        .load_one(key)
        .await?
        .unwrap_or(Page {
            items: Vec::new(),
            has_previous_page: false,
            has_next_page: false,
            known_total: Some(0),
        });
    prime(ctx, &page).await?;
    Ok(Some(ActivityConnection::new(
        page,
        Source::Event(readable),
        filter,
    )))
}

/// Whether the entries' selection (under `nodes` or `edges { node }`) reaches
/// `path`.
fn wanted(ctx: &Context<'_>, path: &[&str]) -> bool {
    let look = ctx.look_ahead();
    [look.field("nodes"), look.field("edges").field("node")]
        .into_iter()
        .any(|node| path.iter().fold(node, |l, f| l.field(f)).exists())
}

/// Loads at once what the page's selection needs of its targets and actors, so
/// that the entries resolve from the loaders' cache: the same few queries for
/// any page size, never a batch window split in two.
async fn prime(ctx: &Context<'_>, page: &Page<audit_entry::Model>) -> Result<()> {
    let entries = || page.items.iter().map(|(_, e)| e);
    if wanted(ctx, &["target"]) {
        let keys: Vec<(TargetType, Uuid)> = entries()
            .filter_map(|e| Some((TargetType::of(&e.entity_type)?, e.entity_id)))
            .collect();
        keyed::<TargetLoader>(ctx)?.load_many(keys).await?;
    }
    if wanted(ctx, &["actor", "organization"]) {
        let ids: Vec<Uuid> = entries().filter_map(|e| e.actor_organization_id).collect();
        keyed::<OrganizationLoader>(ctx)?.load_many(ids).await?;
    }
    if wanted(ctx, &["actor", "person"]) {
        let ids: Vec<Uuid> = entries().filter_map(|e| e.actor_person_id).collect();
        keyed::<PersonLoader>(ctx)?.load_many(ids).await?;
    }
    Ok(())
}

/// `Organization.activity`: null unless the caller is an administrator.
pub async fn of_organization(
    ctx: &Context<'_>,
    organization_id: Uuid,
    page: PageRequest,
    filter_input: Option<ActivityFilterInput>,
) -> Result<Option<ActivityConnection>> {
    let filter = filter(filter_input)?;
    let Some(page) =
        activity::of_organization(service(ctx)?, organization_id, &filter, &page).await?
    else {
        return Ok(None);
    };
    prime(ctx, &page).await?;
    Ok(Some(ActivityConnection::new(
        page,
        Source::Organization(organization_id),
        filter,
    )))
}

/// A readable event and the arguments of its feed (see [`nested::Keyed`]).
type Keyed<A> = nested::Keyed<A, ReadableEvent>;

/// The arguments of one page of an event's feed.
#[derive(Debug)]
pub struct PageKey {
    filter: Filter,
    page: PageRequest,
}

/// The filter of an event's feed count.
#[derive(Debug)]
pub struct FilterKey(Filter);

/// Pages of the activity of events.
pub struct ActivityPages(ServiceContext);

impl Loader<Keyed<PageKey>> for ActivityPages {
    type Value = Page<audit_entry::Model>;
    type Error = Error;

    async fn load(
        &self,
        keys: &[Keyed<PageKey>],
    ) -> Result<HashMap<Keyed<PageKey>, Self::Value>, Error> {
        let mut out = HashMap::new();
        for (args, group, events) in nested::grouped(keys) {
            let mut pages =
                activity::pages_of_events(&self.0, &events, &args.filter, &args.page).await?;
            for key in group {
                if let Some(page) = pages.remove(&key.parent.id()) {
                    out.insert(key, page);
                }
            }
        }
        Ok(out)
    }
}

/// Counts of the activity of events.
pub struct ActivityCounts(ServiceContext);

impl Loader<Keyed<FilterKey>> for ActivityCounts {
    type Value = u64;
    type Error = Error;

    async fn load(
        &self,
        keys: &[Keyed<FilterKey>],
    ) -> Result<HashMap<Keyed<FilterKey>, u64>, Error> {
        let mut out = HashMap::new();
        for (filter, group, events) in nested::grouped(keys) {
            let counts = activity::counts_of_events(&self.0, &events, &filter.0).await?;
            for key in group {
                let n = counts.get(&key.parent.id()).copied().unwrap_or(0);
                out.insert(key, n);
            }
        }
        Ok(out)
    }
}

/// The records activity entries are about, by kind and id.
pub struct TargetLoader(ServiceContext);

impl Loader<(TargetType, Uuid)> for TargetLoader {
    type Value = Target;
    type Error = Error;

    async fn load(
        &self,
        keys: &[(TargetType, Uuid)],
    ) -> Result<HashMap<(TargetType, Uuid), Target>, Error> {
        Ok(activity::targets(&self.0, keys).await?)
    }
}

/// The actors the caller may see by name.
pub struct PersonLoader(ServiceContext);

impl Loader<Uuid> for PersonLoader {
    type Value = person::Model;
    type Error = Error;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, person::Model>, Error> {
        Ok(activity::visible_people(&self.0, keys)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect())
    }
}

/// The request's loader of type `L` (keyed by anything, unlike
/// [`super::context::loader`]).
fn keyed<'a, L: Send + Sync + 'static>(ctx: &Context<'a>) -> Result<&'a Cached<L>> {
    ctx.data::<Cached<L>>().map_err(|_| {
        crate::error::AppError::internal(anyhow::anyhow!("loader missing from request")).into()
    })
}

/// Adds the activity loaders to a request (see [`super::loaders::attach`]).
pub fn attach(
    request: async_graphql::Request,
    cx: &ServiceContext,
    window: std::time::Duration,
    cache: bool,
) -> async_graphql::Request {
    use super::loaders::batched;
    request
        .data(batched(ActivityPages(cx.clone()), window, cache))
        .data(batched(ActivityCounts(cx.clone()), window, cache))
        .data(batched(TargetLoader(cx.clone()), window, cache))
        .data(batched(PersonLoader(cx.clone()), window, cache))
}
