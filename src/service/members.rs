//! A delegation's members as a paged list: which ones a filter keeps, and the
//! page of them a client asked for.
//!
//! The members of a page of delegations are read in one query (with their
//! delegations, or through the members loader) and decrypted or redacted by
//! `participants`; a delegation has at most as many members as its invitation
//! has seats, so filtering and paging them in memory costs nothing and keeps
//! one query per level.

use uuid::Uuid;

use super::pagination::{Page, PageRequest, page_in_memory};
use crate::domain::ParticipantRole;
use crate::entity::participant::Model;
use crate::error::AppResult;

/// Cursor name of a delegation's members, in registration order.
const ORDERING: &str = "participants:CREATED_AT:Asc";

/// Which members of a delegation to list; all given conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub roles: Option<Vec<ParticipantRole>>,
    pub funded: Option<bool>,
    pub needs_visa_support: Option<bool>,
}

impl MemberFilter {
    fn keeps(&self, member: &Model) -> bool {
        self.roles.as_ref().is_none_or(|r| r.contains(&member.role))
            && self.funded.is_none_or(|f| member.funded == f)
            && self
                .needs_visa_support
                .is_none_or(|v| member.needs_visa_support == v)
    }
}

/// One page of `members` (one delegation's, in registration order, as the caller
/// may see them) that `filter` keeps.
pub fn page(
    members: Vec<Model>,
    filter: &MemberFilter,
    request: &PageRequest,
) -> AppResult<Page<Model>> {
    let kept = members.into_iter().filter(|m| filter.keeps(m)).collect();
    page_in_memory(kept, ORDERING, key, request)
}

fn key(member: &Model) -> (chrono::DateTime<chrono::Utc>, Uuid) {
    (member.created_at, member.id)
}
