//! The GraphQL schema: thin types and resolvers over the service layer.
//!
//! A resolver reads its input, calls one service function with the caller's
//! [`ServiceContext`](crate::service::ServiceContext) and maps the result; access
//! decisions and rules live in `service/`. Roots are composed per domain.

mod activity;
mod application;
mod audit;
mod calendar;
mod connection;
mod context;
mod delegation;
mod directory;
pub mod documents;
mod event;
mod ids;
mod input_text;
mod invitation;
pub mod limits;
pub mod loaders;
mod nested;
mod organization;
mod person;
mod personal_data;
mod prefetch;
mod presentation;
pub mod projection;
pub mod scalars;
mod session;
mod subscription;
mod webhook;

use async_graphql::{Context, ID, Interface, MergedObject, Object, Result, Schema, SimpleObject};

use crate::auth::Role;
use crate::service::{
    applications, delegations, events, invitations, organizations, participants, people,
    presentations, sessions,
};
use application::{Application, ApplicationMutation, ApplicationQuery};
use audit::AuditQuery;
use calendar::{CalendarMutation, CalendarQuery};
use context::service;
use delegation::{Delegation, DelegationMutation, DelegationQuery, Participant};
use directory::{DirectoryMutation, DirectoryQuery};
use event::{Event, EventMutation, EventQuery};
use ids::NodeType;
use invitation::{Invitation, InvitationMutation, InvitationQuery};
use organization::{Organization, OrganizationMutation, OrganizationQuery};
use personal_data::PersonalDataMutation;
use presentation::{Presentation, PresentationMutation};
use session::{Session, SessionMutation};
use subscription::SubscriptionRoot;
use webhook::{WebhookMutation, WebhookQuery};

/// The global id of a record of GraphQL type `type_name`.
pub fn global_id(type_name: &str, id: uuid::Uuid) -> String {
    ids::encode_named(type_name, id)
}

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global id."))]
pub enum Node {
    Organization(Organization),
    Event(Event),
    Session(Session),
    Invitation(Invitation),
    Application(Application),
    Delegation(Delegation),
    Participant(Participant),
    Presentation(Presentation),
}

/// Who is making the request: an API client, or a person signed in through a
/// trusted OpenID Connect issuer.
#[derive(SimpleObject)]
pub struct Viewer {
    /// Global id of the API client; null when a person is calling.
    client_id: Option<ID>,
    /// The person calling, signed in through their organization's identity
    /// provider; null for an API client.
    person: Option<person::Person>,
    /// The organization the client acts for.
    organization: Organization,
    /// What the client may do.
    roles: Vec<Role>,
}

#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The calling client or person, its organization and roles.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let cx = service(ctx)?;
        let caller = cx.caller();
        let organization = organizations::get(cx, caller.organization_id).await?;
        Ok(Viewer {
            client_id: caller
                .api_client_id()
                .map(|id| ids::encode(NodeType::ApiClient, id)),
            person: people::me(cx).await?.map(person::Person),
            organization: Organization(organization),
            roles: caller.roles.clone(),
        })
    }

    /// Any object by its global id; null, with a NOT_FOUND error, when there is
    /// none the caller may see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the object.")] id: ID,
    ) -> Result<Option<Node>> {
        let cx = service(ctx)?;
        let (node_type, uuid) = ids::decode_any(&id, "id")?;
        Ok(Some(match node_type {
            NodeType::Organization => {
                Node::Organization(Organization(organizations::get(cx, uuid).await?))
            }
            NodeType::Event => Node::Event(Event(events::get(cx, uuid).await?)),
            NodeType::Session => Node::Session(Session(sessions::get(cx, uuid).await?)),
            NodeType::Invitation => Node::Invitation(Invitation(invitations::get(cx, uuid).await?)),
            NodeType::Application => {
                Node::Application(Application(applications::get(cx, uuid).await?))
            }
            NodeType::Delegation => Node::Delegation(Delegation(delegations::get(cx, uuid).await?)),
            NodeType::Participant => {
                Node::Participant(Participant(participants::get(cx, uuid).await?))
            }
            NodeType::Presentation => {
                Node::Presentation(Presentation(presentations::get(cx, uuid).await?))
            }
            NodeType::EventDateChange
            | NodeType::ApiClient
            | NodeType::AuditEntry
            | NodeType::WebhookEndpoint
            | NodeType::WebhookDelivery => {
                return Err(crate::error::AppError::NotFound { entity: "node" }.into());
            }
        }))
    }
}

/// Every query.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    CoreQuery,
    OrganizationQuery,
    DirectoryQuery,
    EventQuery,
    InvitationQuery,
    ApplicationQuery,
    DelegationQuery,
    AuditQuery,
    WebhookQuery,
    CalendarQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    OrganizationMutation,
    DirectoryMutation,
    EventMutation,
    SessionMutation,
    InvitationMutation,
    ApplicationMutation,
    DelegationMutation,
    PresentationMutation,
    WebhookMutation,
    CalendarMutation,
    PersonalDataMutation,
);

/// Runs one operation for any transport, after the transport has checked it with
/// the schema's [`limits::QueryAnalyzer`] (document size, depth, complexity,
/// aliases, directives, control characters): the caller's context and loaders go
/// into the request, and an error naming several invalid fields leaves as one
/// error per field.
///
/// These are deliberately not schema extensions: async-graphql resolves every
/// field through the extension chain (a boxed future and two registry lookups per
/// field) as soon as one extension is registered.
pub async fn execute(
    schema: &EmbhubSchema,
    request: async_graphql::Request,
    cx: crate::service::ServiceContext,
    batch_window: std::time::Duration,
) -> async_graphql::Response {
    let mut response = schema
        .execute(loaders::attach(request, cx, batch_window))
        .await;
    if !response.errors.is_empty() {
        response.errors = crate::error::split_field_errors(std::mem::take(&mut response.errors));
    }
    response
}

/// Like [`execute`], for an operation answered many times over a WebSocket
/// (subscriptions; a query or mutation answers once): one response per change.
pub fn execute_stream(
    schema: &EmbhubSchema,
    request: async_graphql::Request,
    cx: crate::service::ServiceContext,
    batch_window: std::time::Duration,
) -> impl futures::Stream<Item = async_graphql::Response> + Send + use<> {
    use futures::StreamExt;
    schema
        .execute_stream(loaders::attach_uncached(request, cx, batch_window))
        .map(|mut response| {
            if !response.errors.is_empty() {
                response.errors =
                    crate::error::split_field_errors(std::mem::take(&mut response.errors));
            }
            response
        })
}

/// The embhub schema.
pub type EmbhubSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Options that shape the schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaOptions {
    /// Turns off introspection and "did you mean" suggestions.
    pub production: bool,
    /// Depth, complexity, alias, directive and document-size limits of an operation.
    pub limits: crate::config::QueryLimits,
    /// Which webhook URLs endpoints may use (https and public addresses only, in
    /// production).
    pub webhook_urls: crate::service::webhooks::UrlPolicy,
}

/// Builds the schema; no I/O, so `embhub schema` and tests can build it anywhere.
///
/// The schema carries a [`limits::QueryAnalyzer`] as schema data, for every
/// transport to check an operation before anything runs (see [`execute`]). Its
/// depth limit replaces async-graphql's, which counts introspection; the recursion
/// limit stays as a backstop.
pub fn build_schema(options: SchemaOptions) -> EmbhubSchema {
    let unlimited = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish();
    let analyzer =
        limits::QueryAnalyzer::new(options.limits, !options.production, &unlimited.sdl());
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .limit_recursive_depth(32)
    .data(analyzer)
    .data(options.webhook_urls);
    if options.production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(SchemaOptions::default())
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
