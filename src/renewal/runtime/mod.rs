//! The tokio layer over the synchronous core: the engine's builder and start,
//! the shared state behind one lock, the driver task, the workers, and the
//! handles callers hold.

mod driver;
mod engine;
mod handle;
mod instruments;
mod shared;
mod store_calls;
mod worker;

pub use engine::{RenewalEngine, RenewalEngineBuilder};
pub use handle::RenewalHandle;
