//! GraphQL surface of directory sources and external ids: A-WEB's system keeping
//! its members' entries in sync, administrators registering sources and linking
//! entries.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::context::{load_one, service};
use super::ids::{self, NodeType};
use super::loaders::OrganizationLoader;
use super::organization::{ExternalId, Organization};
use super::scalars::IsoDateTime;
use crate::domain::OrganizationKind;
use crate::entity::{directory_source, organization};
use crate::error::AppError;
use crate::service::directory::{self, DirectoryItem, UpsertOutcome, Upserted};

/// A system whose directory embhub mirrors, and the organization that keeps it.
pub struct DirectorySource(directory_source::Model);

/// A system whose directory embhub mirrors (such as A-WEB's member list), and the
/// organization whose system keeps its entries in sync.
#[Object]
impl DirectorySource {
    /// The source's code, such as `AWEB`: the `source` of external ids.
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// The organization whose DIRECTORY clients upsert the source's entries.
    async fn steward(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_one::<OrganizationLoader, organization::Model>(ctx, self.0.steward_organization_id)
            .await?
            .map(Organization)
            .ok_or_else(|| {
                AppError::NotFound {
                    entity: "organization",
                }
                .into()
            })
    }
    /// When the source was registered.
    async fn created_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
}

/// One organization as the source's system knows it. Every field is the entry's
/// whole state: an optional field left out is cleared.
#[derive(InputObject)]
pub struct DirectoryItemInput {
    /// The organization's id in the source (one line, at most 100 characters).
    external_id: String,
    /// What kind of body it is.
    kind: OrganizationKind,
    /// Name in English; unique within its country.
    name: String,
    /// Name in its own language.
    local_name: Option<String>,
    /// Short name; unique across the directory.
    acronym: Option<String>,
    /// ISO 3166-1 alpha-2 country code; required for election management bodies.
    country_code: Option<String>,
    /// Public website (http or https).
    website: Option<String>,
    /// Contact e-mail address.
    contact_email: Option<String>,
}

impl From<DirectoryItemInput> for DirectoryItem {
    fn from(i: DirectoryItemInput) -> Self {
        DirectoryItem {
            external_id: i.external_id,
            kind: i.kind,
            name: i.name,
            local_name: i.local_name,
            acronym: i.acronym,
            country_code: i.country_code,
            website: i.website,
            contact_email: i.contact_email,
        }
    }
}

/// Input of `upsertOrganizations`.
#[derive(InputObject)]
pub struct UpsertOrganizationsInput {
    /// The directory source, such as `AWEB`; the caller's organization must be
    /// its steward.
    source: String,
    /// The entries, at most 500, each at most once.
    items: Vec<DirectoryItemInput>,
}

/// Why an item was refused.
#[derive(SimpleObject)]
pub struct DirectoryItemError {
    /// The item's field at fault, as the API names it (`name`, `countryCode`,
    /// `acronym`, `externalId`, …).
    field: String,
    /// What is wrong.
    message: String,
    /// `BAD_USER_INPUT` (fix the item) or `CONFLICT` (it clashes with an existing
    /// organization).
    code: String,
    /// For a CONFLICT with an existing organization (same name in the country,
    /// same acronym) that does not carry this external id: its global id. An
    /// administrator may link it (`linkExternalId`) if it is the same body.
    existing_id: Option<ID>,
}

/// What `upsertOrganizations` did with one item.
#[derive(SimpleObject)]
pub struct UpsertOrganizationResult {
    /// The item's external id.
    external_id: ExternalId,
    /// Created, updated, unchanged, or rejected (then nothing of it was written).
    outcome: UpsertOutcome,
    /// The entry with this external id as it now reads; for a rejected item,
    /// the entry as it was (null if there is none).
    organization: Option<Organization>,
    /// Why the item was rejected; empty otherwise.
    errors: Vec<DirectoryItemError>,
}

/// Result of `upsertOrganizations`.
#[derive(SimpleObject)]
pub struct UpsertOrganizationsPayload {
    /// One result per item, in the order sent.
    results: Vec<UpsertOrganizationResult>,
    /// How many items created an organization.
    created: i32,
    /// How many items changed one.
    updated: i32,
    /// How many items found their entry as sent.
    unchanged: i32,
    /// How many items were refused.
    rejected: i32,
}

impl UpsertOrganizationsPayload {
    fn new(Upserted { source, results }: Upserted) -> Self {
        let count = |outcome| {
            i32::try_from(results.iter().filter(|r| r.outcome == outcome).count())
                .unwrap_or(i32::MAX)
        };
        let (created, updated, unchanged, rejected) = (
            count(UpsertOutcome::Created),
            count(UpsertOutcome::Updated),
            count(UpsertOutcome::Unchanged),
            count(UpsertOutcome::Rejected),
        );
        let results = results
            .into_iter()
            .map(|r| UpsertOrganizationResult {
                external_id: ExternalId {
                    source: source.clone(),
                    id: r.external_id,
                },
                outcome: r.outcome,
                organization: r.organization.map(Organization),
                errors: r
                    .errors
                    .into_iter()
                    .map(|e| DirectoryItemError {
                        field: e.field,
                        message: e.message,
                        code: e.code.to_owned(),
                        existing_id: e
                            .existing
                            .map(|x| ID(crate::graphql::global_id(x.type_name, x.id))),
                    })
                    .collect(),
            })
            .collect();
        Self {
            results,
            created,
            updated,
            unchanged,
            rejected,
        }
    }
}

/// Input of `linkExternalId`.
#[derive(InputObject)]
pub struct LinkExternalIdInput {
    /// The organization.
    organization_id: ID,
    /// The registered directory source, such as `AWEB`.
    source: String,
    /// The organization's id in that source.
    id: String,
}

/// Input of `unlinkExternalId`.
#[derive(InputObject)]
pub struct UnlinkExternalIdInput {
    /// The organization.
    organization_id: ID,
    /// The source whose id it loses.
    source: String,
}

/// Result of `linkExternalId` and `unlinkExternalId`.
#[derive(SimpleObject)]
pub struct ExternalIdPayload {
    /// The organization with its external ids as they now are.
    organization: Organization,
}

/// Input of `registerDirectorySource`.
#[derive(InputObject)]
pub struct RegisterDirectorySourceInput {
    /// The source's code: 2 to 20 letters, digits, `_` or `-` (uppercased).
    source: String,
    /// The organization whose DIRECTORY clients will maintain the source's entries.
    steward_organization_id: ID,
}

/// Result of `registerDirectorySource`.
#[derive(SimpleObject)]
pub struct RegisterDirectorySourcePayload {
    /// The source as registered.
    directory_source: DirectorySource,
}

#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// The registered directory sources, by code.
    async fn directory_sources(&self, ctx: &Context<'_>) -> Result<Vec<DirectorySource>> {
        Ok(directory::sources(service(ctx)?)
            .await?
            .into_iter()
            .map(DirectorySource)
            .collect())
    }
}

#[derive(Default)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Creates or updates up to 500 organizations of a directory source by their
    /// external ids, in one transaction (a DIRECTORY client of the source's
    /// steward). Safe to repeat: entries already as sent are UNCHANGED and
    /// nothing is written for them. An item breaking the directory's rules is
    /// REJECTED with its errors, and nothing of it is written, while the other
    /// items are.
    async fn upsert_organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The source and its entries.")] input: UpsertOrganizationsInput,
    ) -> Result<UpsertOrganizationsPayload> {
        let items = input.items.into_iter().map(DirectoryItem::from).collect();
        let upserted = directory::upsert(service(ctx)?, &input.source, items).await?;
        Ok(UpsertOrganizationsPayload::new(upserted))
    }

    /// Gives an existing organization its id in a directory source, so the
    /// source's sync maintains it from now on (ADMIN). Linking an AWEB id makes
    /// it an A-WEB member.
    async fn link_external_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization and its external id.")] input: LinkExternalIdInput,
    ) -> Result<ExternalIdPayload> {
        let id = ids::decode(
            &input.organization_id,
            NodeType::Organization,
            "organizationId",
        )?;
        let external_id = directory::ExternalIdRef {
            source: directory::parse_source(&input.source, "source")?,
            id: directory::parse_external_id(&input.id, "id")?,
        };
        let organization = directory::link(service(ctx)?, id, external_id).await?;
        Ok(ExternalIdPayload {
            organization: Organization(organization),
        })
    }

    /// Removes an organization's id in a directory source (ADMIN); the source's
    /// sync no longer maintains it. Unlinking the AWEB id ends A-WEB membership.
    async fn unlink_external_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization and the source.")] input: UnlinkExternalIdInput,
    ) -> Result<ExternalIdPayload> {
        let id = ids::decode(
            &input.organization_id,
            NodeType::Organization,
            "organizationId",
        )?;
        let organization = directory::unlink(service(ctx)?, id, &input.source).await?;
        Ok(ExternalIdPayload {
            organization: Organization(organization),
        })
    }

    /// Registers a directory source with the organization that keeps it, or
    /// hands it to another steward (ADMIN).
    async fn register_directory_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The source and its steward.")] input: RegisterDirectorySourceInput,
    ) -> Result<RegisterDirectorySourcePayload> {
        let steward = ids::decode(
            &input.steward_organization_id,
            NodeType::Organization,
            "stewardOrganizationId",
        )?;
        let source = directory::register_source(service(ctx)?, &input.source, steward).await?;
        Ok(RegisterDirectorySourcePayload {
            directory_source: DirectorySource(source),
        })
    }
}
