//! Retention: participants' personal data is erased a while after their event.
//!
//! Every instance runs the sweep beside the invitation expiry sweep, and a round
//! happens once across them: it first tries a PostgreSQL advisory lock and skips
//! the round while another instance holds it (on SQLite the write transaction
//! alone serializes). An event's personal data is kept `retention` days after its
//! end date (`EMBHUB_PERSONAL_DATA_RETENTION_DAYS`, 90 by default, or fewer when
//! the host chose so for the event); the day after, the sweep erases every
//! participant's sensitive fields and e-mail address as an erasure on request
//! would, keeps names, roles and counts, and writes one audit entry per
//! delegation.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::super::{audit, begin_write, try_advisory_xact_lock};
use super::requests::kept_until;
use crate::entity::participant::{self, Column, Entity};
use crate::entity::{delegation, event};
use crate::error::AppResult;
use crate::feed::ChangeFeed;

/// The advisory lock one sweep round holds.
const RETENTION_SWEEP_LOCK: i64 = 0x656d_6268_7562_0119; // "embhub" 0x119

/// What a round erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub delegations: u64,
    pub participants: u64,
}

/// Erases the personal data of the participants of every event whose retention
/// ended before `today`; returns how much. `default_days` is the configured
/// retention.
pub async fn sweep(
    db: &DatabaseConnection,
    feed: &ChangeFeed,
    default_days: u32,
    today: NaiveDate,
) -> AppResult<Swept> {
    let txn = begin_write(db).await?;
    if !try_advisory_xact_lock(&txn, RETENTION_SWEEP_LOCK).await? {
        tracing::debug!("another instance is sweeping personal data; skipping this round");
        txn.rollback().await?;
        return Ok(Swept::default());
    }
    // Events over, with a participant whose data is not erased yet: few, since
    // each is swept once.
    let unerased_delegations = Query::select()
        .column((delegation::Entity, delegation::Column::EventId))
        .from(delegation::Entity)
        .inner_join(
            participant::Entity,
            Expr::col((participant::Entity, Column::DelegationId))
                .equals((delegation::Entity, delegation::Column::Id)),
        )
        .and_where(Expr::col((participant::Entity, Column::PersonalDataErasedAt)).is_null())
        .to_owned();
    let ended = event::Entity::find()
        .filter(event::Column::EndDate.lt(today))
        .filter(event::Column::Id.in_subquery(unerased_delegations))
        .all(&txn)
        .await?;
    let due: Vec<Uuid> = ended
        .iter()
        .filter(|e| kept_until(e, default_days) < today)
        .map(|e| e.id)
        .collect();
    if due.is_empty() {
        // End the transaction now: dropping it would leave its rollback, and so
        // the advisory lock, to whenever the connection is next used, and a
        // sweep right after this one would find the lock taken and skip.
        txn.rollback().await?;
        return Ok(Swept::default());
    }
    let event_of: BTreeMap<Uuid, Uuid> = delegation::Entity::find()
        .filter(delegation::Column::EventId.is_in(due))
        .all(&txn)
        .await?
        .into_iter()
        .map(|d| (d.id, d.event_id))
        .collect();
    let delegations: Vec<Uuid> = event_of.keys().copied().collect();
    let now = Utc::now();
    let mut erased = Vec::new();
    // Stay far below the databases' bound-parameter limits.
    for chunk in delegations.chunks(500) {
        let rows = Entity::update_many()
            .col_expr(Column::DataKeyId, Expr::value(Option::<i32>::None))
            .col_expr(
                Column::NationalitySealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                Column::DateOfBirthSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                Column::PassportNumberSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                Column::DietaryNeedsSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                Column::AccessibilityNeedsSealed,
                Expr::value(Option::<String>::None),
            )
            .col_expr(Column::Email, Expr::value(Option::<String>::None))
            .col_expr(Column::PersonalDataErasedAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .col_expr(Column::Version, Expr::col(Column::Version).add(1))
            .filter(Column::DelegationId.is_in(chunk.iter().copied()))
            .filter(Column::PersonalDataErasedAt.is_null())
            .exec_with_returning(&txn)
            .await?;
        erased.extend(rows);
    }
    let mut per_delegation: BTreeMap<Uuid, u64> = BTreeMap::new();
    for row in &erased {
        *per_delegation.entry(row.delegation_id).or_default() += 1;
    }
    let swept = Swept {
        delegations: per_delegation.len() as u64,
        participants: erased.len() as u64,
    };
    let entries = per_delegation
        .into_iter()
        .map(|(delegation_id, participants)| audit::Change {
            action: "delegation.erase_personal_data",
            entity_type: "Delegation",
            entity_id: delegation_id,
            before: None,
            after: Some(json!({
                "reason": "RETENTION",
                "participants_erased": participants,
            })),
            event_id: event_of.get(&delegation_id).copied(),
        })
        .collect();
    let announced = audit::record_system(&txn, entries).await?;
    txn.commit().await?;
    feed.committed(announced);
    Ok(swept)
}
