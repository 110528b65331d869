//! People: staff who signed in through a trusted OpenID Connect issuer.
//!
//! embhub keeps no password for them. On each new token the person is recorded
//! (issuer and `sub`, with the name and email the issuer gave), in the
//! organization the issuer's configuration puts them in; from then on their
//! changes are audited under their name (`audit_entries.actor_person_id`).

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::ServiceContext;
use crate::auth::Caller;
use crate::auth::oidc::{OrganizationRef, PersonIdentity};
use crate::entity::{organization, person};
use crate::error::AppResult;

/// Records a verified person's sign-in and returns the caller they act as, or
/// `None` when the organization their token names does not exist (the token is
/// then refused like any bad token).
#[tracing::instrument(skip_all, fields(issuer = %identity.issuer))]
pub async fn sign_in(
    db: &DatabaseConnection,
    identity: &PersonIdentity,
) -> AppResult<Option<Caller>> {
    let found = match &identity.organization {
        OrganizationRef::Id(id) => organization::Entity::find_by_id(*id).one(db).await?,
        OrganizationRef::Acronym(acronym) => {
            organization::Entity::find()
                .filter(
                    Expr::expr(Func::lower(Expr::col((
                        organization::Entity,
                        organization::Column::Acronym,
                    ))))
                    .eq(acronym.to_lowercase()),
                )
                .one(db)
                .await?
        }
    };
    let Some(organization) = found else {
        return Ok(None);
    };
    let now = Utc::now();
    // One statement, safe against a concurrent first sign-in of the same person:
    // the (issuer, subject) key decides, and the latest name and email win.
    person::Entity::insert(person::ActiveModel {
        id: Set(Uuid::now_v7()),
        issuer: Set(identity.issuer.clone()),
        subject: Set(identity.subject.clone()),
        organization_id: Set(organization.id),
        name: Set(identity.name.clone()),
        email: Set(identity.email.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([person::Column::Issuer, person::Column::Subject])
            .update_columns([
                person::Column::OrganizationId,
                person::Column::Name,
                person::Column::Email,
                person::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let stored = person::Entity::find()
        .filter(person::Column::Issuer.eq(identity.issuer.as_str()))
        .filter(person::Column::Subject.eq(identity.subject.as_str()))
        .one(db)
        .await?;
    Ok(stored.map(|person| Caller {
        client_id: person.id,
        organization_id: person.organization_id,
        roles: identity.roles.clone(),
        person_id: Some(person.id),
    }))
}

/// The calling person's own record; `None` for an API client.
pub async fn me(cx: &ServiceContext) -> AppResult<Option<person::Model>> {
    let Some(id) = cx.caller().person_id else {
        return Ok(None);
    };
    Ok(person::Entity::find_by_id(id).one(&cx.db).await?)
}
