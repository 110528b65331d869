//! `embhub seed --demo`: the world of the NEC's 2017 international events.
//!
//! Idempotent: records are matched by their natural keys (organization name and
//! country, event host and title) and only missing ones are added; API clients are
//! created only on the first run, since their secrets can be shown only once.

use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::{DateStatus, EventKind, EventStatus, OrganizationKind, ParticipationMode};
use crate::entity::{api_client, event, event_co_host, event_date_change, organization};
use crate::service::clients::{self, NewClient};

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
        event_co_host::ActiveModel {
            event_id: Set(created.id),
            organization_id: Set(org),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok((created, true))
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("demo dates are valid calendar dates")
}

/// A demo client and what it is for.
pub struct DemoClient {
    pub label: &'static str,
    pub organization: String,
    pub client: NewClient,
}

/// Loads the demo world; returns the clients created on this run (none on re-runs).
pub async fn demo(db: &DatabaseConnection) -> anyhow::Result<Vec<DemoClient>> {
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
    ensure_organization(
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
    ensure_organization(
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
    ensure_organization(
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
    ensure_organization(
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
    ensure_organization(
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

    let (evp, evp_new) = ensure_event(db, EventSeed {
        kind: EventKind::ElectionVisitorProgram,
        host: nec.id,
        title: "2017 Election Visitor Program for the 19th Presidential Election",
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
    ensure_event(db, EventSeed {
        kind: EventKind::Forum,
        host: nec.id,
        title: "2017 Seoul International Forum on Elections",
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
    ensure_event(db, EventSeed {
        kind: EventKind::Seminar,
        host: nec.id,
        title: "2017 Seminar for the Improvement of Election Laws and Systems",
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
