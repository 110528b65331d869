use sea_orm::entity::prelude::*;

use crate::domain::CoHostPermission;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "event_co_hosts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: Uuid,
    /// When the co-host was added.
    pub created_at: DateTimeUtc,
    pub may_invite: bool,
    pub may_manage_agenda: bool,
    pub may_review_applications: bool,
    pub may_view_activity: bool,
}

impl Model {
    /// Whether the host granted this co-host `permission`.
    pub fn may(&self, permission: CoHostPermission) -> bool {
        match permission {
            CoHostPermission::Invite => self.may_invite,
            CoHostPermission::ManageAgenda => self.may_manage_agenda,
            CoHostPermission::ReviewApplications => self.may_review_applications,
            CoHostPermission::ViewActivity => self.may_view_activity,
        }
    }

    /// The permissions granted, in the enumeration's order.
    pub fn permissions(&self) -> Vec<CoHostPermission> {
        CoHostPermission::ALL
            .into_iter()
            .filter(|p| self.may(*p))
            .collect()
    }
}

impl ActiveModel {
    /// Sets every permission column: those in `granted` to true, the others false.
    pub fn grant_exactly(&mut self, granted: &[CoHostPermission]) {
        use sea_orm::Set;
        let has = |p| granted.contains(&p);
        self.may_invite = Set(has(CoHostPermission::Invite));
        self.may_manage_agenda = Set(has(CoHostPermission::ManageAgenda));
        self.may_review_applications = Set(has(CoHostPermission::ReviewApplications));
        self.may_view_activity = Set(has(CoHostPermission::ViewActivity));
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
