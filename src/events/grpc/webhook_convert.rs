//! WebhookService's messages: endpoints, deliveries and attempts on the
//! wire, and the delivery-state filter read from a request.

use crate::error::{Error, Result};
use crate::events::webhooks::endpoint::{Attempt, Delivery, DeliveryState, Endpoint};
use crate::pb;
use crate::rpc::convert::timestamp;

/// An endpoint on the wire (never with its secret).
pub fn endpoint(endpoint: &Endpoint) -> pb::WebhookEndpoint {
    pb::WebhookEndpoint {
        name: endpoint.name(),
        url: endpoint.url.clone(),
        event_types: endpoint.event_types.clone(),
        create_time: Some(timestamp(endpoint.create_time)),
    }
}

fn state(state: DeliveryState) -> pb::WebhookDeliveryState {
    match state {
        DeliveryState::Pending => pb::WebhookDeliveryState::Pending,
        DeliveryState::Delivered => pb::WebhookDeliveryState::Delivered,
        DeliveryState::Dead => pb::WebhookDeliveryState::Dead,
    }
}

/// The state a listing is filtered by; `None` for every state.
pub fn state_filter(raw: i32) -> Result<Option<DeliveryState>> {
    match pb::WebhookDeliveryState::try_from(raw) {
        Ok(pb::WebhookDeliveryState::Unspecified) => Ok(None),
        Ok(pb::WebhookDeliveryState::Pending) => Ok(Some(DeliveryState::Pending)),
        Ok(pb::WebhookDeliveryState::Delivered) => Ok(Some(DeliveryState::Delivered)),
        Ok(pb::WebhookDeliveryState::Dead) => Ok(Some(DeliveryState::Dead)),
        Err(_) => Err(Error::invalid_field("state", "is not a delivery state")),
    }
}

fn attempt(attempt: &Attempt) -> pb::WebhookAttempt {
    pb::WebhookAttempt {
        attempt: attempt.attempt,
        time: Some(timestamp(attempt.time)),
        status_code: attempt.status.unwrap_or(0),
        error: attempt.error.clone().unwrap_or_default(),
        duration_ms: attempt.duration_ms,
    }
}

/// A delivery on the wire.
pub fn delivery(delivery: &Delivery) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        name: delivery.name(),
        sequence: delivery.sequence,
        event_id: delivery.event_id.to_string(),
        subject: delivery.subject.clone(),
        state: state(delivery.state).into(),
        next_attempt_time: (delivery.state == DeliveryState::Pending)
            .then(|| timestamp(delivery.next_attempt_time)),
        attempts: delivery.attempts.iter().map(attempt).collect(),
    }
}
