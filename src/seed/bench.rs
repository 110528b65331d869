//! `embhub seed --bench`: a large, realistic and deterministic data set for
//! `bench/run`.
//!
//! The rows are built in memory from a seeded RNG (the same sizes and seed give the
//! same rows, ids included, on SQLite and PostgreSQL) and written with multi-row
//! inserts through the entities, in one transaction, chunked below the databases'
//! bound-parameter limits. The service layer would take minutes for this many
//! rows, so the generator keeps the domain rules itself: invitations are sent only
//! for published events and never to the host; only ACCEPTED invitations have a
//! delegation; a delegation has at most its seats offered as members and at most
//! its funded seats as funded members; sessions lie inside their event's dates; a
//! partner never sees a draft. Three API clients are then registered through the
//! service (their secrets are hashed): the two dashboard partners and a coordinator
//! of the host.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel,
    Iterable, PaginatorTrait, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::{
    DateStatus, DelegationStatus, EventKind, EventStatus, FundingItem, InvitationStatus,
    OrganizationKind, ParticipantRole, ParticipationMode, SessionKind,
};
use crate::entity::{
    delegation, event, event_co_host, invitation, organization, participant, session,
};
use crate::service::clients;

/// Bound parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BIND_PARAMETERS: usize = 30_000;
/// Organizations `inviteOrganizations` is benchmarked with.
const INVITE_BATCH: usize = 150;

/// How big the data set is.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct BenchSizes {
    /// Organizations (hosts, international bodies, the two dashboard partners, EMBs).
    #[arg(long, default_value_t = 211)]
    pub organizations: usize,
    /// Events; at least the large partner's invitation count, since an
    /// organization has one invitation per event.
    #[arg(long, default_value_t = 105)]
    pub events: usize,
    /// Agenda sessions of every event.
    #[arg(long, default_value_t = 12)]
    pub sessions_per_event: usize,
    /// Invitations in all.
    #[arg(long, default_value_t = 6_007)]
    pub invitations: usize,
    /// Delegations, one per ACCEPTED invitation (so also the accepted invitations).
    #[arg(long, default_value_t = 3_601)]
    pub delegations: usize,
    /// Participants in all, spread over the delegations within their seats.
    #[arg(long, default_value_t = 18_002)]
    pub participants: usize,
    /// Invitations of the small dashboard partner.
    #[arg(long, default_value_t = 30)]
    pub small_partner_invitations: usize,
    /// Invitations of the large dashboard partner.
    #[arg(long, default_value_t = 100)]
    pub large_partner_invitations: usize,
    /// Seed of the random generator: the same seed gives the same rows.
    #[arg(long, default_value_t = 2017)]
    pub rng_seed: u64,
}

impl Default for BenchSizes {
    fn default() -> Self {
        Self {
            organizations: 211,
            events: 105,
            sessions_per_event: 12,
            invitations: 6_007,
            delegations: 3_601,
            participants: 18_002,
            small_partner_invitations: 30,
            large_partner_invitations: 100,
            rng_seed: 2017,
        }
    }
}

/// An API client the benchmark signs in with.
#[derive(Debug, Serialize)]
pub struct BenchClient {
    pub organization_id: Uuid,
    pub client_id: Uuid,
    pub client_secret: String,
}

/// What the benchmark needs to know about the data set (printed with `--json`).
#[derive(Debug, Serialize)]
pub struct BenchFixture {
    /// The organization hosting most events; its coordinator invites.
    pub host_id: Uuid,
    /// The partner with the small dashboard, its client and invitation count.
    pub small_partner: BenchClient,
    pub small_partner_invitations: usize,
    /// The partner with the large dashboard.
    pub large_partner: BenchClient,
    pub large_partner_invitations: usize,
    /// A coordinator of the host.
    pub coordinator: BenchClient,
    /// A published event with a full agenda, for the event-by-id workload.
    pub event_id: Uuid,
    /// Delegations of the large partner, for the write workloads.
    pub delegation_ids: Vec<Uuid>,
    /// Organizations neither hosting nor partnering, for `inviteOrganizations`.
    pub invite_organization_ids: Vec<Uuid>,
    /// Rows written, by table.
    pub rows: serde_json::Value,
}

/// Countries of the generated EMBs: none of the named organizations' countries, so
/// (name, country) stays unique.
const COUNTRIES: &[(&str, &str)] = &[
    ("AL", "Albania"),
    ("AM", "Armenia"),
    ("AO", "Angola"),
    ("AR", "Argentina"),
    ("AZ", "Azerbaijan"),
    ("BD", "Bangladesh"),
    ("BG", "Bulgaria"),
    ("BO", "Bolivia"),
    ("BT", "Bhutan"),
    ("CL", "Chile"),
    ("CM", "Cameroon"),
    ("CO", "Colombia"),
    ("CR", "Costa Rica"),
    ("DO", "Dominican Republic"),
    ("EC", "Ecuador"),
    ("EE", "Estonia"),
    ("ET", "Ethiopia"),
    ("FJ", "Fiji"),
    ("GE", "Georgia"),
    ("GH", "Ghana"),
    ("GT", "Guatemala"),
    ("HN", "Honduras"),
    ("ID", "Indonesia"),
    ("IN", "India"),
    ("IQ", "Iraq"),
    ("JM", "Jamaica"),
    ("JO", "Jordan"),
    ("KE", "Kenya"),
    ("KG", "Kyrgyzstan"),
    ("KH", "Cambodia"),
    ("KZ", "Kazakhstan"),
    ("LK", "Sri Lanka"),
    ("LR", "Liberia"),
    ("LT", "Lithuania"),
    ("MD", "Moldova"),
    ("MG", "Madagascar"),
    ("MN", "Mongolia"),
    ("MW", "Malawi"),
    ("MX", "Mexico"),
    ("MY", "Malaysia"),
    ("NA", "Namibia"),
    ("NG", "Nigeria"),
    ("NP", "Nepal"),
    ("PE", "Peru"),
    ("PH", "Philippines"),
    ("PK", "Pakistan"),
    ("PY", "Paraguay"),
    ("RO", "Romania"),
    ("RW", "Rwanda"),
    ("SL", "Sierra Leone"),
    ("SN", "Senegal"),
    ("SV", "El Salvador"),
    ("TG", "Togo"),
    ("TJ", "Tajikistan"),
    ("TL", "Timor-Leste"),
    ("TN", "Tunisia"),
    ("TZ", "Tanzania"),
    ("UA", "Ukraine"),
    ("UG", "Uganda"),
    ("ZM", "Zambia"),
];

const EMB_NAMES: &[&str] = &[
    "Election Commission",
    "Independent Electoral Commission",
    "Central Election Commission",
    "National Electoral Council",
    "Electoral Tribunal",
    "National Electoral Institute",
    "Electoral Management Office",
    "Supreme Electoral Council",
];

const FIRST_NAMES: &[&str] = &[
    "Amina",
    "Bakhtiyor",
    "Carla",
    "Dilnoza",
    "Emeka",
    "Fatima",
    "Gustavo",
    "Hana",
    "Ibrahim",
    "Jelena",
    "Kwame",
    "Lucia",
    "Min-jun",
    "Nodira",
    "Oscar",
    "Priya",
    "Rustam",
    "Sofia",
    "Tendai",
    "Valentina",
];

const LAST_NAMES: &[&str] = &[
    "Abdullaev",
    "Banda",
    "Costa",
    "Dlamini",
    "Eze",
    "Fernandes",
    "Gonzalez",
    "Hasanov",
    "Ivanova",
    "Kim",
    "Lopez",
    "Mensah",
    "Nurmatov",
    "Okafor",
    "Perez",
    "Rahman",
    "Silva",
    "Tashkentova",
];

const POSITIONS: &[&str] = &[
    "Commissioner",
    "Director of International Cooperation",
    "Head of Voter Registration",
    "Legal Adviser",
    "Senior Election Officer",
    "Interpreter",
    "IT Systems Manager",
    "Protocol Officer",
];

const SESSION_KINDS: &[(SessionKind, &str)] = &[
    (SessionKind::Briefing, "Briefing on the electoral system"),
    (
        SessionKind::Lecture,
        "Lecture: electoral dispute resolution",
    ),
    (SessionKind::Panel, "Panel: technology in elections"),
    (SessionKind::Presentations, "Country presentations"),
    (SessionKind::Discussion, "Discussion: voter education"),
    (
        SessionKind::ObservationEarlyVoting,
        "Observation of early voting",
    ),
    (
        SessionKind::ObservationElectionDay,
        "Observation of election day",
    ),
    (SessionKind::ObservationCounting, "Observation of counting"),
    (SessionKind::MockVoting, "Mock voting"),
    (
        SessionKind::SiteVisit,
        "Visit to the ballot printing centre",
    ),
    (SessionKind::CulturalProgram, "Cultural programme"),
    (SessionKind::Reception, "Welcome reception"),
];

const EVENT_KINDS: &[(EventKind, &str)] = &[
    (
        EventKind::ElectionVisitorProgram,
        "Election Visitor Program",
    ),
    (EventKind::Forum, "International Forum on Elections"),
    (EventKind::Seminar, "Seminar on Election Laws and Systems"),
    (
        EventKind::ElectionObservation,
        "Election Observation Mission",
    ),
    (EventKind::Training, "Training on Electoral Administration"),
    (
        EventKind::Conference,
        "Conference of Election Management Bodies",
    ),
];

/// Where an event stands, which decides its invitations' statuses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Held in the past.
    Past,
    /// Upcoming and open to invitations.
    Upcoming,
    /// Not yet published: invitations are drafts only.
    Draft,
    /// Upcoming but cancelled after invitations were answered.
    Cancelled,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date")
}

fn at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).expect("a valid hour"))
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid()
}

/// Everything the generator builds before writing it.
#[derive(Default)]
struct Rows {
    organizations: Vec<organization::Model>,
    events: Vec<event::Model>,
    co_hosts: Vec<event_co_host::Model>,
    sessions: Vec<session::Model>,
    invitations: Vec<invitation::Model>,
    delegations: Vec<delegation::Model>,
    participants: Vec<participant::Model>,
}

/// Indexes of the special organizations in `Rows::organizations`.
const HOST: usize = 0;
const AWEB: usize = 1;
const SMALL_PARTNER: usize = 6;
const LARGE_PARTNER: usize = 7;
/// Organizations 8..8+OTHER_HOSTS host some events too.
const OTHER_HOSTS: usize = 4;
const FIRST_ORDINARY: usize = 8 + OTHER_HOSTS;

fn check_sizes(s: &BenchSizes) -> anyhow::Result<()> {
    if s.organizations < FIRST_ORDINARY + INVITE_BATCH {
        anyhow::bail!(
            "--organizations must be at least {}: the named ones plus {INVITE_BATCH} to invite",
            FIRST_ORDINARY + INVITE_BATCH
        );
    }
    let largest = s.small_partner_invitations.max(s.large_partner_invitations);
    if s.events < 10 || s.events < largest + 3 {
        anyhow::bail!(
            "--events must be at least 10 and 3 more than the largest partner's invitations ({largest}): \
             an organization has one invitation per event and 3 events stay drafts"
        );
    }
    if s.sessions_per_event == 0 || s.sessions_per_event > 48 {
        anyhow::bail!("--sessions-per-event must be 1–48");
    }
    if s.invitations < s.small_partner_invitations + s.large_partner_invitations {
        anyhow::bail!("--invitations must cover the two partners' invitations");
    }
    if s.delegations > s.invitations {
        anyhow::bail!("--delegations cannot exceed --invitations (one per accepted invitation)");
    }
    Ok(())
}

fn organizations(
    s: &BenchSizes,
    rng: &mut StdRng,
    base: DateTime<Utc>,
) -> Vec<organization::Model> {
    let named: [(OrganizationKind, &str, Option<&str>, Option<&str>); FIRST_ORDINARY] = [
        (
            OrganizationKind::ElectionManagementBody,
            "National Election Commission",
            Some("NEC"),
            Some("KR"),
        ),
        (
            OrganizationKind::InternationalOrganization,
            "Association of World Election Bodies",
            Some("A-WEB"),
            None,
        ),
        (
            OrganizationKind::InternationalOrganization,
            "International Institute for Democracy and Electoral Assistance",
            Some("International IDEA"),
            None,
        ),
        (
            OrganizationKind::InternationalOrganization,
            "International Foundation for Electoral Systems",
            Some("IFES"),
            None,
        ),
        (
            OrganizationKind::DevelopmentAgency,
            "Korea International Cooperation Agency",
            Some("KOICA"),
            Some("KR"),
        ),
        (
            OrganizationKind::CivicEducationInstitute,
            "Korea Civic Education Institute for Democracy",
            Some("KOCEI"),
            Some("KR"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Central Election Commission of the Republic of Uzbekistan",
            Some("CEC"),
            Some("UZ"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Superior Electoral Court",
            Some("TSE"),
            Some("BR"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Electoral Commission",
            None,
            Some("GB"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Federal Election Commission",
            Some("FEC"),
            Some("US"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Central Election Commission of Bosnia and Herzegovina",
            None,
            Some("BA"),
        ),
        (
            OrganizationKind::ElectionManagementBody,
            "Electoral Commission of South Africa",
            Some("IEC"),
            Some("ZA"),
        ),
    ];
    (0..s.organizations)
        .map(|i| {
            let (kind, name, acronym, country) = match named.get(i) {
                Some(&(kind, name, acronym, country)) => {
                    (kind, name.to_owned(), acronym.map(str::to_owned), country)
                }
                None => {
                    let n = i - FIRST_ORDINARY;
                    let (code, country) = COUNTRIES[n % COUNTRIES.len()];
                    let round = n / COUNTRIES.len();
                    let prefix = EMB_NAMES[round % EMB_NAMES.len()];
                    // (name, country) is unique: past every prefix, number the rounds.
                    let name = match round / EMB_NAMES.len() {
                        0 => format!("{prefix} of {country}"),
                        k => format!("{prefix} of {country} ({})", k + 1),
                    };
                    let kind = if n % 17 == 16 {
                        OrganizationKind::ResearchInstitute
                    } else {
                        OrganizationKind::ElectionManagementBody
                    };
                    (kind, name, None, Some(code))
                }
            };
            let created = base + Duration::minutes(i as i64);
            organization::Model {
                id: uuid(rng),
                kind,
                website: Some(format!("https://www.example.org/emb/{i}")),
                contact_email: Some(format!("international@emb{i}.example.org")),
                local_name: None,
                acronym,
                country_code: country.map(str::to_owned),
                aweb_member: kind == OrganizationKind::ElectionManagementBody && i % 3 != 0,
                name,
                version: 1,
                created_at: created,
                updated_at: created,
            }
        })
        .collect()
}

/// The phase of each event: about a third in the past, three drafts and two
/// cancellations among the upcoming ones, the rest upcoming and published.
fn phases(events: usize) -> Vec<Phase> {
    let past = events * 3 / 10;
    (0..events)
        .map(|j| {
            if j < past {
                Phase::Past
            } else if j >= events - 3 {
                Phase::Draft
            } else if j >= events - 5 {
                Phase::Cancelled
            } else {
                Phase::Upcoming
            }
        })
        .collect()
}

fn events(
    s: &BenchSizes,
    rng: &mut StdRng,
    orgs: &[organization::Model],
    phases: &[Phase],
) -> (Vec<event::Model>, Vec<event_co_host::Model>) {
    let past = phases.iter().filter(|p| **p == Phase::Past).count();
    let mut events = Vec::with_capacity(s.events);
    let mut co_hosts = Vec::new();
    for (j, phase) in phases.iter().enumerate() {
        let (kind, kind_title) = EVENT_KINDS[j % EVENT_KINDS.len()];
        // Two events in three are the NEC's own; the rest rotate among other hosts.
        let host = if j % 3 == 2 {
            &orgs[8 + (j / 3) % OTHER_HOSTS]
        } else {
            &orgs[HOST]
        };
        let (start, year) = if *phase == Phase::Past {
            let start = day(2024, 2, 5) + Duration::days(j as i64 * 21);
            (start, start.format("%Y").to_string())
        } else {
            let start = day(2030, 1, 14) + Duration::days((j - past) as i64 * 9);
            (start, start.format("%Y").to_string())
        };
        let end = start + Duration::days(3 + (j % 5) as i64);
        let status = match phase {
            Phase::Past => EventStatus::Completed,
            Phase::Upcoming if j % 11 == 7 => EventStatus::Postponed,
            Phase::Upcoming => EventStatus::Published,
            Phase::Draft => EventStatus::Draft,
            Phase::Cancelled => EventStatus::Cancelled,
        };
        let created = at(start, 0) - Duration::days(120);
        let election = matches!(
            kind,
            EventKind::ElectionVisitorProgram | EventKind::ElectionObservation
        );
        let model = event::Model {
            id: uuid(rng),
            kind,
            host_organization_id: host.id,
            title: format!("{year} {kind_title} #{}", j + 1),
            description: Some(format!(
                "The {kind_title} hosted by the {}: briefings, sessions and exchanges between \
                 election management bodies.",
                host.name
            )),
            election_name: election.then(|| format!("{year} general election")),
            election_date: election.then(|| start + Duration::days(2)),
            venue: Some("Convention Centre".to_owned()),
            city: Some(if host.id == orgs[HOST].id {
                "Seoul".to_owned()
            } else {
                "Capital City".to_owned()
            }),
            country_code: host.country_code.clone(),
            time_zone: "Asia/Seoul".to_owned(),
            start_date: start,
            end_date: end,
            date_status: if j % 7 == 3 && *phase == Phase::Upcoming {
                DateStatus::Tentative
            } else {
                DateStatus::Confirmed
            },
            status,
            participation_mode: ParticipationMode::InvitationOnly,
            application_deadline: None,
            max_delegations: Some(200),
            max_participants: Some(2_000),
            held_alongside_event_id: None,
            published_at: (status != EventStatus::Draft).then(|| created + Duration::days(1)),
            personal_data_retention_days: None,
            version: 1,
            created_at: created,
            updated_at: created,
        };
        if kind == EventKind::ElectionVisitorProgram && host.id == orgs[HOST].id {
            co_hosts.push(event_co_host::Model {
                event_id: model.id,
                organization_id: orgs[AWEB].id,
                created_at: created,
                // Read-only, as co-hosts were before permissions existed.
                may_invite: false,
                may_manage_agenda: false,
                may_review_applications: false,
                may_view_activity: false,
            });
        }
        events.push(model);
    }
    (events, co_hosts)
}

fn sessions(s: &BenchSizes, rng: &mut StdRng, events: &[event::Model]) -> Vec<session::Model> {
    let mut rows = Vec::with_capacity(events.len() * s.sessions_per_event);
    for e in events {
        let days = (e.end_date - e.start_date).num_days() as usize + 1;
        for k in 0..s.sessions_per_event {
            let (kind, title) = SESSION_KINDS[k % SESSION_KINDS.len()];
            // Spread over the event's days, from 09:00 Seoul time (00:00 UTC), 90 minutes each.
            let date = e.start_date + Duration::days((k % days) as i64);
            let starts = at(date, 0) + Duration::minutes(120 * (k / days) as i64);
            rows.push(session::Model {
                id: uuid(rng),
                event_id: e.id,
                kind,
                title: title.to_owned(),
                topic: Some(format!("Topic {} of {}", k + 1, e.title)),
                description: None,
                starts_at: starts,
                ends_at: starts + Duration::minutes(90),
                location: Some(format!("Room {}", 101 + k % 6)),
                proposed_by_organization_id: None,
                version: 1,
                created_at: e.created_at,
                updated_at: e.created_at,
            });
        }
    }
    rows
}

/// Which organizations each event invites: the two partners on their own events,
/// the rest spread evenly, never the host.
fn invitees(
    s: &BenchSizes,
    rng: &mut StdRng,
    orgs: &[organization::Model],
    events: &[event::Model],
    phases: &[Phase],
) -> anyhow::Result<Vec<(usize, usize)>> {
    let visible: Vec<usize> = (0..events.len())
        .filter(|j| phases[*j] != Phase::Draft)
        .collect();
    let mut pairs = Vec::with_capacity(s.invitations);
    for (partner, count) in [
        (SMALL_PARTNER, s.small_partner_invitations),
        (LARGE_PARTNER, s.large_partner_invitations),
    ] {
        let mut chosen = visible.clone();
        chosen.shuffle(rng);
        pairs.extend(chosen.into_iter().take(count).map(|j| (j, partner)));
    }
    let candidates: Vec<usize> = (AWEB..orgs.len())
        .filter(|o| *o != SMALL_PARTNER && *o != LARGE_PARTNER)
        .collect();
    let mut left = s.invitations - pairs.len();
    for j in 0..events.len() {
        let quota = left.div_ceil(events.len() - j);
        let mut pool: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|o| orgs[*o].id != events[j].host_organization_id)
            .collect();
        pool.shuffle(rng);
        let take = quota.min(pool.len());
        pairs.extend(pool.into_iter().take(take).map(|o| (j, o)));
        left -= take;
    }
    if left > 0 {
        anyhow::bail!(
            "{} invitations do not fit: raise --organizations or --events",
            s.invitations
        );
    }
    Ok(pairs)
}

fn statuses(
    s: &BenchSizes,
    rng: &mut StdRng,
    pairs: &[(usize, usize)],
    phases: &[Phase],
) -> anyhow::Result<Vec<InvitationStatus>> {
    let partner = |o: usize| o == SMALL_PARTNER || o == LARGE_PARTNER;
    // Exactly `delegations` accepted: four in five of the partners' invitations
    // first (their dashboards show delegations), then others at random.
    let mut accepted = vec![false; pairs.len()];
    let eligible = |i: &usize| phases[pairs[*i].0] != Phase::Draft;
    let mut partners: Vec<usize> = (0..pairs.len())
        .filter(|i| partner(pairs[*i].1) && eligible(i))
        .collect();
    partners.shuffle(rng);
    let mut others: Vec<usize> = (0..pairs.len())
        .filter(|i| !partner(pairs[*i].1) && eligible(i))
        .collect();
    others.shuffle(rng);
    let from_partners = (partners.len() * 4 / 5).min(s.delegations);
    let order = partners
        .iter()
        .take(from_partners)
        .chain(others.iter())
        .chain(partners.iter().skip(from_partners));
    let mut count = 0;
    for i in order.take(s.delegations) {
        accepted[*i] = true;
        count += 1;
    }
    if count < s.delegations {
        anyhow::bail!(
            "only {count} invitations can be accepted (the rest are on draft events): lower --delegations"
        );
    }
    Ok(pairs
        .iter()
        .enumerate()
        .map(|(i, (j, o))| {
            if accepted[i] {
                return InvitationStatus::Accepted;
            }
            let roll = rng.gen_range(0..100);
            match phases[*j] {
                Phase::Draft => InvitationStatus::Draft,
                Phase::Past if roll < 60 => InvitationStatus::Declined,
                Phase::Past => InvitationStatus::Expired,
                Phase::Cancelled if roll < 50 => InvitationStatus::Declined,
                Phase::Cancelled => InvitationStatus::Withdrawn,
                // Partners' dashboards never hold drafts (a partner cannot see them).
                Phase::Upcoming if roll < 12 && !partner(*o) => InvitationStatus::Draft,
                Phase::Upcoming if roll < 60 => InvitationStatus::Sent,
                Phase::Upcoming if roll < 95 => InvitationStatus::Declined,
                Phase::Upcoming => InvitationStatus::Withdrawn,
            }
        })
        .collect())
}

fn invitations(
    rng: &mut StdRng,
    pairs: &[(usize, usize)],
    statuses: &[InvitationStatus],
    orgs: &[organization::Model],
    events: &[event::Model],
) -> Vec<invitation::Model> {
    pairs
        .iter()
        .zip(statuses)
        .enumerate()
        .map(|(i, (&(j, o), &status))| {
            let e = &events[j];
            let seats = rng.gen_range(3..=8);
            let funded = if rng.gen_bool(0.4) {
                0
            } else {
                rng.gen_range(1..=seats)
            };
            let covers: &[FundingItem] = if funded == 0 {
                &[]
            } else if i % 2 == 0 {
                &[FundingItem::Airfare, FundingItem::Accommodation]
            } else {
                &[
                    FundingItem::Accommodation,
                    FundingItem::Meals,
                    FundingItem::LocalTransport,
                ]
            };
            // Distinct creation times keep the (created_at, id) order stable.
            let created = e.created_at + Duration::days(2) + Duration::seconds(i as i64);
            let sent = (status != InvitationStatus::Draft).then(|| created + Duration::hours(1));
            let responded = matches!(
                status,
                InvitationStatus::Accepted | InvitationStatus::Declined
            )
            .then(|| created + Duration::days(10));
            invitation::Model {
                id: uuid(rng),
                event_id: e.id,
                organization_id: orgs[o].id,
                sent_by_client_id: None,
                status,
                seats_offered: seats,
                funded_seats: funded,
                funding_covers: json!(covers),
                respond_by: Some(at(e.start_date, 0) - Duration::days(30)),
                message: Some(format!(
                    "The {} is pleased to invite a delegation of the {} to the {}.",
                    orgs[HOST].name, orgs[o].name, e.title
                )),
                sent_at: sent,
                responded_at: responded,
                response_note: (status == InvitationStatus::Declined)
                    .then(|| "We regret that we cannot attend.".to_owned()),
                seats_accepted: (status == InvitationStatus::Accepted).then_some(seats),
                expires_at: Some(Ord::min(
                    at(e.start_date, 0) - Duration::days(30),
                    crate::service::events::ends_at(e),
                )),
                version: 1 + i32::from(sent.is_some()) + i32::from(responded.is_some()),
                created_at: created,
                updated_at: responded.or(sent).unwrap_or(created),
            }
        })
        .collect()
}

/// Delegations of the accepted invitations, and their members.
fn delegations(
    s: &BenchSizes,
    rng: &mut StdRng,
    invitations: &[invitation::Model],
    orgs: &[organization::Model],
    events: &[event::Model],
) -> anyhow::Result<(Vec<delegation::Model>, Vec<participant::Model>)> {
    let accepted: Vec<&invitation::Model> = invitations
        .iter()
        .filter(|i| i.status == InvitationStatus::Accepted)
        .collect();
    // Every delegation gets one member (its head) while there are enough, then
    // the other members fill free seats at random, never past the seats offered.
    let mut sizes = vec![0; accepted.len()];
    for size in sizes.iter_mut().take(s.participants) {
        *size = 1;
    }
    let mut free: Vec<usize> = accepted
        .iter()
        .enumerate()
        .flat_map(|(d, i)| std::iter::repeat_n(d, i.seats_offered as usize - sizes[d]))
        .collect();
    let extra = s.participants.saturating_sub(sizes.iter().sum());
    if extra > free.len() {
        anyhow::bail!(
            "{} participants do not fit in the seats offered: lower --participants",
            s.participants
        );
    }
    free.shuffle(rng);
    for d in free.into_iter().take(extra) {
        sizes[d] += 1;
    }

    let event_of = |id: Uuid| events.iter().find(|e| e.id == id).expect("invited event");
    let country_of = |id: Uuid| {
        orgs.iter()
            .find(|o| o.id == id)
            .and_then(|o| o.country_code.clone())
    };
    let mut delegations = Vec::with_capacity(accepted.len());
    let mut participants = Vec::with_capacity(s.participants);
    for (invitation, size) in accepted.into_iter().zip(sizes) {
        let e = event_of(invitation.event_id);
        let status = match e.status {
            EventStatus::Completed => DelegationStatus::Confirmed,
            EventStatus::Cancelled => DelegationStatus::Cancelled,
            _ if rng.gen_bool(0.5) => DelegationStatus::Confirmed,
            _ => DelegationStatus::Forming,
        };
        let created = invitation.responded_at.unwrap_or(invitation.created_at);
        let id = uuid(rng);
        let country = country_of(invitation.organization_id);
        let mut head = None;
        for k in 0..size {
            let n = participants.len();
            let pid = uuid(rng);
            let role = match k {
                0 => ParticipantRole::Head,
                k if k % 4 == 3 => ParticipantRole::Interpreter,
                k if k % 5 == 4 => ParticipantRole::Speaker,
                _ => ParticipantRole::Member,
            };
            if k == 0 {
                head = Some(pid);
            }
            let joined = created + Duration::minutes(k as i64 + 1);
            participants.push(participant::Model {
                id: pid,
                delegation_id: id,
                full_name: format!(
                    "{} {}",
                    FIRST_NAMES[n % FIRST_NAMES.len()],
                    LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()]
                ),
                local_name: None,
                position: Some(
                    if role == ParticipantRole::Interpreter {
                        "Interpreter"
                    } else {
                        POSITIONS[n % POSITIONS.len()]
                    }
                    .to_owned(),
                ),
                role,
                email: Some(format!("delegate{n}@emb.example.org")),
                dietary_needs: (n % 9 == 0).then(|| "Vegetarian".to_owned()),
                accessibility_needs: (n % 41 == 0).then(|| "Wheelchair access".to_owned()),
                funded: (k as i32) < invitation.funded_seats,
                needs_visa_support: n % 3 == 0,
                nationality: country.clone(),
                date_of_birth: Some(day(
                    1960 + (n % 36) as i32,
                    1 + (n % 12) as u32,
                    1 + (n % 28) as u32,
                )),
                passport_number: Some(format!("P{:08}", rng.gen_range(0..100_000_000))),
                personal_data_erased_at: None,
                version: 1,
                created_at: joined,
                updated_at: joined,
            });
        }
        delegations.push(delegation::Model {
            id,
            event_id: invitation.event_id,
            organization_id: invitation.organization_id,
            invitation_id: invitation.id,
            status,
            head_participant_id: head,
            arrival_at: Some(at(e.start_date - Duration::days(1), 6)),
            departure_at: Some(at(e.end_date + Duration::days(1), 3)),
            notes: (rng.gen_bool(0.3)).then(|| "Arrives on the morning flight.".to_owned()),
            version: 1,
            created_at: created,
            updated_at: created,
        });
    }
    Ok((delegations, participants))
}

fn build(s: &BenchSizes) -> anyhow::Result<Rows> {
    check_sizes(s)?;
    let mut rng = StdRng::seed_from_u64(s.rng_seed);
    let base = at(day(2023, 1, 2), 0);
    let organizations = organizations(s, &mut rng, base);
    let phases = phases(s.events);
    let (events, co_hosts) = events(s, &mut rng, &organizations, &phases);
    let sessions = sessions(s, &mut rng, &events);
    let pairs = invitees(s, &mut rng, &organizations, &events, &phases)?;
    let statuses = statuses(s, &mut rng, &pairs, &phases)?;
    let invitations = invitations(&mut rng, &pairs, &statuses, &organizations, &events);
    let (delegations, participants) =
        delegations(s, &mut rng, &invitations, &organizations, &events)?;
    Ok(Rows {
        organizations,
        events,
        co_hosts,
        sessions,
        invitations,
        delegations,
        participants,
    })
}

/// Inserts `models` with multi-row statements, each below the bind-parameter limit.
async fn insert_all<A>(
    txn: &DatabaseTransaction,
    models: Vec<<A::Entity as EntityTrait>::Model>,
) -> anyhow::Result<()>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let columns = <A::Entity as EntityTrait>::Column::iter().count();
    let per_statement = (MAX_BIND_PARAMETERS / columns).max(1);
    let mut rows = models.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows
            .by_ref()
            .take(per_statement)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

async fn client(
    db: &DatabaseConnection,
    organization_id: Uuid,
    role: Role,
    name: &str,
) -> anyhow::Result<BenchClient> {
    let created = clients::register(db, organization_id, &[role], name)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    Ok(BenchClient {
        organization_id,
        client_id: created.info.id,
        client_secret: created.secret,
    })
}

/// Generates the benchmark data set into an empty database.
pub async fn generate(
    db: &DatabaseConnection,
    sizes: &BenchSizes,
    keys: &crate::service::personal_data::DataKeys,
) -> anyhow::Result<BenchFixture> {
    if organization::Entity::find().count(db).await? > 0 {
        anyhow::bail!(
            "the benchmark data set goes into an empty database; this one has organizations"
        );
    }
    let rows = build(sizes)?;
    let counts = json!({
        "organizations": rows.organizations.len(),
        "events": rows.events.len(),
        "event_co_hosts": rows.co_hosts.len(),
        "sessions": rows.sessions.len(),
        "invitations": rows.invitations.len(),
        "delegations": rows.delegations.len(),
        "participants": rows.participants.len(),
    });
    let orgs: Vec<Uuid> = rows.organizations.iter().map(|o| o.id).collect();
    let large_partner = orgs[LARGE_PARTNER];
    let delegation_ids: Vec<Uuid> = rows
        .delegations
        .iter()
        .filter(|d| d.organization_id == large_partner && d.status != DelegationStatus::Cancelled)
        .map(|d| d.id)
        .collect();
    let event_id = rows
        .events
        .iter()
        .find(|e| e.status == EventStatus::Published)
        .map(|e| e.id)
        .ok_or_else(|| anyhow::anyhow!("no published event was generated"))?;

    let txn = db.begin().await?;
    insert_all::<organization::ActiveModel>(&txn, rows.organizations).await?;
    insert_all::<event::ActiveModel>(&txn, rows.events).await?;
    insert_all::<event_co_host::ActiveModel>(&txn, rows.co_hosts).await?;
    insert_all::<session::ActiveModel>(&txn, rows.sessions).await?;
    insert_all::<invitation::ActiveModel>(&txn, rows.invitations).await?;
    insert_all::<delegation::ActiveModel>(&txn, rows.delegations).await?;
    // Sealed as the service layer would, so the benchmark pays for decryption.
    let participants = rows
        .participants
        .iter()
        .map(|p| crate::service::personal_data::seal_row(keys, p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("cannot seal the participants: {e:?}"))?;
    insert_all::<participant::ActiveModel>(&txn, participants).await?;
    txn.commit().await?;

    Ok(BenchFixture {
        host_id: orgs[HOST],
        small_partner: client(
            db,
            orgs[SMALL_PARTNER],
            Role::Partner,
            "bench small partner",
        )
        .await?,
        small_partner_invitations: sizes.small_partner_invitations,
        large_partner: client(db, large_partner, Role::Partner, "bench large partner").await?,
        large_partner_invitations: sizes.large_partner_invitations,
        coordinator: client(db, orgs[HOST], Role::Coordinator, "bench coordinator").await?,
        event_id,
        delegation_ids,
        invite_organization_ids: orgs[FIRST_ORDINARY..FIRST_ORDINARY + INVITE_BATCH].to_vec(),
        rows: counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> BenchSizes {
        BenchSizes {
            organizations: 170,
            events: 20,
            sessions_per_event: 4,
            invitations: 400,
            delegations: 200,
            participants: 700,
            small_partner_invitations: 5,
            large_partner_invitations: 15,
            rng_seed: 7,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let a = build(&small()).unwrap();
        let b = build(&small()).unwrap();
        assert_eq!(a.participants, b.participants);
        assert_eq!(a.invitations, b.invitations);
        let other = build(&BenchSizes {
            rng_seed: 8,
            ..small()
        })
        .unwrap();
        assert_ne!(a.invitations[0].id, other.invitations[0].id);
    }

    #[test]
    fn the_rows_keep_the_domain_rules_and_the_sizes_asked_for() {
        let s = small();
        let rows = build(&s).unwrap();
        assert_eq!(rows.organizations.len(), s.organizations);
        assert_eq!(rows.sessions.len(), s.events * s.sessions_per_event);
        assert_eq!(rows.invitations.len(), s.invitations);
        assert_eq!(rows.delegations.len(), s.delegations);
        assert_eq!(rows.participants.len(), s.participants);

        let names: std::collections::HashSet<_> = rows
            .organizations
            .iter()
            .map(|o| (&o.name, &o.country_code))
            .collect();
        assert_eq!(
            names.len(),
            rows.organizations.len(),
            "names unique per country"
        );
        let event = |id| rows.events.iter().find(|e| e.id == id).unwrap();
        let mut pairs = std::collections::HashSet::new();
        for i in &rows.invitations {
            let e = event(i.event_id);
            assert!(
                pairs.insert((i.event_id, i.organization_id)),
                "one per pair"
            );
            assert_ne!(i.organization_id, e.host_organization_id);
            assert!(i.funded_seats <= i.seats_offered);
            if e.status == EventStatus::Draft {
                assert_eq!(i.status, InvitationStatus::Draft);
            }
        }
        for partner in [SMALL_PARTNER, LARGE_PARTNER] {
            let id = rows.organizations[partner].id;
            let theirs: Vec<_> = rows
                .invitations
                .iter()
                .filter(|i| i.organization_id == id)
                .collect();
            let expected = if partner == SMALL_PARTNER { 5 } else { 15 };
            assert_eq!(theirs.len(), expected);
            assert!(theirs.iter().all(|i| i.status != InvitationStatus::Draft));
        }
        for d in &rows.delegations {
            let i = rows
                .invitations
                .iter()
                .find(|i| i.id == d.invitation_id)
                .unwrap();
            assert_eq!(i.status, InvitationStatus::Accepted);
            let members: Vec<_> = rows
                .participants
                .iter()
                .filter(|p| p.delegation_id == d.id)
                .collect();
            assert!(members.len() <= i.seats_offered as usize);
            assert!(members.iter().filter(|p| p.funded).count() <= i.funded_seats as usize);
            assert_eq!(d.head_participant_id, members.first().map(|p| p.id));
        }
        for session in &rows.sessions {
            let e = event(session.event_id);
            assert!(session.starts_at.date_naive() >= e.start_date);
            assert!(session.ends_at.date_naive() <= e.end_date);
        }
    }

    #[test]
    fn sizes_that_cannot_hold_are_refused() {
        let too_many = BenchSizes {
            participants: 100_000,
            ..small()
        };
        assert!(build(&too_many).is_err());
        let too_few_events = BenchSizes {
            events: 12,
            ..small()
        };
        assert!(build(&too_few_events).is_err());
    }
}
