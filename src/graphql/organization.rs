//! GraphQL surface of the organization directory.

use super::scalars::IsoDateTime;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::connection::{DateTimeInput, connection_type, page_request, patch};
use super::context::{loader, service};
use super::ids::{self, NodeType};
use super::loaders::ExternalIdsOfOrganization;
use crate::domain::OrganizationKind;
use crate::entity::organization;
use crate::error::AppError;
use crate::service::directory::{self, ExternalIdRef};
use crate::service::organizations::{
    self, NewOrganization, OrganizationChanges, OrganizationFilter as Filter, OrganizationSortField,
};
use crate::service::pagination::SortDirection;

/// An election management body or partner organization in the directory.
pub struct Organization(pub organization::Model);

/// An election management body or partner organization in the directory.
#[Object]
impl Organization {
    /// Global id, usable with `node(id:)`.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Organization, self.0.id)
    }
    /// What kind of body this is.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind
    }
    /// Name in English.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Name in the organization's own language, if different.
    async fn local_name(&self) -> Option<&str> {
        self.0.local_name.as_deref()
    }
    /// Short name, such as `NEC` or `A-WEB`.
    async fn acronym(&self) -> Option<&str> {
        self.0.acronym.as_deref()
    }
    /// ISO 3166-1 alpha-2 code of the country it serves; none for international bodies.
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    /// Public website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Address for international cooperation matters.
    async fn contact_email(&self) -> Option<&str> {
        self.0.contact_email.as_deref()
    }
    /// Whether it is a member of the Association of World Election Bodies: set
    /// by the `AWEB` directory source (true for every entry A-WEB's sync writes
    /// and every organization linked to an AWEB id), not by hand.
    async fn aweb_member(&self) -> bool {
        self.0.aweb_member
    }
    /// The organization's ids in other systems' directories (at most one per
    /// source), by source.
    async fn external_ids(&self, ctx: &Context<'_>) -> Result<Vec<ExternalId>> {
        Ok(loader::<ExternalIdsOfOrganization>(ctx)?
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|x| ExternalId {
                source: x.source,
                id: x.external_id,
            })
            .collect())
    }
    /// Increases with every change; pass it as `expectedVersion` to update safely.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When the organization was added.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When the organization last changed.
    async fn updated_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
    /// The changes to this organization's directory entry, newest first, in API
    /// form (see `ActivityEntry`). For ADMIN; null for anyone else. (The
    /// activity of the events it hosts is `Event.activity`, for their hosts.)
    #[allow(clippy::too_many_arguments)]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the entries must meet.")] filter: Option<
            super::activity::ActivityFilterInput,
        >,
    ) -> Result<Option<super::activity::ActivityConnection>> {
        super::activity::of_organization(
            ctx,
            self.0.id,
            super::connection::page_request(first, after, last, before),
            filter,
        )
        .await
    }
}

/// An organization's id in another system's directory, such as A-WEB's member list.
#[derive(SimpleObject, Clone)]
pub struct ExternalId {
    /// The directory source's code, such as `AWEB`.
    pub source: String,
    /// The id within that source (compared exactly).
    pub id: String,
}

/// An id in a directory source, to name an organization by.
#[derive(InputObject, Clone)]
pub struct ExternalIdInput {
    /// The directory source's code, such as `AWEB` (uppercased).
    pub source: String,
    /// The id within that source (compared exactly, surrounding spaces trimmed).
    pub id: String,
}

impl ExternalIdInput {
    /// Validates it; `field` names the input in errors.
    pub fn parse(&self, field: &str) -> Result<ExternalIdRef, AppError> {
        ExternalIdRef::parse(&self.source, &self.id, field)
    }
}

/// Narrows the organization directory; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct OrganizationFilter {
    /// Only these kinds.
    kinds: Option<Vec<OrganizationKind>>,
    /// Only organizations of this country (ISO 3166-1 alpha-2).
    country_code: Option<String>,
    /// Only A-WEB members (true) or non-members (false).
    aweb_member: Option<bool>,
    /// Text found in the name, local name or acronym, ignoring case.
    search: Option<String>,
    /// Only organizations whose directory entry changed after this instant
    /// (strictly after). To catch up, pass the largest `updatedAt` you hold, less
    /// a safety margin (a change is stamped a moment before it commits, and
    /// instances' clocks differ), with `orderBy: {field: UPDATED_AT}`, and skip
    /// what you already hold (same id and `updatedAt`).
    updated_since: Option<DateTimeInput>,
    /// Only organizations with an id in this directory source (such as `AWEB`).
    source: Option<String>,
}

impl TryFrom<OrganizationFilter> for Filter {
    type Error = AppError;

    fn try_from(f: OrganizationFilter) -> Result<Self, AppError> {
        Ok(Filter {
            kinds: f.kinds,
            country_code: f.country_code,
            aweb_member: f.aweb_member,
            search: f.search,
            updated_since: DateTimeInput::parse_optional(f.updated_since, "filter.updatedSince")?,
            source: f.source,
        })
    }
}

/// Sort order of the organization directory.
#[derive(InputObject)]
pub struct OrganizationOrder {
    /// What to sort by.
    #[graphql(default_with = "OrganizationSortField::Name")]
    field: OrganizationSortField,
    /// Which way.
    #[graphql(default_with = "SortDirection::Asc")]
    direction: SortDirection,
}

connection_type!(
    OrganizationConnection,
    OrganizationEdge,
    Organization,
    Filter,
    organizations::count,
    "A page of organizations.",
    "An organization in a page, with its cursor."
);

impl From<organization::Model> for Organization {
    fn from(model: organization::Model) -> Self {
        Organization(model)
    }
}

/// Input of `createOrganization`.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// What kind of body it is.
    kind: OrganizationKind,
    /// Name in English; unique within its country.
    name: String,
    /// Name in its own language.
    local_name: Option<String>,
    /// Short name.
    acronym: Option<String>,
    /// ISO 3166-1 alpha-2 country code; required for election management bodies.
    country_code: Option<String>,
    /// Public website (http or https).
    website: Option<String>,
    /// Contact e-mail address.
    contact_email: Option<String>,
}

/// Input of `updateOrganization`: omitted fields stay, `null` clears optional ones.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// The organization to change.
    id: ID,
    /// The version you read; the update fails with CONFLICT if it changed since.
    expected_version: Option<i32>,
    /// New kind.
    kind: Option<OrganizationKind>,
    /// New name.
    name: Option<String>,
    /// New local-language name.
    local_name: MaybeUndefined<String>,
    /// New acronym.
    acronym: MaybeUndefined<String>,
    /// New country: ISO 3166-1 alpha-2 code, two letters such as `KR`.
    country_code: MaybeUndefined<String>,
    /// New website.
    website: MaybeUndefined<String>,
    /// New contact e-mail address.
    contact_email: MaybeUndefined<String>,
}

/// Result of `createOrganization`.
#[derive(SimpleObject)]
pub struct CreateOrganizationPayload {
    /// The new organization.
    organization: Organization,
}

/// Result of `updateOrganization`.
#[derive(SimpleObject)]
pub struct UpdateOrganizationPayload {
    /// The organization as changed.
    organization: Organization,
}

#[derive(Default)]
pub struct OrganizationQuery;

#[Object]
impl OrganizationQuery {
    /// The organization directory, a page at a time.
    #[allow(clippy::too_many_arguments)]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size from the start (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Page size from the end (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
        #[graphql(desc = "Conditions the organizations must meet.")] filter: Option<
            OrganizationFilter,
        >,
        #[graphql(desc = "Sort order (default: by name, ascending).")] order_by: Option<
            OrganizationOrder,
        >,
    ) -> Result<OrganizationConnection> {
        let cx = service(ctx)?;
        let filter = Filter::try_from(filter.unwrap_or_default())?;
        let sort = order_by.map_or((OrganizationSortField::Name, SortDirection::Asc), |o| {
            (o.field, o.direction)
        });
        let page =
            organizations::list(cx, &filter, sort, &page_request(first, after, last, before))
                .await?;
        Ok(OrganizationConnection::new(page, filter))
    }

    /// One organization, by global id or by its id in a directory source (give
    /// exactly one). An unknown global id is null with a NOT_FOUND error; an
    /// unknown external id is null without error (a sync asks before creating).
    async fn organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the organization.")] id: Option<ID>,
        #[graphql(desc = "The organization's id in a directory source, such as AWEB's.")]
        external_id: Option<ExternalIdInput>,
    ) -> Result<Option<Organization>> {
        let cx = service(ctx)?;
        match (id, external_id) {
            (Some(id), None) => {
                let id = ids::decode(&id, NodeType::Organization, "id")?;
                Ok(Some(Organization(organizations::get(cx, id).await?)))
            }
            (None, Some(external_id)) => {
                let external_id = external_id.parse("externalId")?;
                Ok(directory::find(cx, &external_id).await?.map(Organization))
            }
            _ => Err(AppError::invalid("id", "give exactly one of `id` and `externalId`").into()),
        }
    }
}

#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// Adds an organization to the directory (ADMIN).
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new organization.")] input: CreateOrganizationInput,
    ) -> Result<CreateOrganizationPayload> {
        let created = organizations::create(
            service(ctx)?,
            NewOrganization {
                kind: input.kind,
                name: input.name,
                local_name: input.local_name,
                acronym: input.acronym,
                country_code: input.country_code,
                website: input.website,
                contact_email: input.contact_email,
            },
        )
        .await?;
        Ok(CreateOrganizationPayload {
            organization: Organization(created),
        })
    }

    /// Changes an organization (ADMIN).
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization and the changes.")] input: UpdateOrganizationInput,
    ) -> Result<UpdateOrganizationPayload> {
        let id = ids::decode(&input.id, NodeType::Organization, "id")?;
        let updated = organizations::update(
            service(ctx)?,
            id,
            OrganizationChanges {
                expected_version: input.expected_version,
                kind: input.kind,
                name: input.name,
                local_name: patch(input.local_name),
                acronym: patch(input.acronym),
                country_code: patch(input.country_code),
                website: patch(input.website),
                contact_email: patch(input.contact_email),
            },
        )
        .await?;
        Ok(UpdateOrganizationPayload {
            organization: Organization(updated),
        })
    }
}
