use sea_orm::entity::prelude::*;

/// A person who signed in through a trusted OpenID Connect issuer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub organization_id: Uuid,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The first sign-in.
    pub created_at: DateTimeUtc,
    /// The latest sign-in.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
