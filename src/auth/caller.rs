use async_graphql::Enum;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an API client may do; granted per client, carried in its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Manages organizations and API clients.
    Admin,
    /// Manages the events its organization hosts; also acts as a partner.
    Coordinator,
    /// Answers invitations, applies and manages its organization's delegations.
    Partner,
    /// Reads published events and the organization directory.
    Reader,
    /// An organization's own system that keeps the directory entries of the
    /// external-id source its organization stewards in sync
    /// (`upsertOrganizations`); otherwise reads like a reader.
    Directory,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Coordinator => "COORDINATOR",
            Role::Partner => "PARTNER",
            Role::Reader => "READER",
            Role::Directory => "DIRECTORY",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "ADMIN" => Some(Role::Admin),
            "COORDINATOR" => Some(Role::Coordinator),
            "PARTNER" => Some(Role::Partner),
            "READER" => Some(Role::Reader),
            "DIRECTORY" => Some(Role::Directory),
            _ => None,
        }
    }
}

/// The authenticated API client or person behind a request.
///
/// Built only from a verified access token (or, for CLI commands, from the operator
/// acting locally), never from client input; the service layer decides every access
/// question from it and the record at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who is calling: the API client's id, or, when [`Caller::person_id`] is set,
    /// the person's. Rate limits, socket counts and logs key on it.
    pub client_id: Uuid,
    pub organization_id: Uuid,
    pub roles: Vec<Role>,
    /// Set when a person signed in through a trusted OpenID Connect issuer is
    /// calling (their `people` row); `None` for an API client.
    pub person_id: Option<Uuid>,
}

impl Caller {
    /// The API client calling, or `None` for a person: what `*_client_id` columns
    /// and client revocation refer to.
    pub fn api_client_id(&self) -> Option<Uuid> {
        match self.person_id {
            None => Some(self.client_id),
            Some(_) => None,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// Coordinators also act as partners for their own organization.
    pub fn acts_as_partner(&self) -> bool {
        self.has_role(Role::Partner) || self.has_role(Role::Coordinator)
    }

    /// True when the caller coordinates for `organization_id`.
    pub fn coordinates(&self, organization_id: Uuid) -> bool {
        self.has_role(Role::Coordinator) && self.organization_id == organization_id
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn every_role_parses_from_its_name_in_any_case() {
        for role in [
            Role::Admin,
            Role::Coordinator,
            Role::Partner,
            Role::Reader,
            Role::Directory,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(Role::parse(&role.as_str().to_lowercase()), Some(role));
            let json = serde_json::to_value(role).expect("a role serializes");
            assert_eq!(json, role.as_str(), "stored and carried in tokens by name");
        }
        assert_eq!(Role::parse("STEWARD"), None);
    }
}
