use sea_orm::entity::prelude::*;

/// An audit entry not yet fanned out to the webhook endpoints. A trigger queues
/// every new audit entry here (migration `webhook_outbox_table`); the fan-out
/// worker deletes the rows it has handled.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audit_entry_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
