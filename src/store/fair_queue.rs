//! Fair scheduling of the database pool: a transaction starts only with
//! one of as many permits as the pool has connections, and when calls
//! wait for one, a freed permit goes to the tenants that wait in turn
//! (round robin), each tenant's own calls in arrival order. A tenant with
//! a hundred waiting calls therefore delays a tenant with one by at most
//! one transaction per other waiting tenant, not by its hundred.
//!
//! A permit travels with its transaction ([`crate::store::txn::Txn`]) and is handed
//! on when the transaction ends, however it ends. A waiter that gives up
//! (its call was cancelled) is skipped; a permit handed to a waiter that
//! gave up at that moment is dropped by it and handed on again, so no
//! permit is ever lost.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::store::scope::Scope;

/// Who waits: a tenant, or the platform (operators and background jobs).
type Key = Scope;

#[derive(Debug, Default)]
struct State {
    /// Permits out, with their transactions or on their way to a waiter.
    out: usize,
    /// Each waiting key's waiters, oldest first.
    waiting: HashMap<Key, VecDeque<oneshot::Sender<Permit>>>,
    /// The keys with waiters, in the order they are served.
    turns: VecDeque<Key>,
}

/// The queue in front of the pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct FairQueue {
    permits: usize,
    state: Arc<Mutex<State>>,
}

/// Leave to start one transaction; handed on when dropped.
#[derive(Debug)]
pub struct Permit {
    queue: Option<FairQueue>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.hand_on();
        }
    }
}

impl FairQueue {
    /// A queue of `permits` permits (at least one).
    pub fn new(permits: usize) -> Self {
        Self {
            permits: permits.max(1),
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs under the lock, so a poisoned lock
        // still holds a sound state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a permit for `key`.
    pub async fn acquire(&self, key: Key) -> Permit {
        let waiter = {
            let mut state = self.state();
            if state.out < self.permits && state.turns.is_empty() {
                state.out += 1;
                return Permit {
                    queue: Some(self.clone()),
                };
            }
            let (sender, receiver) = oneshot::channel();
            let state = &mut *state;
            let queue = state.waiting.entry(key.clone()).or_default();
            if queue.is_empty() {
                state.turns.push_back(key);
            }
            queue.push_back(sender);
            receiver
        };
        match waiter.await {
            Ok(permit) => permit,
            // The queue never drops a waiter's sender without sending.
            Err(_) => unreachable_permit(self),
        }
    }

    /// The next waiter, in turn: the first waiter of the first key, whose
    /// key then goes to the back if it has more.
    fn next_waiter(state: &mut State) -> Option<oneshot::Sender<Permit>> {
        let key = state.turns.pop_front()?;
        let queue = state.waiting.get_mut(&key)?;
        let sender = queue.pop_front();
        if queue.is_empty() {
            state.waiting.remove(&key);
        } else {
            state.turns.push_back(key);
        }
        sender
    }

    /// A permit came back: it goes to the next waiter still waiting, or
    /// back to the queue.
    fn hand_on(&self) {
        loop {
            let sender = {
                let mut state = self.state();
                match Self::next_waiter(&mut state) {
                    Some(sender) => sender,
                    None => {
                        state.out = state.out.saturating_sub(1);
                        return;
                    }
                }
            };
            let permit = Permit {
                queue: Some(self.clone()),
            };
            match sender.send(permit) {
                Ok(()) => return,
                // That waiter gave up: the permit goes to the next one,
                // here rather than through its own drop.
                Err(mut permit) => permit.queue = None,
            }
        }
    }

    /// How many calls wait.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.state().waiting.values().map(VecDeque::len).sum()
    }
}

/// A permit for a waiter whose sender vanished, which the queue never
/// lets happen; counted, so the pool stays bounded.
fn unreachable_permit(queue: &FairQueue) -> Permit {
    queue.state().out += 1;
    Permit {
        queue: Some(queue.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::ids::TenantId;

    fn tenant(n: u128) -> Scope {
        Scope::Tenant(TenantId::from_uuid(uuid::Uuid::from_u128(n)))
    }

    #[tokio::test]
    async fn waiting_tenants_are_served_in_turn() {
        let queue = FairQueue::new(1);
        let first = queue.acquire(tenant(1)).await;
        let (sender, mut served) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        // Tenant 1 queues five calls, then tenant 2 one.
        for (n, who) in [1, 1, 1, 1, 1, 2].into_iter().enumerate() {
            let (queue, sender) = (queue.clone(), sender.clone());
            waiters.push(tokio::spawn(async move {
                let permit = queue.acquire(tenant(who)).await;
                sender.send((n, who)).unwrap();
                drop(permit);
            }));
            tokio::task::yield_now().await;
        }
        while queue.waiting() < 6 {
            tokio::task::yield_now().await;
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        let order: Vec<u128> = std::iter::from_fn(|| served.try_recv().ok())
            .map(|(_, who)| who)
            .collect();
        // Tenant 2 goes second, not after tenant 1's five.
        assert_eq!(order, [1, 2, 1, 1, 1, 1]);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_permit() {
        let queue = FairQueue::new(1);
        let first = queue.acquire(tenant(1)).await;
        let gave_up = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.acquire(tenant(2)).await })
        };
        while queue.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        gave_up.abort();
        let _ = gave_up.await;
        drop(first);
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(1), queue.acquire(tenant(3)));
        assert!(again.await.is_ok(), "the permit was lost");
    }
}
