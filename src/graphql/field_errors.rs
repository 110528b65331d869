//! One error per invalid input field on the wire, whatever transport runs the
//! operation: a resolver returns one error naming several fields
//! ([`AppError::InvalidInputs`](crate::error::AppError::InvalidInputs)), and this
//! extension splits it before the response leaves the schema.

use std::sync::Arc;

use async_graphql::Response;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe,
};
use futures::stream::{BoxStream, StreamExt};

use crate::error::split_field_errors;

/// The schema extension.
pub struct FieldErrorsExtension;

impl ExtensionFactory for FieldErrorsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldErrorsExtension)
    }
}

fn split(mut response: Response) -> Response {
    if !response.errors.is_empty() {
        response.errors = split_field_errors(std::mem::take(&mut response.errors));
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for FieldErrorsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        split(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(split).boxed()
    }
}
