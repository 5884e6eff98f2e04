//! A replica's view of the shared `RedisStore`: every call held in simulated
//! time by [`real_io`], and the replica able to die or have its writes hang.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use storefront_token::renewal::{RedisStore, StoreError};

use super::hooked_store::{HookedStore, Op, StoreHook};
use super::{real_io, Token};

/// A [`RedisStore`] as one replica sees it: every call held in simulated time
/// by [`real_io`]; the replica can die (from then on no call reaches Redis:
/// each hangs forever, as for a process that was killed) or have its writes
/// hang (never sent). Its controls are [`FleetHook`]'s.
pub type FleetStore = HookedStore<RedisStore, FleetHook>;

/// A replica's store in `inner`'s hands.
pub fn fleet_store(inner: RedisStore) -> FleetStore {
    HookedStore::new(inner, FleetHook::default())
}

/// What a [`FleetStore`] does around each call.
#[derive(Debug)]
pub struct FleetHook {
    dead: AtomicBool,
    hang_puts: AtomicBool,
    hold_time: AtomicBool,
    calls: AtomicU64,
}

impl Default for FleetHook {
    fn default() -> Self {
        Self {
            dead: AtomicBool::new(false),
            hang_puts: AtomicBool::new(false),
            hold_time: AtomicBool::new(true),
            calls: AtomicU64::new(0),
        }
    }
}

impl FleetHook {
    /// The replica dies: nothing it does reaches Redis any more.
    pub fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Writes hang without being sent.
    pub fn hang_puts(&self, hang: bool) {
        self.hang_puts.store(hang, Ordering::SeqCst);
    }

    /// Whether calls hold simulated time still (off while Redis is known to be
    /// down: there is no reply on its way to wait for).
    pub fn hold_time(&self, hold: bool) {
        self.hold_time.store(hold, Ordering::SeqCst);
    }

    /// Store calls made (whatever became of them).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl StoreHook<Token> for FleetHook {
    async fn before(&self, op: Op<'_>) -> Result<(), StoreError> {
        if matches!(op, Op::Put(_)) && self.hang_puts.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.is_dead() {
            return std::future::pending().await;
        }
        Ok(())
    }

    async fn around<T: Send>(
        &self,
        _op: Op<'_>,
        call: impl std::future::Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        if self.hold_time.load(Ordering::SeqCst) {
            real_io(call).await
        } else {
            call.await
        }
    }
}
