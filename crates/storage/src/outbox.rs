//! The transactional outbox: events written in the transaction of the change they describe,
//! their deliveries to webhook endpoints and OIDC back-channel logout URIs, and the lease-based
//! claim that lets several replicas run the delivery worker at once without sending twice.

use crate::models::{Delivery, OutboxEvent, WebhookEndpoint};
use crate::schema::{deliveries, outbox_events, webhook_endpoints};
use crate::{Conn, StorageError};
use diesel::dsl::min;
use diesel::prelude::*;

type Result<T> = std::result::Result<T, StorageError>;

fn classify<T>(r: QueryResult<T>) -> Result<T> {
    r.map_err(StorageError::classify)
}

// ---------- webhook endpoints ----------

/// Register a webhook endpoint.
pub fn insert_webhook_endpoint(conn: &mut Conn, row: &WebhookEndpoint) -> Result<()> {
    classify(
        diesel::insert_into(webhook_endpoints::table)
            .values(row)
            .execute(conn),
    )
    .map(drop)
}

/// Every webhook endpoint, oldest first.
pub fn list_webhook_endpoints(conn: &mut Conn) -> Result<Vec<WebhookEndpoint>> {
    classify(
        webhook_endpoints::table
            .order((
                webhook_endpoints::created_at.asc(),
                webhook_endpoints::id.asc(),
            ))
            .select(WebhookEndpoint::as_select())
            .load(conn),
    )
}

/// A webhook endpoint by id.
pub fn find_webhook_endpoint(conn: &mut Conn, id: &str) -> Result<Option<WebhookEndpoint>> {
    classify(
        webhook_endpoints::table
            .find(id)
            .select(WebhookEndpoint::as_select())
            .first(conn)
            .optional(),
    )
}

/// The enabled endpoints that receive `tenant_id`'s events (its own and the all-tenant ones).
pub fn endpoints_for_tenant(conn: &mut Conn, tenant_id: &str) -> Result<Vec<WebhookEndpoint>> {
    classify(
        webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(
                webhook_endpoints::tenant_id
                    .eq(tenant_id)
                    .or(webhook_endpoints::tenant_id.is_null()),
            )
            .order(webhook_endpoints::id.asc())
            .select(WebhookEndpoint::as_select())
            .load(conn),
    )
}

/// Delete an endpoint and its undelivered deliveries (nobody is left to receive them); returns
/// whether it existed.
pub fn delete_webhook_endpoint(conn: &mut Conn, id: &str) -> Result<bool> {
    classify(
        diesel::delete(
            deliveries::table
                .filter(deliveries::target_kind.eq("webhook"))
                .filter(deliveries::target_id.eq(id))
                .filter(deliveries::delivered_at.is_null()),
        )
        .execute(conn),
    )?;
    let n = classify(diesel::delete(webhook_endpoints::table.find(id)).execute(conn))?;
    Ok(n == 1)
}

// ---------- events ----------

/// Append several events, one statement per [`crate::queries::INSERT_BATCH`].
pub fn insert_events(conn: &mut Conn, rows: &[OutboxEvent]) -> Result<()> {
    for chunk in rows.chunks(crate::queries::INSERT_BATCH) {
        crate::insert_batch!(conn, outbox_events::table, chunk)?;
    }
    Ok(())
}

/// A tenant's events with `seq > after_seq`, in order, at most `limit`.
pub fn events_since(
    conn: &mut Conn,
    tenant_id: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>> {
    classify(
        outbox_events::table
            .filter(outbox_events::tenant_id.eq(tenant_id))
            .filter(outbox_events::seq.gt(after_seq))
            .order(outbox_events::seq.asc())
            .limit(limit)
            .select(OutboxEvent::as_select())
            .load(conn),
    )
}

/// An event by id.
pub fn find_event(conn: &mut Conn, id: &str) -> Result<Option<OutboxEvent>> {
    classify(
        outbox_events::table
            .find(id)
            .select(OutboxEvent::as_select())
            .first(conn)
            .optional(),
    )
}

// ---------- deliveries ----------

/// Enqueue several deliveries, one statement per [`crate::queries::INSERT_BATCH`].
pub fn insert_deliveries(conn: &mut Conn, rows: &[Delivery]) -> Result<()> {
    for chunk in rows.chunks(crate::queries::INSERT_BATCH) {
        crate::insert_batch!(conn, deliveries::table, chunk)?;
    }
    Ok(())
}

/// The deliveries at the head of their queue (the undelivered one with the smallest `seq` per
/// receiver and tenant) that are due at `now` and not leased; at most `limit`. Only a queue's
/// head is ever offered, which is what keeps per-endpoint ordering: event N+1 waits for N.
pub fn due_queue_heads(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Delivery>> {
    let heads: Vec<(String, String, String, Option<i64>)> = classify(
        deliveries::table
            .filter(deliveries::delivered_at.is_null())
            .group_by((
                deliveries::target_kind,
                deliveries::target_id,
                deliveries::tenant_id,
            ))
            .select((
                deliveries::target_kind,
                deliveries::target_id,
                deliveries::tenant_id,
                min(deliveries::seq),
            ))
            .load(conn),
    )?;
    let mut out = Vec::new();
    for (kind, target, tenant, seq) in heads {
        let Some(seq) = seq else { continue };
        let head: Vec<Delivery> = classify(
            deliveries::table
                .filter(deliveries::delivered_at.is_null())
                .filter(deliveries::target_kind.eq(&kind))
                .filter(deliveries::target_id.eq(&target))
                .filter(deliveries::tenant_id.eq(&tenant))
                .filter(deliveries::seq.eq(seq))
                .filter(deliveries::next_attempt_at.le(now))
                .filter(
                    deliveries::locked_until
                        .is_null()
                        .or(deliveries::locked_until.lt(now)),
                )
                .order(deliveries::id.asc())
                .select(Delivery::as_select())
                .load(conn),
        )?;
        out.extend(head);
        if out.len() as i64 >= limit {
            out.truncate(usize::try_from(limit).unwrap_or(0));
            break;
        }
    }
    Ok(out)
}

/// Take the lease on a delivery until `locked_until`; `false` if another worker holds it or it
/// was delivered meanwhile. Safe with many replicas: only one UPDATE can match.
pub fn claim_delivery(conn: &mut Conn, id: &str, now: i64, locked_until: i64) -> Result<bool> {
    let n = classify(
        diesel::update(
            deliveries::table
                .find(id)
                .filter(deliveries::delivered_at.is_null())
                .filter(
                    deliveries::locked_until
                        .is_null()
                        .or(deliveries::locked_until.lt(now)),
                ),
        )
        .set(deliveries::locked_until.eq(Some(locked_until)))
        .execute(conn),
    )?;
    Ok(n == 1)
}

/// Record a successful delivery and release the lease.
pub fn mark_delivered(conn: &mut Conn, id: &str, at: i64) -> Result<()> {
    classify(
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::delivered_at.eq(Some(at)),
                deliveries::attempts.eq(deliveries::attempts + 1),
                deliveries::locked_until.eq(None::<i64>),
                deliveries::last_error.eq(None::<String>),
            ))
            .execute(conn),
    )
    .map(drop)
}

/// Record a failed attempt, schedule the next one and release the lease.
pub fn mark_failed(conn: &mut Conn, id: &str, next_attempt_at: i64, error: &str) -> Result<()> {
    classify(
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::attempts.eq(deliveries::attempts + 1),
                deliveries::next_attempt_at.eq(next_attempt_at),
                deliveries::last_error.eq(Some(error)),
                deliveries::locked_until.eq(None::<i64>),
            ))
            .execute(conn),
    )
    .map(drop)
}

/// A delivery by id.
pub fn find_delivery(conn: &mut Conn, id: &str) -> Result<Option<Delivery>> {
    classify(
        deliveries::table
            .find(id)
            .select(Delivery::as_select())
            .first(conn)
            .optional(),
    )
}

/// The deliveries of an event.
pub fn deliveries_of_event(conn: &mut Conn, event_id: &str) -> Result<Vec<Delivery>> {
    classify(
        deliveries::table
            .filter(deliveries::event_id.eq(event_id))
            .order(deliveries::id.asc())
            .select(Delivery::as_select())
            .load(conn),
    )
}
