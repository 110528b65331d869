//! An event's participation in numbers, counted by the database: invitations,
//! applications and delegations by status, seats and funded seats, and members
//! needing visa support — what a console's overview shows without listing rows.
//!
//! Every count is made over the same access-checked selections the lists use,
//! so a summary never tells a caller more than its lists would (a partner's
//! summary counts its own participation), and equals what listing counts.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, Iterable, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::{ServiceContext, applications, delegations, invitations};
use crate::domain::{ApplicationStatus, DelegationStatus, InvitationStatus};
use crate::entity::{application, delegation, invitation, participant};
use crate::error::AppResult;

/// The numbers of one event.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Invitations by status as clients see them (every status, zeros included).
    pub invitations: Vec<(InvitationStatus, u64)>,
    /// Applications by status.
    pub applications: Vec<(ApplicationStatus, u64)>,
    /// Delegations by status.
    pub delegations: Vec<(DelegationStatus, u64)>,
    /// Seats offered by invitations that were sent and stand (SENT, ACCEPTED,
    /// DECLINED, EXPIRED: not drafts, not withdrawn).
    pub seats_offered: u64,
    /// Seats the accepted invitations took.
    pub seats_accepted: u64,
    /// Members registered in delegations that are not cancelled.
    pub seats_filled: u64,
    /// Funded seats offered, on the same invitations as `seats_offered`.
    pub funded_seats_offered: u64,
    /// Members on funded seats, in delegations that are not cancelled.
    pub funded_seats_filled: u64,
    /// Members needing visa support, in delegations that are not cancelled.
    pub needing_visa_support: u64,
}

fn sum_when(condition: Condition, value: SimpleExpr) -> SimpleExpr {
    Func::coalesce([
        Expr::from(Func::sum(Expr::case(condition, value).finally(0))),
        Expr::val(0),
    ])
    .into()
}

fn count_when(condition: Condition) -> SimpleExpr {
    sum_when(condition, Expr::val(1))
}

/// A grouped count as an unsigned number.
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// One event's invitation numbers, as the grouped query returns them.
#[derive(Debug, FromQueryResult)]
struct InvitationRow {
    event_id: Uuid,
    seats_offered: i64,
    seats_accepted: i64,
    funded_seats_offered: i64,
    status_draft: i64,
    status_sent: i64,
    status_accepted: i64,
    status_declined: i64,
    status_withdrawn: i64,
    status_expired: i64,
}

fn status_alias(status: InvitationStatus) -> &'static str {
    match status {
        InvitationStatus::Draft => "status_draft",
        InvitationStatus::Sent => "status_sent",
        InvitationStatus::Accepted => "status_accepted",
        InvitationStatus::Declined => "status_declined",
        InvitationStatus::Withdrawn => "status_withdrawn",
        InvitationStatus::Expired => "status_expired",
    }
}

/// The summaries of `event_ids`, as the caller may see them: four grouped
/// queries for any number of events.
pub async fn of_events(
    cx: &ServiceContext,
    event_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Summary>> {
    let mut out: HashMap<Uuid, Summary> = event_ids
        .iter()
        .map(|id| (*id, Summary::default()))
        .collect();
    if event_ids.is_empty() {
        return Ok(out);
    }
    let ids = || event_ids.iter().copied();

    // Invitations: effective statuses (EXPIRED before the sweep) and seats.
    let now = Utc::now();
    let standing = Condition::all()
        .add(invitation::Column::Status.ne(InvitationStatus::Draft))
        .add(invitation::Column::Status.ne(InvitationStatus::Withdrawn));
    let accepted = Condition::all().add(invitation::Column::Status.eq(InvitationStatus::Accepted));
    let mut select = invitations::filtered(cx, &Default::default())
        .filter(invitation::Column::EventId.is_in(ids()))
        .select_only()
        .column(invitation::Column::EventId)
        .group_by(invitation::Column::EventId)
        .column_as(
            sum_when(
                standing.clone(),
                Expr::col(invitation::Column::SeatsOffered),
            ),
            "seats_offered",
        )
        .column_as(
            sum_when(
                accepted,
                Func::coalesce([
                    Expr::col(invitation::Column::SeatsAccepted),
                    Expr::col(invitation::Column::SeatsOffered),
                ])
                .into(),
            ),
            "seats_accepted",
        )
        .column_as(
            sum_when(standing, Expr::col(invitation::Column::FundedSeats)),
            "funded_seats_offered",
        );
    for status in InvitationStatus::iter() {
        select = select.column_as(
            count_when(invitations::status_condition(status, now)),
            status_alias(status),
        );
    }
    for row in select.into_model::<InvitationRow>().all(&cx.db).await? {
        let Some(summary) = out.get_mut(&row.event_id) else {
            continue;
        };
        let n = count;
        summary.seats_offered = n(row.seats_offered);
        summary.seats_accepted = n(row.seats_accepted);
        summary.funded_seats_offered = n(row.funded_seats_offered);
        summary.invitations = InvitationStatus::iter()
            .map(|status| {
                let count = match status {
                    InvitationStatus::Draft => row.status_draft,
                    InvitationStatus::Sent => row.status_sent,
                    InvitationStatus::Accepted => row.status_accepted,
                    InvitationStatus::Declined => row.status_declined,
                    InvitationStatus::Withdrawn => row.status_withdrawn,
                    InvitationStatus::Expired => row.status_expired,
                };
                (status, n(count))
            })
            .collect();
    }

    // Applications and delegations: stored statuses, grouped.
    let rows: Vec<(Uuid, ApplicationStatus, i64)> = applications::filtered(cx, &Default::default())
        .filter(application::Column::EventId.is_in(ids()))
        .select_only()
        .column(application::Column::EventId)
        .column(application::Column::Status)
        .column_as(Expr::col(application::Column::Id).count(), "n")
        .group_by(application::Column::EventId)
        .group_by(application::Column::Status)
        .into_tuple()
        .all(&cx.db)
        .await?;
    for (event, status, n) in rows {
        if let Some(summary) = out.get_mut(&event) {
            summary.applications.push((status, count(n)));
        }
    }
    let rows: Vec<(Uuid, DelegationStatus, i64)> = delegations::filtered(cx, &Default::default())
        .filter(delegation::Column::EventId.is_in(ids()))
        .select_only()
        .column(delegation::Column::EventId)
        .column(delegation::Column::Status)
        .column_as(Expr::col(delegation::Column::Id).count(), "n")
        .group_by(delegation::Column::EventId)
        .group_by(delegation::Column::Status)
        .into_tuple()
        .all(&cx.db)
        .await?;
    for (event, status, n) in rows {
        if let Some(summary) = out.get_mut(&event) {
            summary.delegations.push((status, count(n)));
        }
    }

    // Members of the visible delegations that are not cancelled.
    let active = delegations::filtered(cx, &Default::default())
        .filter(delegation::Column::EventId.is_in(ids()))
        .filter(delegation::Column::Status.ne(DelegationStatus::Cancelled))
        .select_only()
        .column(delegation::Column::Id)
        .into_query();
    let rows: Vec<(Uuid, i64, i64, i64)> = participant::Entity::find()
        .filter(participant::Column::DelegationId.in_subquery(active))
        .join(
            sea_orm::JoinType::InnerJoin,
            participant::Entity::belongs_to(delegation::Entity)
                .from(participant::Column::DelegationId)
                .to(delegation::Column::Id)
                .into(),
        )
        .select_only()
        .column(delegation::Column::EventId)
        .column_as(
            Expr::col((participant::Entity, participant::Column::Id)).count(),
            "filled",
        )
        .column_as(
            count_when(Condition::all().add(participant::Column::Funded.eq(true))),
            "funded",
        )
        .column_as(
            count_when(Condition::all().add(participant::Column::NeedsVisaSupport.eq(true))),
            "visa",
        )
        .group_by(delegation::Column::EventId)
        .into_tuple()
        .all(&cx.db)
        .await?;
    for (event, filled, funded, visa) in rows {
        if let Some(summary) = out.get_mut(&event) {
            summary.seats_filled = count(filled);
            summary.funded_seats_filled = count(funded);
            summary.needing_visa_support = count(visa);
        }
    }
    for summary in out.values_mut() {
        if summary.invitations.is_empty() {
            summary.invitations = InvitationStatus::iter().map(|s| (s, 0)).collect();
        }
        complete(&mut summary.applications);
        complete(&mut summary.delegations);
    }
    Ok(out)
}

/// Adds the statuses a group by left out (with zero), in declaration order.
fn complete<S: Iterable + PartialEq + Copy>(counts: &mut Vec<(S, u64)>) {
    let found = std::mem::take(counts);
    *counts = S::iter()
        .map(|s| {
            let n = found.iter().find(|(f, _)| *f == s).map_or(0, |(_, n)| *n);
            (s, n)
        })
        .collect();
}
