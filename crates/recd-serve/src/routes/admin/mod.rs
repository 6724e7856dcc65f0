//! `/v1/admin/*`: routes for operators (training jobs, model registry, experiments, log
//! compaction, user look-up). They need the admin
//! scope, or, while no API keys are configured, a client on loopback (the guard in `auth`
//! decides, from the route table).

pub(crate) mod experiments;
pub(crate) mod jobs;
pub mod log;
pub(crate) mod models;
pub(crate) mod users;
