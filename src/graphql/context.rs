//! Per-request data the HTTP layer puts into every GraphQL request.

use async_graphql::Context;
use async_graphql::dataloader::Loader;

use super::loaders::Cached;

use crate::error::AppError;
use crate::service::ServiceContext;

/// The caller's service context; present on every request that passed
/// authentication.
pub fn service<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a ServiceContext> {
    ctx.data::<ServiceContext>().map_err(|_| {
        AppError::Unauthenticated {
            reason: "no access token",
        }
        .into()
    })
}

/// The request's loader of type `L`.
pub fn loader<'a, L>(ctx: &Context<'a>) -> async_graphql::Result<&'a Cached<L>>
where
    L: Send + Sync + 'static,
    L: Loader<uuid::Uuid>,
{
    ctx.data::<Cached<L>>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("loader missing from request")).into())
}

/// Loads one record by key through the request's loader `L`.
pub async fn load_one<L, V>(ctx: &Context<'_>, key: uuid::Uuid) -> async_graphql::Result<Option<V>>
where
    L: Loader<uuid::Uuid, Value = V, Error = async_graphql::Error> + Send + Sync + 'static,
    V: Send + Sync + Clone + 'static,
{
    loader::<L>(ctx)?.load_one(key).await
}

/// Loads the list a parent owns through the request's loader `L`, wrapped as `N`.
pub async fn load_children<L, M, N>(
    ctx: &Context<'_>,
    parent: uuid::Uuid,
    wrap: fn(M) -> N,
) -> async_graphql::Result<Vec<N>>
where
    L: Loader<uuid::Uuid, Value = Vec<M>, Error = async_graphql::Error> + Send + Sync + 'static,
    M: Send + Sync + Clone + 'static,
{
    Ok(loader::<L>(ctx)?
        .load_one(parent)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(wrap)
        .collect())
}

/// Loads a record the data model guarantees (a foreign key that is never null,
/// whose target the caller may see whenever it may see the referring record),
/// for a non-null field. Its absence is a broken invariant, reported as an
/// internal error naming `what`, never a silent null.
pub async fn load_required<L, V>(
    ctx: &Context<'_>,
    key: uuid::Uuid,
    what: &'static str,
) -> async_graphql::Result<V>
where
    L: Loader<uuid::Uuid, Value = V, Error = async_graphql::Error> + Send + Sync + 'static,
    V: Send + Sync + Clone + 'static,
{
    load_one::<L, V>(ctx, key).await?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("{what} {key} is missing or invisible")).into()
    })
}
