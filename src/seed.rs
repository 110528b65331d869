//! `embhub seed --demo`: the world of the NEC's 2017 international events,
//! replayed in the coming year.
//!
//! The story is 2017's (see `shared/seed/`), but its dates are moved to next year:
//! nothing can be answered, applied to or registered for an event that has ended,
//! so a demo set in the past would leave a new user nothing to try.
//!
//! Idempotent: records are matched by their natural keys (organization name and
//! country, event host and title) and only missing ones are added; API clients are
//! created only on the first run, since their secrets can be shown only once.

pub mod bench;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use sea_orm::sea_query::Expr;

use crate::auth::{Caller, Role};
use crate::domain::{
    DateStatus, EventKind, EventStatus, FundingItem, InvitationStatus, OrganizationKind,
    ParticipantRole, ParticipationMode, SessionKind,
};
use crate::entity::{api_client, event, event_co_host, event_date_change, organization};
use crate::service::ServiceContext;
use crate::service::clients::{self, NewClient};
use crate::service::invitations::{self, Offer};
use crate::service::participants::{self, ParticipantFields};
use crate::service::personal_data::PersonalData;
use crate::service::sessions::{self, SessionFields};

/// An organization of the demo world.
pub struct OrganizationSeed<'a> {
    pub kind: OrganizationKind,
    pub name: &'a str,
    pub local_name: Option<&'a str>,
    pub acronym: Option<&'a str>,
    pub country_code: Option<&'a str>,
    pub website: Option<&'a str>,
    pub aweb_member: bool,
}

/// Finds the organization by name and country, or adds it.
pub async fn ensure_organization(
    db: &DatabaseConnection,
    seed: OrganizationSeed<'_>,
) -> anyhow::Result<organization::Model> {
    let mut query = organization::Entity::find().filter(organization::Column::Name.eq(seed.name));
    query = match seed.country_code {
        Some(c) => query.filter(organization::Column::CountryCode.eq(c)),
        None => query.filter(organization::Column::CountryCode.is_null()),
    };
    if let Some(existing) = query.one(db).await? {
        return Ok(existing);
    }
    let now = Utc::now();
    Ok(organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(seed.kind),
        name: Set(seed.name.to_owned()),
        local_name: Set(seed.local_name.map(str::to_owned)),
        acronym: Set(seed.acronym.map(str::to_owned)),
        country_code: Set(seed.country_code.map(str::to_owned)),
        website: Set(seed.website.map(str::to_owned)),
        contact_email: Set(None),
        aweb_member: Set(seed.aweb_member),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

struct EventSeed<'a> {
    kind: EventKind,
    host: Uuid,
    title: &'a str,
    description: &'a str,
    election: Option<(&'a str, NaiveDate)>,
    city: &'a str,
    dates: (NaiveDate, NaiveDate),
    date_status: DateStatus,
    mode: ParticipationMode,
    deadline: Option<NaiveDate>,
    held_alongside: Option<Uuid>,
    co_hosts: Vec<Uuid>,
}

async fn ensure_event(
    db: &DatabaseConnection,
    seed: EventSeed<'_>,
) -> anyhow::Result<(event::Model, bool)> {
    if let Some(existing) = event::Entity::find()
        .filter(event::Column::HostOrganizationId.eq(seed.host))
        .filter(event::Column::Title.eq(seed.title))
        .one(db)
        .await?
    {
        return Ok((existing, false));
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let created = event::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(seed.kind),
        host_organization_id: Set(seed.host),
        title: Set(seed.title.to_owned()),
        description: Set(Some(seed.description.to_owned())),
        election_name: Set(seed.election.map(|e| e.0.to_owned())),
        election_date: Set(seed.election.map(|e| e.1)),
        venue: Set(None),
        city: Set(Some(seed.city.to_owned())),
        country_code: Set(Some("KR".to_owned())),
        time_zone: Set("Asia/Seoul".to_owned()),
        start_date: Set(seed.dates.0),
        end_date: Set(seed.dates.1),
        date_status: Set(seed.date_status),
        status: Set(EventStatus::Published),
        participation_mode: Set(seed.mode),
        personal_data_retention_days: Set(None),
        application_deadline: Set(seed
            .deadline
            .and_then(|d| d.and_hms_opt(14, 59, 59))
            .map(|t| Utc.from_utc_datetime(&t))),
        max_delegations: Set(None),
        max_participants: Set(None),
        held_alongside_event_id: Set(seed.held_alongside),
        published_at: Set(Some(now)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for org in seed.co_hosts {
        // The demo's co-hosts start read-only; the host grants them more
        // (`updateCoHostPermissions`).
        let mut link = event_co_host::ActiveModel {
            event_id: Set(created.id),
            organization_id: Set(org),
            created_at: Set(now),
            ..Default::default()
        };
        link.grant_exactly(&[]);
        link.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok((created, true))
}

/// The year the source story took place in.
const STORY_YEAR: i32 = 2017;

/// The year the demo replays the story in: the next one, so every event lies ahead.
pub fn demo_year() -> i32 {
    Utc::now().year() + 1
}

/// A date of the 2017 story (`y` is the story's year), moved to [`demo_year`].
fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y - STORY_YEAR + demo_year(), m, d)
        .expect("demo dates are valid calendar dates (none falls on 29 February)")
}

/// A demo client and what it is for.
pub struct DemoClient {
    pub label: &'static str,
    pub organization: String,
    pub client: NewClient,
}

/// Loads the demo world; returns the clients created on this run (none on re-runs).
pub async fn demo(
    db: &DatabaseConnection,
    personal_data: &PersonalData,
) -> anyhow::Result<Vec<DemoClient>> {
    use OrganizationKind::*;
    let org =
        |kind, name, local_name, acronym, country_code, website, aweb_member| OrganizationSeed {
            kind,
            name,
            local_name,
            acronym,
            country_code,
            website,
            aweb_member,
        };
    let nec = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "National Election Commission",
            Some("중앙선거관리위원회"),
            Some("NEC"),
            Some("KR"),
            Some("https://www.nec.go.kr"),
            true,
        ),
    )
    .await?;
    let aweb = ensure_organization(
        db,
        org(
            InternationalOrganization,
            "Association of World Election Bodies",
            None,
            Some("A-WEB"),
            None,
            Some("https://aweb.org"),
            false,
        ),
    )
    .await?;
    let idea = ensure_organization(
        db,
        org(
            InternationalOrganization,
            "International Institute for Democracy and Electoral Assistance",
            None,
            Some("International IDEA"),
            None,
            Some("https://www.idea.int"),
            false,
        ),
    )
    .await?;
    let ifes = ensure_organization(
        db,
        org(
            InternationalOrganization,
            "International Foundation for Electoral Systems",
            None,
            Some("IFES"),
            None,
            Some("https://www.ifes.org"),
            false,
        ),
    )
    .await?;
    let koica = ensure_organization(
        db,
        org(
            DevelopmentAgency,
            "Korea International Cooperation Agency",
            Some("한국국제협력단"),
            Some("KOICA"),
            Some("KR"),
            Some("https://www.koica.go.kr"),
            false,
        ),
    )
    .await?;
    let kocei = ensure_organization(
        db,
        org(
            CivicEducationInstitute,
            "Korean Civic Education Institute for Democracy",
            Some("선거연수원"),
            Some("KOCEI"),
            Some("KR"),
            None,
            false,
        ),
    )
    .await?;
    let ukec = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "The Electoral Commission",
            None,
            Some("UKEC"),
            Some("GB"),
            Some("https://www.electoralcommission.org.uk"),
            false,
        ),
    )
    .await?;
    let eac = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "U.S. Election Assistance Commission",
            None,
            Some("EAC"),
            Some("US"),
            Some("https://www.eac.gov"),
            false,
        ),
    )
    .await?;
    let cec_bih = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "Central Election Commission of Bosnia and Herzegovina",
            Some("Centralna izborna komisija BiH"),
            Some("CEC BiH"),
            Some("BA"),
            None,
            true,
        ),
    )
    .await?;
    let cec_uz = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "Central Election Commission of the Republic of Uzbekistan",
            Some("O‘zbekiston Respublikasi Markaziy saylov komissiyasi"),
            Some("CEC UZ"),
            Some("UZ"),
            None,
            true,
        ),
    )
    .await?;
    let tse = ensure_organization(
        db,
        org(
            ElectionManagementBody,
            "Superior Electoral Court",
            Some("Tribunal Superior Eleitoral"),
            Some("TSE"),
            Some("BR"),
            Some("https://www.tse.jus.br"),
            false,
        ),
    )
    .await?;

    let year = demo_year();
    let evp_title = format!("{year} Election Visitor Program for the 19th Presidential Election");
    let forum_title = format!("{year} Seoul International Forum on Elections");
    let seminar_title = format!("{year} Seminar for the Improvement of Election Laws and Systems");
    let (evp, evp_new) = ensure_event(db, EventSeed {
        kind: EventKind::ElectionVisitorProgram,
        host: nec.id,
        title: &evp_title,
        description: "A week of briefings, early-voting and election-day observation, counting, mock voting and a cultural day, co-hosted with A-WEB.",
        election: Some(("19th Presidential Election", date(2017, 5, 9))),
        city: "Seoul",
        dates: (date(2017, 5, 4), date(2017, 5, 10)),
        date_status: DateStatus::Confirmed,
        mode: ParticipationMode::InvitationOnly,
        deadline: None,
        held_alongside: None,
        co_hosts: vec![aweb.id],
    })
    .await?;
    if evp_new {
        // The election was first planned for December; the impeachment moved it.
        event_date_change::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(evp.id),
            previous_start_date: Set(date(2017, 12, 15)),
            previous_end_date: Set(date(2017, 12, 21)),
            previous_date_status: Set(DateStatus::Tentative),
            new_start_date: Set(evp.start_date),
            new_end_date: Set(evp.end_date),
            new_date_status: Set(DateStatus::Confirmed),
            reason: Set(
                "The presidential election moved to 9 May after the impeachment.".to_owned(),
            ),
            changed_by_client_id: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(db)
        .await?;
    }
    let (forum, _) = ensure_event(db, EventSeed {
        kind: EventKind::Forum,
        host: nec.id,
        title: &forum_title,
        description: "One day, three sessions on election management trends, with speakers from A-WEB, International IDEA, IFES and other EMBs.",
        election: None,
        city: "Seoul",
        dates: (date(2017, 5, 8), date(2017, 5, 8)),
        date_status: DateStatus::ToBeConfirmed,
        mode: ParticipationMode::InvitationOnly,
        deadline: None,
        held_alongside: Some(evp.id),
        co_hosts: vec![],
    })
    .await?;
    let (seminar, _) = ensure_event(db, EventSeed {
        kind: EventKind::Seminar,
        host: nec.id,
        title: &seminar_title,
        description: "A week of delegation presentations and discussion on topics the participants pick, with by-election observation. Co-hosted with KOICA; delegates are funded.",
        election: None,
        city: "Gwacheon",
        dates: (date(2017, 10, 16), date(2017, 10, 20)),
        date_status: DateStatus::Tentative,
        mode: ParticipationMode::ApplicationsOpen,
        deadline: Some(date(2017, 8, 31)),
        held_alongside: None,
        co_hosts: vec![koica.id],
    })
    .await?;

    if evp_new {
        participation(
            db,
            DemoWorld {
                personal_data,
                nec: &nec,
                aweb: &aweb,
                idea: &idea,
                ifes: &ifes,
                cec_uz: &cec_uz,
                cec_bih: &cec_bih,
                tse: &tse,
                eac: &eac,
                ukec: &ukec,
                evp: &evp,
                forum: &forum,
                seminar: &seminar,
            },
        )
        .await?;
    }

    let already = api_client::Entity::find()
        .filter(api_client::Column::Name.starts_with("demo "))
        .one(db)
        .await?;
    if already.is_some() {
        return Ok(Vec::new());
    }
    let mut created = Vec::new();
    for (label, org, roles) in [
        ("admin", &nec, vec![Role::Admin]),
        ("coordinator", &nec, vec![Role::Coordinator]),
        ("partner", &cec_uz, vec![Role::Partner]),
        ("partner (UK)", &ukec, vec![Role::Partner]),
        ("reader", &kocei, vec![Role::Reader]),
    ] {
        let client = clients::register(db, org.id, &roles, &format!("demo {label}"))
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
        created.push(DemoClient {
            label,
            organization: org.acronym.clone().unwrap_or_else(|| org.name.clone()),
            client,
        });
    }
    Ok(created)
}

/// The demo records the participation story needs.
struct DemoWorld<'a> {
    personal_data: &'a PersonalData,
    nec: &'a organization::Model,
    aweb: &'a organization::Model,
    idea: &'a organization::Model,
    ifes: &'a organization::Model,
    cec_uz: &'a organization::Model,
    cec_bih: &'a organization::Model,
    tse: &'a organization::Model,
    eac: &'a organization::Model,
    ukec: &'a organization::Model,
    evp: &'a event::Model,
    forum: &'a event::Model,
    seminar: &'a event::Model,
}

/// The seed acting as `organization` with `role`, through the service layer, so
/// the demo obeys the same rules and leaves the same audit trail as real clients.
fn acting_as(
    db: &DatabaseConnection,
    personal_data: &PersonalData,
    organization: &organization::Model,
    role: Role,
) -> ServiceContext {
    ServiceContext::new(
        db.clone(),
        Caller {
            client_id: Uuid::nil(),
            organization_id: organization.id,
            roles: vec![role],
            person_id: None,
        },
        Some("seed".to_owned()),
        crate::feed::ChangeFeed::detached(),
        personal_data.clone(),
    )
}

fn at(y: i32, m: u32, d: u32, h: u32) -> chrono::DateTime<Utc> {
    date(y, m, d)
        .and_hms_opt(h, 0, 0)
        .map(|t| Utc.from_utc_datetime(&t))
        .expect("demo times are valid")
}

/// An agenda item of the demo: kind, title, proposer, start and length in hours.
type AgendaItem<'a> = (
    SessionKind,
    &'a str,
    Option<&'a organization::Model>,
    chrono::DateTime<Utc>,
    i64,
);

async fn agenda(
    host: &ServiceContext,
    event: &event::Model,
    items: &[AgendaItem<'_>],
) -> anyhow::Result<()> {
    for (kind, title, proposer, starts, hours) in items {
        sessions::add(
            host,
            event.id,
            SessionFields {
                kind: *kind,
                title: (*title).to_owned(),
                topic: None,
                description: None,
                starts_at: *starts,
                ends_at: *starts + chrono::Duration::hours(*hours),
                location: None,
                proposed_by_organization_id: proposer.map(|o| o.id),
            },
        )
        .await
        .map_err(seed_error)?;
    }
    Ok(())
}

fn seed_error(err: crate::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("demo seed: {}", err.public_message())
}

/// Agendas, invitations in every state, a delegation with its members and an
/// application: the events as they stood in the spring of the story.
async fn participation(db: &DatabaseConnection, w: DemoWorld<'_>) -> anyhow::Result<()> {
    use SessionKind::*;
    let host = acting_as(db, w.personal_data, w.nec, Role::Coordinator);
    // Times are UTC; Seoul is UTC+9.
    agenda(
        &host,
        w.evp,
        &[
            (
                Briefing,
                "Briefing on the Korean election system",
                None,
                at(2017, 5, 4, 1),
                2,
            ),
            (
                ObservationEarlyVoting,
                "Early voting observation in Songdo",
                None,
                at(2017, 5, 5, 0),
                6,
            ),
            (
                CulturalProgram,
                "A Sunday in Seoul",
                None,
                at(2017, 5, 7, 0),
                8,
            ),
            (
                MockVoting,
                "Mock voting and counting",
                None,
                at(2017, 5, 8, 5),
                2,
            ),
            (
                ObservationElectionDay,
                "Election day observation",
                None,
                at(2017, 5, 9, 0),
                10,
            ),
            (
                ObservationCounting,
                "Counting observation",
                None,
                at(2017, 5, 9, 11),
                4,
            ),
        ],
    )
    .await?;
    agenda(
        &host,
        w.forum,
        &[
            (
                Panel,
                "Session 1: Technology and trust in elections",
                Some(w.aweb),
                at(2017, 5, 8, 0),
                2,
            ),
            (
                Panel,
                "Session 2: Inclusive voter participation",
                Some(w.idea),
                at(2017, 5, 8, 3),
                2,
            ),
            (
                Panel,
                "Session 3: Electoral integrity",
                Some(w.ifes),
                at(2017, 5, 8, 6),
                2,
            ),
        ],
    )
    .await?;
    agenda(
        &host,
        w.seminar,
        &[
            (
                Presentations,
                "Electoral systems and their reform",
                None,
                at(2017, 10, 16, 0),
                6,
            ),
            (
                SiteVisit,
                "By-election observation",
                None,
                at(2017, 10, 19, 0),
                8,
            ),
        ],
    )
    .await?;

    let funded = Offer {
        seats_offered: 2,
        funded_seats: 2,
        funding_covers: vec![
            FundingItem::Airfare,
            FundingItem::Accommodation,
            FundingItem::Meals,
        ],
        respond_by: None,
        message: Some(
            "The NEC and A-WEB invite you to observe the 19th Presidential Election.".to_owned(),
        ),
    };
    let partners = [w.cec_uz, w.cec_bih, w.tse, w.eac, w.ukec];
    let ids: Vec<Uuid> = partners.iter().map(|o| o.id).collect();
    let sent = invitations::invite(&host, w.evp.id, &ids, funded, true)
        .await
        .map_err(seed_error)?;
    let invitation_of = |org: &organization::Model| {
        sent.iter()
            .find(|i| i.organization_id == org.id)
            .map(|i| i.id)
            .ok_or_else(|| anyhow::anyhow!("demo seed: invitation missing"))
    };

    // Uzbekistan accepts and registers its delegation.
    let uz = acting_as(db, w.personal_data, w.cec_uz, Role::Partner);
    invitations::respond(
        &uz,
        invitation_of(w.cec_uz)?,
        invitations::Answer {
            accept: true,
            note: Some("We will attend.".to_owned()),
            ..Default::default()
        },
    )
    .await
    .map_err(seed_error)?;
    let delegation = crate::entity::delegation::Entity::find()
        .filter(crate::entity::delegation::Column::EventId.eq(w.evp.id))
        .filter(crate::entity::delegation::Column::OrganizationId.eq(w.cec_uz.id))
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo seed: delegation missing"))?;
    let member = |name: &str, role, position: &str, passport: &str| ParticipantFields {
        full_name: name.to_owned(),
        local_name: None,
        position: Some(position.to_owned()),
        role,
        email: None,
        dietary_needs: Some("Halal".to_owned()),
        accessibility_needs: None,
        funded: true,
        needs_visa_support: true,
        nationality: Some("UZ".to_owned()),
        date_of_birth: Some(date(1970, 3, 21)),
        passport_number: Some(passport.to_owned()),
    };
    let head = participants::add(
        &uz,
        delegation.id,
        member(
            "Mirza Karimov",
            ParticipantRole::Head,
            "Deputy Chairman",
            "FA0000001",
        ),
    )
    .await
    .map_err(seed_error)?;
    participants::add(
        &uz,
        delegation.id,
        member(
            "Dilnoza Rashidova",
            ParticipantRole::Member,
            "Head of International Relations",
            "FA0000002",
        ),
    )
    .await
    .map_err(seed_error)?;
    crate::service::delegations::update(
        &uz,
        delegation.id,
        crate::service::delegations::DelegationChanges {
            head_participant_id: Some(Some(head.id)),
            arrival_at: Some(Some(at(2017, 5, 3, 6))),
            departure_at: Some(Some(at(2017, 5, 10, 12))),
            ..Default::default()
        },
    )
    .await
    .map_err(seed_error)?;
    crate::service::delegations::confirm(&uz, delegation.id, None)
        .await
        .map_err(seed_error)?;

    // Brazil declines; the host withdraws Bosnia and Herzegovina's invitation.
    let br = acting_as(db, w.personal_data, w.tse, Role::Partner);
    invitations::respond(
        &br,
        invitation_of(w.tse)?,
        invitations::Answer {
            accept: false,
            note: Some("Our own elections fall in the same week.".to_owned()),
            ..Default::default()
        },
    )
    .await
    .map_err(seed_error)?;
    invitations::withdraw(
        &host,
        invitation_of(w.cec_bih)?,
        None,
        Some("Seats were reallocated.".to_owned()),
    )
    .await
    .map_err(seed_error)?;
    // The USA did not answer in time (a state only the passing of time reaches).
    let lapsed = Utc::now() - chrono::Duration::days(1);
    crate::entity::invitation::Entity::update_many()
        .col_expr(
            crate::entity::invitation::Column::RespondBy,
            Expr::value(Some(lapsed)),
        )
        .col_expr(
            crate::entity::invitation::Column::ExpiresAt,
            Expr::value(Some(lapsed)),
        )
        .col_expr(
            crate::entity::invitation::Column::Status,
            Expr::value(InvitationStatus::Expired),
        )
        .filter(crate::entity::invitation::Column::Id.eq(invitation_of(w.eac)?))
        .exec(db)
        .await?;
    // The UK's invitation stays SENT for the demo partner to answer; the forum's
    // speakers are still drafts.
    let speakers = Offer {
        seats_offered: 1,
        funded_seats: 1,
        funding_covers: vec![FundingItem::Airfare, FundingItem::Accommodation],
        respond_by: None,
        message: Some(format!(
            "We would be honoured to have you speak at SIFE {}.",
            demo_year()
        )),
    };
    invitations::invite(&host, w.forum.id, &[w.idea.id, w.ifes.id], speakers, false)
        .await
        .map_err(seed_error)?;

    // Bosnia and Herzegovina applies to the seminar (before its deadline).
    let now = Utc::now();
    crate::entity::application::ActiveModel {
        id: Set(Uuid::now_v7()),
        event_id: Set(w.seminar.id),
        organization_id: Set(w.cec_bih.id),
        status: Set(crate::domain::ApplicationStatus::Submitted),
        motivation: Set(
            "Our electoral law is under reform; we would present our proposals.".to_owned(),
        ),
        proposed_topics: Set(json!(["Electoral systems", "Voter registration"])),
        seats_requested: Set(2),
        funding_requested: Set(json!(["AIRFARE", "ACCOMMODATION"])),
        decision_note: Set(None),
        decided_at: Set(None),
        invitation_id: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Prints the demo clients' credentials, which are shown only once.
pub fn print_clients(created: &[DemoClient], as_json: bool) {
    if as_json {
        let rows: Vec<_> = created
            .iter()
            .map(|c| {
                json!({
                    "label": c.label, "organization": c.organization,
                    "client_id": c.client.info.id, "client_secret": c.client.secret,
                    "roles": c.client.info.roles,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    if created.is_empty() {
        println!(
            "demo data is loaded (API clients were created, and their secrets shown, on the first run)"
        );
        return;
    }
    println!("demo API clients (the secrets are shown only this once):");
    for c in created {
        println!(
            "  {:<13} {:<8} client_id={}  client_secret={}",
            c.label, c.organization, c.client.info.id, c.client.secret
        );
    }
}
