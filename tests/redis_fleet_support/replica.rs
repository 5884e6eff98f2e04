//! Replicas on a shared `RedisStore`: the renewer wrapper that records every
//! mutation and can kill its replica at a chosen point, a replica's setup and
//! event collection, and the [`Fleet`] a test's replicas share.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use storefront_token::mock::{MockStorefront, SimulatedClock};
use storefront_token::renewal::{
    EventError, EventReceiver, FailureClass, RedisStore, Renewable, RenewalEngine, RenewalEvent,
    RenewalPolicy, ReplicaId, StorefrontRenewer,
};
use storefront_token::{Clock, StorefrontClient};

use super::{
    client, fleet_store, real_io, shop, BoxError, FleetStore, Handle, Token, EMAIL, PASSWORD,
};

/// What a [`FleetRenewer`] does with its next mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fate {
    /// Renews.
    Live = 0,
    /// The replica dies before sending the mutation (after taking the lease):
    /// its store dies and the renewal never answers.
    DieBeforeSending = 1,
    /// The replica dies after the mutation went through at the shop and before
    /// the renewed token is written: its store dies, then the renewal answers.
    DieAfterSending = 2,
}

/// One mutation as the shop saw it (or would have).
#[derive(Debug, Clone)]
pub struct Call {
    /// Which replica sent it.
    pub replica: u128,
    /// Server time when the replica sent it.
    pub at: DateTime<Utc>,
    /// The token string renewed.
    pub token: String,
    /// The token string it gave, if it was renewed.
    pub renewed: Option<String>,
}

/// The Storefront renewer, recording every mutation and able to kill its
/// replica at a chosen point (see [`Fate`]).
pub struct FleetRenewer {
    pub inner: StorefrontRenewer,
    pub server: SimulatedClock,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub fate: Arc<AtomicU8>,
    pub store: Arc<FleetStore>,
    pub replica: u128,
}

impl Renewable for FleetRenewer {
    type Credential = Token;
    type Error = storefront_token::Error;

    fn expires_at(&self, token: &Token) -> DateTime<Utc> {
        self.inner.expires_at(token)
    }

    async fn renew(&self, token: &Token) -> Result<Token, Self::Error> {
        let at = self.server.now();
        let secret = token.access_token().expose_secret().to_owned();
        let record = |renewed| {
            push(
                &self.calls,
                Call {
                    replica: self.replica,
                    at,
                    token: secret,
                    renewed,
                },
            );
        };
        let fate = self.fate.load(Ordering::SeqCst);
        if fate == Fate::DieBeforeSending as u8 {
            self.store.die();
            record(None);
            return std::future::pending().await;
        }
        let result = self.inner.renew(token).await;
        record(
            result
                .as_ref()
                .ok()
                .map(|t| t.access_token().expose_secret().to_owned()),
        );
        if fate == Fate::DieAfterSending as u8 {
            self.store.die();
        }
        result
    }

    fn classify(&self, error: &Self::Error) -> FailureClass {
        self.inner.classify(error)
    }

    fn server_clock_offset(&self) -> Option<TimeDelta> {
        self.inner.server_clock_offset()
    }

    fn reset_server_clock_offset(&self) {
        self.inner.reset_server_clock_offset();
    }
}

fn push(calls: &Mutex<Vec<Call>>, call: Call) {
    if let Ok(mut calls) = calls.lock() {
        calls.push(call);
    }
}

/// One replica: its handle, its store and renewer controls, its events.
pub struct Replica {
    pub handle: Handle,
    pub store: Arc<FleetStore>,
    pub fate: Arc<AtomicU8>,
    pub events: Option<tokio::task::JoinHandle<Result<Vec<RenewalEvent>, u64>>>,
    pub id: ReplicaId,
}

impl Replica {
    pub fn set_fate(&self, fate: Fate) {
        self.fate.store(fate as u8, Ordering::SeqCst);
    }

    /// Every event this replica emitted, once it has stopped.
    pub async fn events(&mut self) -> Result<Vec<RenewalEvent>, BoxError> {
        let collected = self.events.take().ok_or("events already taken")?;
        Ok(collected
            .await?
            .map_err(|missed| format!("{missed} events lagged"))?)
    }
}

/// Collects every event until the engine stops; `Err(missed)` if any lagged.
pub fn collect(
    mut events: EventReceiver,
) -> tokio::task::JoinHandle<Result<Vec<RenewalEvent>, u64>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            match events.recv().await {
                Ok(event) => seen.push(event),
                Err(EventError::Lagged(missed)) => return Err(missed),
                Err(_) => return Ok(seen),
            }
        }
    })
}

/// How a replica is set up.
pub struct ReplicaConfig<'a> {
    pub redis_url: &'a str,
    pub prefix: &'a str,
    pub sealer: storefront_token::at_rest::Sealer,
    pub shop: &'a MockStorefront,
    pub server: &'a SimulatedClock,
    /// This replica's clock: the server's with an offset (a machine whose
    /// clock is wrong).
    pub offset: TimeDelta,
    pub policy: RenewalPolicy,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub replica_id: u128,
    /// Log in again (create a token for the demo customer) when a token dies.
    pub relogin: bool,
    pub event_capacity: usize,
}

/// A replica on its own `RedisStore` connection. Leases run on the server's
/// simulated clock: the one clock every replica shares, as Redis's `TIME` is
/// in production (the replicas' own clocks may be wrong).
pub async fn replica(config: ReplicaConfig<'_>) -> Result<Replica, BoxError> {
    let redis = real_io(
        RedisStore::builder(config.redis_url, config.sealer.clone())
            .prefix(config.prefix)
            .lease_clock(Arc::new(config.server.clone()))
            .build(),
    )
    .await?;
    let store = Arc::new(fleet_store(redis));
    let clock = config.server.with_offset(config.offset);
    let client = client(config.shop, &clock)?;
    let fate = Arc::new(AtomicU8::new(Fate::Live as u8));
    let renewer = FleetRenewer {
        inner: StorefrontRenewer::new(client.clone()),
        server: config.server.clone(),
        calls: config.calls,
        fate: Arc::clone(&fate),
        store: Arc::clone(&store),
        replica: config.replica_id,
    };
    let id = ReplicaId::new(config.replica_id);
    let mut builder = RenewalEngine::builder(renewer)
        .store(Arc::clone(&store))
        .clock(clock)
        .replica_id(id)
        .policy(config.policy)
        .event_capacity(config.event_capacity);
    if config.relogin {
        builder = builder.relogin(move |_id| {
            let client = client.clone();
            async move {
                let password = storefront_token::Password::new(PASSWORD);
                Ok(client.create_token(EMAIL, &password).await?)
            }
        });
    }
    let engine = builder.build();
    let events = collect(engine.events());
    let handle = engine.start().await?;
    Ok(Replica {
        handle,
        store,
        fate,
        events: Some(events),
        id,
    })
}

/// What replicas of one test share: Redis, the prefix, the keys, the shop, the
/// server's clock, and the record of mutations.
pub struct Fleet {
    pub url: String,
    pub prefix: String,
    pub sealer: storefront_token::at_rest::Sealer,
    pub shop: MockStorefront,
    pub server: SimulatedClock,
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl Fleet {
    /// A fleet on the Redis at `url` under a fresh prefix, with fresh keys and a
    /// shop issuing `lifetime`-long tokens.
    pub async fn new(url: String, lifetime: Duration) -> Result<Self, BoxError> {
        let (server, shop) = shop(lifetime).await?;
        Ok(Self {
            url,
            prefix: crate::redis_support::unique_prefix("fleet"),
            sealer: crate::redis_support::fresh_sealer(),
            shop,
            server,
            calls: Arc::default(),
        })
    }

    /// A replica with clock `offset` seconds off the server's.
    pub async fn replica(
        &self,
        replica_id: u128,
        offset: i64,
        policy: RenewalPolicy,
        relogin: bool,
    ) -> Result<Replica, BoxError> {
        self.replica_sealing_with(replica_id, offset, policy, relogin, self.sealer.clone())
            .await
    }

    /// A replica whose store seals with `sealer` (the wrong keys, say).
    pub async fn replica_sealing_with(
        &self,
        replica_id: u128,
        offset: i64,
        policy: RenewalPolicy,
        relogin: bool,
        sealer: storefront_token::at_rest::Sealer,
    ) -> Result<Replica, BoxError> {
        replica(ReplicaConfig {
            redis_url: &self.url,
            prefix: &self.prefix,
            sealer,
            shop: &self.shop,
            server: &self.server,
            offset: TimeDelta::seconds(offset),
            policy,
            calls: Arc::clone(&self.calls),
            replica_id,
            relogin,
            event_capacity: 1 << 12,
        })
        .await
    }

    /// A client on the server's clock, to ask the shop whether a token is alive.
    pub fn client(&self) -> Result<StorefrontClient, BoxError> {
        client(&self.shop, &self.server)
    }
}
