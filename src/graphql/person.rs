//! GraphQL surface of people (staff signed in through their identity provider).

use super::scalars::IsoDateTime;
use async_graphql::{ID, Object};

use crate::entity::person;

/// A person who signed in through a trusted OpenID Connect issuer. embhub keeps
/// no password for them: the issuer vouches for who they are.
pub struct Person(pub person::Model);

/// A person who signed in through a trusted OpenID Connect issuer. embhub keeps
/// no password for them: the issuer vouches for who they are.
#[Object]
impl Person {
    /// Global id.
    async fn id(&self) -> ID {
        ID(super::global_id("Person", self.0.id))
    }
    /// The OpenID Connect issuer that signed them in.
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// Their identifier at that issuer (`sub`).
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Their name, as the issuer last gave it.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Their email address, as the issuer last gave it.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// When they first signed in.
    async fn first_seen_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.created_at)
    }
    /// When they last signed in with a new token.
    async fn last_seen_at(&self) -> IsoDateTime {
        IsoDateTime(self.0.updated_at)
    }
}
