//! The activity feed: an event's (or an organization's) audited changes in API
//! form, newest first.
//!
//! The audit log stores what the database held (snake_case columns, bare UUIDs)
//! one record at a time. A console showing an event wants every change that
//! touches it — the event, its sessions and co-hosts, invitations, applications,
//! delegations, participants and presentations — in the schema's own words. Each
//! audit entry carries the event it belongs to (`audit_entries.event_id`, stored
//! when the change is recorded, see [`super::audit::event_of_change`]), so an
//! event's page is one index range scan and a page of events one windowed query.
//!
//! What a change shows is an allow-list per record type ([`FIELDS`]): API field
//! names, ids as references to the record they name, enumerations as the schema
//! spells them. Participants' personal data (nationality, date of birth, passport,
//! dietary and accessibility needs, email) is not in the list, so it never shows,
//! whatever a snapshot holds; a column added later shows only once it is mapped.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};
use serde_json::Value;
use uuid::Uuid;

use super::pagination::{Page, PageArgs, PageRequest, SortDirection};
use super::{ServiceContext, access};
use crate::entity::{
    application, audit_entry, delegation, event, invitation, organization, participant, person,
    presentation, session,
};
use crate::error::{AppError, AppResult};

/// The kind of record an activity entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "ActivityTargetType")]
pub enum TargetType {
    /// The event itself (also its co-hosts and personal-data retention).
    Event,
    /// A session of its agenda.
    Session,
    /// An invitation.
    Invitation,
    /// An application.
    Application,
    /// A delegation.
    Delegation,
    /// A member of a delegation.
    Participant,
    /// A presentation proposed for a session.
    Presentation,
    /// An organization's directory entry.
    Organization,
}

impl TargetType {
    /// The record type's name, as audit entries and the schema spell it.
    pub fn name(self) -> &'static str {
        match self {
            TargetType::Event => "Event",
            TargetType::Session => "Session",
            TargetType::Invitation => "Invitation",
            TargetType::Application => "Application",
            TargetType::Delegation => "Delegation",
            TargetType::Participant => "Participant",
            TargetType::Presentation => "Presentation",
            TargetType::Organization => "Organization",
        }
    }

    /// The target type of an audit entry's `entity_type`, if the feed shows it.
    pub fn of(entity_type: &str) -> Option<Self> {
        ALL_TARGETS.into_iter().find(|t| t.name() == entity_type)
    }
}

const ALL_TARGETS: [TargetType; 8] = [
    TargetType::Event,
    TargetType::Session,
    TargetType::Invitation,
    TargetType::Application,
    TargetType::Delegation,
    TargetType::Participant,
    TargetType::Presentation,
    TargetType::Organization,
];

/// Audit actions the change feed does not announce, with their feed names.
const QUIET_ACTIONS: &[(&str, &str)] = &[
    (
        "event.set_personal_data_retention",
        "PERSONAL_DATA_RETENTION_CHANGED",
    ),
    ("participant.export_personal_data", "PERSONAL_DATA_EXPORTED"),
    ("organization.create", "ORGANIZATION_CREATED"),
    ("organization.update", "ORGANIZATION_UPDATED"),
];

/// The public name of a stored audit action: the change feed's name (the same as
/// subscriptions and webhooks use), or the action in upper snake case.
pub fn action_name(action: &str) -> String {
    if let Some((kind, _)) = super::changes::kind_of(action) {
        return kind.to_owned();
    }
    if let Some((_, name)) = QUIET_ACTIONS.iter().find(|(a, _)| *a == action) {
        return (*name).to_owned();
    }
    action.replace('.', "_").to_uppercase()
}

/// Every public action name the feed knows, sorted.
pub fn action_names() -> Vec<&'static str> {
    let mut names = super::changes::kind_names();
    names.extend(QUIET_ACTIONS.iter().map(|(_, name)| *name));
    names.sort_unstable();
    names.dedup();
    names
}

/// The stored actions behind public `name`s; `BAD_USER_INPUT` on `field` for a
/// name the feed does not know.
fn stored_actions(names: &[String], field: &str) -> AppResult<Vec<&'static str>> {
    let mut stored = Vec::new();
    for name in names {
        let before = stored.len();
        stored.extend(
            super::changes::KINDS
                .iter()
                .filter(|(_, kind, _)| kind == name)
                .map(|(action, _, _)| *action),
        );
        stored.extend(
            QUIET_ACTIONS
                .iter()
                .filter(|(_, n)| n == name)
                .map(|(action, _)| *action),
        );
        if stored.len() == before {
            return Err(AppError::invalid(
                field,
                format!("`{name}` is not an activity action; see ActivityEntry.action"),
            ));
        }
    }
    Ok(stored)
}

/// Which entries to show.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Only changes to these kinds of records.
    pub target_types: Option<Vec<TargetType>>,
    /// Only these actions (public names, e.g. `INVITATION_SENT`).
    pub actions: Option<Vec<String>>,
    /// Only changes made strictly after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only changes made at or before this instant.
    pub until: Option<DateTime<Utc>>,
}

fn narrow(
    mut select: Select<audit_entry::Entity>,
    filter: &ActivityFilter,
) -> AppResult<Select<audit_entry::Entity>> {
    use audit_entry::Column;
    if let Some(types) = &filter.target_types {
        select = select.filter(Column::EntityType.is_in(types.iter().map(|t| t.name())));
    }
    if let Some(names) = &filter.actions {
        let actions = stored_actions(names, "filter.actions")?;
        select = select.filter(Column::Action.is_in(actions));
    }
    if let Some(since) = filter.since {
        select = select.filter(Column::CreatedAt.gt(since));
    }
    if let Some(until) = filter.until {
        select = select.filter(Column::CreatedAt.lte(until));
    }
    Ok(select)
}

fn ordering() -> super::pagination::Ordering<audit_entry::Entity> {
    super::lists::by_creation::<audit_entry::Entity>(
        "activity",
        audit_entry::Column::CreatedAt,
        audit_entry::Column::Id,
        SortDirection::Desc,
    )
}

/// An event whose activity the caller may read: made only by [`readable`], so
/// the functions that read activity cannot be handed any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadableEvent(Uuid);

impl ReadableEvent {
    pub fn id(self) -> Uuid {
        self.0
    }
}

/// `event` as one whose activity the caller may read, or `None` (see
/// [`access::may_read_event_activity`]).
pub async fn readable(
    cx: &ServiceContext,
    event: &event::Model,
) -> AppResult<Option<ReadableEvent>> {
    Ok(access::may_read_event_activity(cx, event)
        .await?
        .then_some(ReadableEvent(event.id)))
}

/// One page of activity per event, newest first, in one query for all of them
/// (ranked per event, like the nested participation lists).
pub async fn pages_of_events(
    cx: &ServiceContext,
    events: &[ReadableEvent],
    filter: &ActivityFilter,
    page: &PageRequest,
) -> AppResult<HashMap<Uuid, Page<audit_entry::Model>>> {
    let ordering = ordering();
    let args = PageArgs::parse(page, &ordering.name)?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.0).collect();
    let select = narrow(audit_entry::Entity::find(), filter)?;
    super::pagination::fetch_pages_per_parent(
        &cx.db,
        select,
        audit_entry::Column::EventId,
        |m| m.event_id.unwrap_or_default(),
        &ids,
        &ordering,
        &args,
    )
    .await
}

/// How many entries each event's activity has for `filter`, in one grouped query.
pub async fn counts_of_events(
    cx: &ServiceContext,
    events: &[ReadableEvent],
    filter: &ActivityFilter,
) -> AppResult<HashMap<Uuid, u64>> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.0).collect();
    let select = narrow(audit_entry::Entity::find(), filter)?;
    super::pagination::count_per_parent(&cx.db, select, audit_entry::Column::EventId, &ids).await
}

/// The changes to an organization's directory entry, for administrators; `None`
/// for anyone else. (The activity of the events it hosts is for their hosts'
/// coordinators, on `Event.activity`: an administrator manages the directory,
/// not events.)
fn organization_entries(
    cx: &ServiceContext,
    organization_id: Uuid,
    filter: &ActivityFilter,
) -> AppResult<Option<Select<audit_entry::Entity>>> {
    if !cx.caller().is_admin() {
        return Ok(None);
    }
    let select = audit_entry::Entity::find()
        .filter(audit_entry::Column::EntityType.eq("Organization"))
        .filter(audit_entry::Column::EntityId.eq(organization_id));
    narrow(select, filter).map(Some)
}

/// A page of an organization's activity (see [`organization_entries`]).
pub async fn of_organization(
    cx: &ServiceContext,
    organization_id: Uuid,
    filter: &ActivityFilter,
    page: &PageRequest,
) -> AppResult<Option<Page<audit_entry::Model>>> {
    let Some(select) = organization_entries(cx, organization_id, filter)? else {
        return Ok(None);
    };
    let ordering = ordering();
    let args = PageArgs::parse(page, &ordering.name)?;
    super::pagination::fetch_page(&cx.db, select, &ordering, &args)
        .await
        .map(Some)
}

/// How many entries an organization's activity has for `filter` (administrators).
pub async fn count_of_organization(
    cx: &ServiceContext,
    organization_id: Uuid,
    filter: &ActivityFilter,
) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    match organization_entries(cx, organization_id, filter)? {
        Some(select) => Ok(select.count(&cx.db).await?),
        None => Ok(0),
    }
}

/// A value of a changed field in API form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// A reference to another record: its type name and id (a global id in the
    /// API).
    Id(&'static str, Uuid),
    /// Text as the API shows it: strings, enumeration names, numbers, booleans,
    /// dates and instants; lists as JSON arrays.
    Text(String),
}

/// One changed field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The API field name, e.g. `seatsOffered`.
    pub field: &'static str,
    pub before: Option<FieldValue>,
    pub after: Option<FieldValue>,
}

/// How a stored column is shown.
#[derive(Clone, Copy)]
enum Shown {
    /// As it is (text, number, boolean, date, enumeration name, list).
    Plain,
    /// An instant, in the `DateTime` scalar's form.
    Instant,
    /// A reference to a record of this type.
    Ref(&'static str),
}

use Shown::{Instant, Plain, Ref};

/// A stored column (snapshot key), its API field name, and how it shows.
type Field = (&'static str, &'static str, Shown);

/// The columns each record type shows in its changes, with their API names.
/// Anything else (ids, versions, timestamps of the row, sealed or personal data,
/// internal columns) never shows.
const FIELDS: &[(&str, &[Field])] = &[
    (
        "Event",
        &[
            ("kind", "kind", Plain),
            ("host_organization_id", "host", Ref("Organization")),
            ("coHostOrganizationId", "coHosts", Ref("Organization")),
            ("title", "title", Plain),
            ("description", "description", Plain),
            ("election_name", "electionName", Plain),
            ("election_date", "electionDate", Plain),
            ("venue", "venue", Plain),
            ("city", "city", Plain),
            ("country_code", "countryCode", Plain),
            ("time_zone", "timeZone", Plain),
            ("start_date", "startDate", Plain),
            ("end_date", "endDate", Plain),
            ("date_status", "dateStatus", Plain),
            ("status", "status", Plain),
            ("participation_mode", "participationMode", Plain),
            ("application_deadline", "applicationDeadline", Instant),
            ("max_delegations", "maxDelegations", Plain),
            ("max_participants", "maxParticipants", Plain),
            ("held_alongside_event_id", "heldAlongside", Ref("Event")),
            ("published_at", "publishedAt", Instant),
            (
                "personal_data_retention_days",
                "personalDataRetentionDays",
                Plain,
            ),
        ],
    ),
    (
        "Session",
        &[
            ("event_id", "event", Ref("Event")),
            ("kind", "kind", Plain),
            ("title", "title", Plain),
            ("topic", "topic", Plain),
            ("description", "description", Plain),
            ("starts_at", "startsAt", Instant),
            ("ends_at", "endsAt", Instant),
            ("location", "location", Plain),
            (
                "proposed_by_organization_id",
                "proposedBy",
                Ref("Organization"),
            ),
        ],
    ),
    (
        "Invitation",
        &[
            ("event_id", "event", Ref("Event")),
            ("organization_id", "organization", Ref("Organization")),
            ("status", "status", Plain),
            ("seats_offered", "seatsOffered", Plain),
            ("funded_seats", "fundedSeats", Plain),
            ("seats_accepted", "seatsAccepted", Plain),
            ("funding_covers", "fundingCovers", Plain),
            ("respond_by", "respondBy", Instant),
            ("message", "message", Plain),
            ("sent_at", "sentAt", Instant),
            ("responded_at", "respondedAt", Instant),
            ("response_note", "responseNote", Plain),
        ],
    ),
    (
        "Application",
        &[
            ("event_id", "event", Ref("Event")),
            ("organization_id", "organization", Ref("Organization")),
            ("status", "status", Plain),
            ("motivation", "motivation", Plain),
            ("proposed_topics", "proposedTopics", Plain),
            ("seats_requested", "seatsRequested", Plain),
            ("funding_requested", "fundingRequested", Plain),
            ("decision_note", "decisionNote", Plain),
            ("decided_at", "decidedAt", Instant),
            ("invitation_id", "invitation", Ref("Invitation")),
        ],
    ),
    (
        "Delegation",
        &[
            ("event_id", "event", Ref("Event")),
            ("organization_id", "organization", Ref("Organization")),
            ("invitation_id", "invitation", Ref("Invitation")),
            ("status", "status", Plain),
            ("head_participant_id", "head", Ref("Participant")),
            ("arrival_at", "arrivalAt", Instant),
            ("departure_at", "departureAt", Instant),
            ("notes", "notes", Plain),
        ],
    ),
    (
        "Participant",
        &[
            ("delegation_id", "delegation", Ref("Delegation")),
            ("full_name", "fullName", Plain),
            ("local_name", "localName", Plain),
            ("position", "position", Plain),
            ("role", "role", Plain),
            ("funded", "funded", Plain),
            ("needs_visa_support", "needsVisaSupport", Plain),
        ],
    ),
    (
        "Presentation",
        &[
            ("session_id", "session", Ref("Session")),
            ("delegation_id", "delegation", Ref("Delegation")),
            ("presenter_participant_id", "presenter", Ref("Participant")),
            ("title", "title", Plain),
            ("abstract_text", "abstract", Plain),
            ("status", "status", Plain),
        ],
    ),
    (
        "Organization",
        &[
            ("kind", "kind", Plain),
            ("name", "name", Plain),
            ("local_name", "localName", Plain),
            ("acronym", "acronym", Plain),
            ("country_code", "countryCode", Plain),
            ("website", "website", Plain),
            ("contact_email", "contactEmail", Plain),
            ("aweb_member", "awebMember", Plain),
        ],
    ),
];

fn shown(value: Option<&Value>, how: Shown) -> Option<FieldValue> {
    let value = value.filter(|v| !v.is_null())?;
    Some(match (how, value) {
        (Ref(type_name), Value::String(text)) => match text.parse() {
            Ok(id) => FieldValue::Id(type_name, id),
            Err(_) => FieldValue::Text(text.clone()),
        },
        (Instant, Value::String(text)) => FieldValue::Text(
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.with_timezone(&Utc).to_rfc3339())
                .unwrap_or_else(|_| text.clone()),
        ),
        (_, Value::String(text)) => FieldValue::Text(text.clone()),
        (_, other) => FieldValue::Text(other.to_string()),
    })
}

/// The fields `entry` changed, in API form, in the order of [`FIELDS`].
///
/// A creation shows every field it set, a removal every field the record had;
/// an update the fields whose value differs. (A partial snapshot, such as an
/// expiry's `{status}`, only speaks for the fields it names.) Entries about
/// personal data (exports, erasures) show no personal data.
pub fn changes(entry: &audit_entry::Model) -> Vec<FieldChange> {
    let Some((_, fields)) = FIELDS.iter().find(|(t, _)| *t == entry.entity_type) else {
        return Vec::new();
    };
    let empty = serde_json::Map::new();
    let object = |s: &Option<Value>| s.as_ref().and_then(Value::as_object).cloned();
    let (before, after) = (object(&entry.before), object(&entry.after));
    let mut out = Vec::new();
    for (column, field, how) in fields.iter() {
        let (old, new) = match (&before, &after) {
            (Some(b), Some(a)) => {
                if !a.contains_key(*column) {
                    continue;
                }
                (b.get(*column), a.get(*column))
            }
            (None, Some(a)) => (None, a.get(*column)),
            (Some(b), None) => (b.get(*column), None),
            (None, None) => (empty.get(*column), None),
        };
        let (old, new) = (shown(old, *how), shown(new, *how));
        if old != new {
            out.push(FieldChange {
                field,
                before: old,
                after: new,
            });
        }
    }
    out
}

/// How the actor of an entry made the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "ActivityActorKind")]
pub enum ActorKind {
    /// An API client (a partner's or host's system, a console's client).
    ApiClient,
    /// A person signed in through their organization's identity provider.
    Person,
    /// embhub itself (the invitation expiry and personal-data retention sweeps).
    System,
}

/// The actor kind of `entry`.
pub fn actor_kind(entry: &audit_entry::Model) -> ActorKind {
    if entry.actor_person_id.is_some() {
        ActorKind::Person
    } else if entry.actor_client_id.is_some() {
        ActorKind::ApiClient
    } else {
        ActorKind::System
    }
}

/// The people among `ids` the caller may see by name: those of its own
/// organization (an activity entry shows who changed a record; the names of
/// another organization's staff are theirs to share, so only their organization
/// shows).
pub async fn visible_people(cx: &ServiceContext, ids: &[Uuid]) -> AppResult<Vec<person::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(person::Entity::find()
        .filter(person::Column::Id.is_in(ids.iter().copied()))
        .filter(person::Column::OrganizationId.eq(cx.caller().organization_id))
        .all(&cx.db)
        .await?)
}

/// A record an entry is about, as the caller may see it now.
#[derive(Debug, Clone)]
pub enum Target {
    Event(event::Model),
    Session(session::Model),
    Invitation(invitation::Model),
    Application(application::Model),
    Delegation(delegation::Model),
    Participant(participant::Model),
    Presentation(presentation::Model),
    Organization(organization::Model),
}

/// The records among `keys` that still exist and the caller may see, read with
/// the usual access rules: one query per kind of record present.
pub async fn targets(
    cx: &ServiceContext,
    keys: &[(TargetType, Uuid)],
) -> AppResult<HashMap<(TargetType, Uuid), Target>> {
    let mut by_type: HashMap<TargetType, Vec<Uuid>> = HashMap::new();
    for (t, id) in keys {
        by_type.entry(*t).or_default().push(*id);
    }
    let mut out = HashMap::new();
    for (t, ids) in by_type {
        macro_rules! fetch {
            ($service:ident, $variant:ident) => {
                for m in super::$service::get_many(cx, &ids).await? {
                    out.insert((t, m.id), Target::$variant(m));
                }
            };
        }
        match t {
            TargetType::Event => fetch!(events, Event),
            TargetType::Session => fetch!(sessions, Session),
            TargetType::Invitation => fetch!(invitations, Invitation),
            TargetType::Application => fetch!(applications, Application),
            TargetType::Delegation => fetch!(delegations, Delegation),
            TargetType::Participant => fetch!(participants, Participant),
            TargetType::Presentation => fetch!(presentations, Presentation),
            TargetType::Organization => fetch!(organizations, Organization),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(entity_type: &str, before: Option<Value>, after: Option<Value>) -> audit_entry::Model {
        audit_entry::Model {
            id: Uuid::now_v7(),
            actor_client_id: None,
            actor_organization_id: None,
            actor_person_id: None,
            action: "x".into(),
            entity_type: entity_type.into(),
            entity_id: Uuid::nil(),
            before,
            after,
            request_id: None,
            created_at: Utc::now(),
            event_id: None,
        }
    }

    #[test]
    fn changes_speak_the_api_and_never_show_personal_data() {
        let delegation = Uuid::now_v7();
        let before = json!({"delegation_id": delegation, "full_name": "A", "role": "MEMBER",
            "nationality": "[REDACTED]", "passport_number": "[REDACTED]", "email": "[REDACTED]",
            "dietary_needs": "[REDACTED]", "version": 1});
        let after = json!({"delegation_id": delegation, "full_name": "B", "role": "HEAD",
            "nationality": "[REDACTED]", "passport_number": "[REDACTED]", "email": "[REDACTED]",
            "dietary_needs": null, "version": 2});
        let updated = changes(&entry("Participant", Some(before), Some(after)));
        let fields: Vec<_> = updated.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["fullName", "role"]);
        assert_eq!(updated[1].after, Some(FieldValue::Text("HEAD".into())));

        let created = changes(&entry(
            "Participant",
            None,
            Some(json!({"delegation_id": delegation, "full_name": "C", "funded": true})),
        ));
        assert_eq!(
            created[0].after,
            Some(FieldValue::Id("Delegation", delegation))
        );
        assert_eq!(created[2].after, Some(FieldValue::Text("true".into())));
    }

    #[test]
    fn a_partial_snapshot_speaks_only_for_its_fields() {
        let before = json!({"status": "SENT", "seats_offered": 2, "message": "Hi"});
        let after = json!({"status": "EXPIRED"});
        let expired = changes(&entry("Invitation", Some(before), Some(after)));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].field, "status");
    }

    #[test]
    fn every_known_action_has_a_public_name_and_back() {
        for name in action_names() {
            assert!(!stored_actions(&[name.to_owned()], "f").unwrap().is_empty());
        }
        assert_eq!(action_name("invitation.send"), "INVITATION_SENT");
        assert_eq!(
            action_name("participant.export_personal_data"),
            "PERSONAL_DATA_EXPORTED"
        );
        assert!(stored_actions(&["NOPE".into()], "f").is_err());
    }
}
