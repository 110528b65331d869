//! Per-request data the HTTP layer puts into every GraphQL request.

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

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
pub fn loader<'a, L>(ctx: &Context<'a>) -> async_graphql::Result<&'a DataLoader<L>>
where
    L: Send + Sync + 'static,
    L: Loader<uuid::Uuid>,
{
    ctx.data::<DataLoader<L>>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("loader missing from request")).into())
}
