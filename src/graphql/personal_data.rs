//! GraphQL surface of participants' personal data on request: export, erasure,
//! and a host's shorter retention for an event. Thin: the rules are in
//! `service::personal_data`.

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject};
use chrono::Utc;

use super::scalars::{IsoDate, IsoDateTime};

use super::context::service;
use super::delegation::Participant;
use super::ids::{self, NodeType};
use crate::service::personal_data::requests;

#[derive(Default)]
pub struct PersonalDataMutation;

#[Object]
impl PersonalDataMutation {
    /// Everything embhub holds about a participant, as one JSON document: every
    /// field of their record (the sensitive ones too), their delegation, event and
    /// organization, how long the personal data is kept, and the history of
    /// changes to the record. For the delegation's own organization and the
    /// host's coordinators; anyone else gets NOT_FOUND. The export is recorded in
    /// the audit log, without the data.
    async fn export_personal_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The participant.")] input: ExportPersonalDataInput,
    ) -> Result<ExportPersonalDataPayload> {
        let id = ids::decode(
            &input.participant_id,
            NodeType::Participant,
            "participantId",
        )?;
        let data = requests::export(service(ctx)?, id).await?;
        Ok(ExportPersonalDataPayload {
            participant_id: input.participant_id,
            exported_at: IsoDateTime(Utc::now()),
            data: Json(data),
        })
    }

    /// Erases a participant's personal data at once, as the retention sweep
    /// would: nationality, date of birth, passport number, dietary and
    /// accessibility needs and e-mail address; name, role and the delegation's
    /// counts stay. For the delegation's own organization. Audited, without the
    /// data.
    async fn erase_personal_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The participant.")] input: ErasePersonalDataInput,
    ) -> Result<ErasePersonalDataPayload> {
        let id = ids::decode(
            &input.participant_id,
            NodeType::Participant,
            "participantId",
        )?;
        let participant = requests::erase(service(ctx)?, id, input.expected_version).await?;
        Ok(ErasePersonalDataPayload {
            participant: Participant(participant),
        })
    }

    /// Sets how many days after an event's end its participants' personal data
    /// is kept before it is erased (the host's coordinators): at most the
    /// server's retention (`EMBHUB_PERSONAL_DATA_RETENTION_DAYS`); `null` restores
    /// it.
    async fn set_personal_data_retention(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the days.")] input: SetPersonalDataRetentionInput,
    ) -> Result<SetPersonalDataRetentionPayload> {
        let id = ids::decode(&input.event_id, NodeType::Event, "eventId")?;
        let retention = requests::set_retention(service(ctx)?, id, input.days).await?;
        Ok(SetPersonalDataRetentionPayload {
            event_id: ids::encode(NodeType::Event, retention.event_id),
            days: i32::try_from(retention.days).unwrap_or(i32::MAX),
            kept_until: IsoDate(retention.kept_until),
        })
    }
}

/// Input of `exportPersonalData`.
#[derive(InputObject)]
pub struct ExportPersonalDataInput {
    /// The participant.
    participant_id: ID,
}

/// Result of `exportPersonalData`.
#[derive(SimpleObject)]
pub struct ExportPersonalDataPayload {
    /// The participant.
    participant_id: ID,
    /// When the export was made.
    exported_at: IsoDateTime,
    /// The document: `participant` (every field), `delegation`, `organization`,
    /// `event`, `retention` (`personalDataKeptUntil`, `erasedAt`) and `history`
    /// (each change to the record: action, time, acting organization and client).
    data: Json<serde_json::Value>,
}

/// Input of `erasePersonalData`.
#[derive(InputObject)]
pub struct ErasePersonalDataInput {
    /// The participant.
    participant_id: ID,
    /// The version you read.
    expected_version: Option<i32>,
}

/// Result of `erasePersonalData`.
#[derive(SimpleObject)]
pub struct ErasePersonalDataPayload {
    /// The participant as it stays: name and role, without personal data.
    participant: Participant,
}

/// Input of `setPersonalDataRetention`.
#[derive(InputObject)]
pub struct SetPersonalDataRetentionInput {
    /// The event (hosted by the caller's organization).
    event_id: ID,
    /// Days after the event's end (0 up to the server's retention); `null` for
    /// the server's retention.
    days: Option<i32>,
}

/// Result of `setPersonalDataRetention`.
#[derive(SimpleObject)]
pub struct SetPersonalDataRetentionPayload {
    /// The event.
    event_id: ID,
    /// Days after the event's end its participants' personal data is kept.
    days: i32,
    /// The last day it is kept; the sweep erases it the day after.
    kept_until: IsoDate,
}
