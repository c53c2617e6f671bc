//! The engine: the dispatcher, its workers, the job table and the thread pool. It tells the
//! world what happens only through events.

pub(crate) mod context;
pub(crate) mod dispatcher;
pub(crate) mod monitor;
pub mod pool;
pub(crate) mod schedule;
pub(crate) mod stop_deaths;
pub(crate) mod worker;
