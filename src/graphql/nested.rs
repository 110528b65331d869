//! Nested lists as connections: an event's invitations, applications and
//! delegations, a page at a time, with the root lists' filters, orderings and
//! cursors, and still one query per level for a whole page of parents.
//!
//! Each nested field asks a loader for `(parent, arguments)`. The loader gathers
//! the keys of sibling parents, groups them by their arguments (normally one
//! group: the same field under every parent) and asks the service once per group
//! for a page per parent (a windowed query); `totalCount` goes through a second
//! loader that counts per parent with one grouped query.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Error, Result};
use uuid::Uuid;

use crate::entity::{application, delegation, invitation};
use crate::error::AppError;
use crate::service::lists::ParticipationSortField;
use crate::service::pagination::{Page, PageRequest, SortDirection};
use crate::service::{ServiceContext, applications, delegations, invitations};

/// A parent (an event's id, or any other copyable key) and the arguments of its
/// nested list. Keys with equal arguments (compared by their `Debug` text, which
/// names every field) are batched together.
pub struct Keyed<A, P = Uuid> {
    pub parent: P,
    pub args: Arc<A>,
    canonical: Arc<str>,
}

impl<A: std::fmt::Debug, P> Keyed<A, P> {
    pub(super) fn new(parent: P, args: A) -> Self {
        let canonical = format!("{args:?}").into();
        Self {
            parent,
            args: Arc::new(args),
            canonical,
        }
    }
}

impl<A, P: Copy> Clone for Keyed<A, P> {
    fn clone(&self) -> Self {
        Self {
            parent: self.parent,
            args: self.args.clone(),
            canonical: self.canonical.clone(),
        }
    }
}

impl<A, P: PartialEq> PartialEq for Keyed<A, P> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.canonical == other.canonical
    }
}

impl<A, P: Eq> Eq for Keyed<A, P> {}

impl<A, P: Hash> Hash for Keyed<A, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.canonical.hash(state);
    }
}

/// The arguments of a nested participation list.
#[derive(Debug)]
pub struct ListArgs<F> {
    pub filter: F,
    pub sort: (ParticipationSortField, SortDirection),
    pub page: PageRequest,
}

/// Groups keys by their arguments: each group (its arguments, the keys and their
/// parents) is one service call.
pub(super) type Group<A, P = Uuid> = (Arc<A>, Vec<Keyed<A, P>>, Vec<P>);

/// Groups keys by their arguments: each group is one service call for its parents.
pub(super) fn grouped<A, P: Copy>(keys: &[Keyed<A, P>]) -> Vec<Group<A, P>> {
    let mut groups: HashMap<Arc<str>, Group<A, P>> = HashMap::new();
    for key in keys {
        let group = groups
            .entry(key.canonical.clone())
            .or_insert_with(|| (key.args.clone(), Vec::new(), Vec::new()));
        group.1.push(key.clone());
        group.2.push(key.parent);
    }
    groups.into_values().collect()
}

macro_rules! nested_list {
    ($pages:ident, $counts:ident, $model:ty, $filter:ty, $page_fn:path, $count_fn:path, $doc:literal) => {
        #[doc = $doc]
        pub struct $pages(pub ServiceContext);

        impl Loader<Keyed<ListArgs<$filter>>> for $pages {
            type Value = Page<$model>;
            type Error = Error;

            async fn load(
                &self,
                keys: &[Keyed<ListArgs<$filter>>],
            ) -> Result<HashMap<Keyed<ListArgs<$filter>>, Page<$model>>, Error> {
                let mut out = HashMap::new();
                for (args, group, parents) in grouped(keys) {
                    let mut pages =
                        $page_fn(&self.0, &parents, &args.filter, args.sort, &args.page).await?;
                    for key in group {
                        if let Some(page) = pages.remove(&key.parent) {
                            out.insert(key, page);
                        }
                    }
                }
                Ok(out)
            }
        }

        #[doc = $doc]
        pub struct $counts(pub ServiceContext);

        impl Loader<Keyed<$filter>> for $counts {
            type Value = u64;
            type Error = Error;

            async fn load(
                &self,
                keys: &[Keyed<$filter>],
            ) -> Result<HashMap<Keyed<$filter>, u64>, Error> {
                let mut out = HashMap::new();
                for (filter, group, parents) in grouped(keys) {
                    let counts = $count_fn(&self.0, &parents, &filter).await?;
                    for key in group {
                        let n = counts.get(&key.parent).copied().unwrap_or(0);
                        out.insert(key, n);
                    }
                }
                Ok(out)
            }
        }
    };
}

nested_list!(
    InvitationPages,
    InvitationCounts,
    invitation::Model,
    invitations::InvitationFilter,
    invitations::pages_of_events,
    invitations::counts_of_events,
    "Pages and counts of the invitations of events."
);
nested_list!(
    ApplicationPages,
    ApplicationCounts,
    application::Model,
    applications::ApplicationFilter,
    applications::pages_of_events,
    applications::counts_of_events,
    "Pages and counts of the applications of events."
);
nested_list!(
    DelegationPages,
    DelegationCounts,
    delegation::Model,
    delegations::DelegationFilter,
    delegations::pages_of_events,
    delegations::counts_of_events,
    "Pages and counts of the delegations of events."
);

/// A loader of keyed values with its per-request cache.
pub type KeyedLoader<L> = DataLoader<L, HashMapCache>;

fn keyed_loader<'a, L, K>(ctx: &Context<'a>) -> Result<&'a KeyedLoader<L>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K> + Send + Sync + 'static,
{
    ctx.data::<KeyedLoader<L>>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("loader missing from request")).into())
}

/// The page of `parent`'s nested list for `args`, batched with its siblings.
pub async fn page<L, F, M>(ctx: &Context<'_>, parent: Uuid, args: ListArgs<F>) -> Result<Page<M>>
where
    F: std::fmt::Debug + Send + Sync + 'static,
    M: Clone + Send + Sync + 'static,
    L: Loader<Keyed<ListArgs<F>>, Value = Page<M>, Error = Error> + Send + Sync + 'static,
{
    let key = Keyed::new(parent, args);
    Ok(keyed_loader::<L, _>(ctx)?
        .load_one(key)
        .await?
        .unwrap_or(Page {
            items: Vec::new(),
            has_previous_page: false,
            has_next_page: false,
            known_total: Some(0),
        }))
}

/// How many items `parent`'s nested list has for `filter`, batched with its
/// siblings.
pub async fn count<L, F>(ctx: &Context<'_>, parent: Uuid, filter: &F) -> Result<u64>
where
    F: std::fmt::Debug + Clone + Send + Sync + 'static,
    L: Loader<Keyed<F>, Value = u64, Error = Error> + Send + Sync + 'static,
{
    let key = Keyed::new(parent, filter.clone());
    Ok(keyed_loader::<L, _>(ctx)?.load_one(key).await?.unwrap_or(0))
}

/// Adds the nested-list loaders to a request (see [`super::loaders::attach`]).
pub fn attach(
    request: async_graphql::Request,
    cx: &ServiceContext,
    window: std::time::Duration,
    cache: bool,
) -> async_graphql::Request {
    use super::loaders::batched;
    request
        .data(batched(InvitationPages(cx.clone()), window, cache))
        .data(batched(InvitationCounts(cx.clone()), window, cache))
        .data(batched(ApplicationPages(cx.clone()), window, cache))
        .data(batched(ApplicationCounts(cx.clone()), window, cache))
        .data(batched(DelegationPages(cx.clone()), window, cache))
        .data(batched(DelegationCounts(cx.clone()), window, cache))
}
