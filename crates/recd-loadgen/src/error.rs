//! What can stop a simulation before it runs. Failures of single requests during the run do
//! not stop it: they are counted in the summary (`errors`, `first_error`).

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The caller's settings are wrong (bad URL, no users, more users than the world has).
    #[error("{0}")]
    InvalidConfig(String),
    /// No server answers at the URL: the caller pointed at the wrong place or the server is
    /// down, either way nothing to simulate against.
    #[error("no recd server answers at {url}: {reason}")]
    Unreachable {
        /// The server URL given.
        url: String,
        /// What happened (connection refused, timeout, an unexpected status).
        reason: String,
    },
    /// The server refused the simulator's credentials (401 or 403): the caller must give an
    /// API key with the `read` and `ingest` scopes.
    #[error(
        "{request} answered {status}: give --api-key with the read and ingest scopes (recd keys create --scope read,ingest); the server said: {body}"
    )]
    Unauthorized {
        /// The request refused.
        request: String,
        /// Its status.
        status: u16,
        /// The error body.
        body: String,
    },
    /// The server's catalog is not the generated world the simulation was given: the users'
    /// tastes would not match the data the model learned, so the run would mean nothing. The
    /// caller's world settings differ from those of `recd gen`.
    #[error(
        "the server does not serve this generated world: {0} (give the --users, --items, --events, --seed and other world flags the data was generated with)"
    )]
    WrongWorld(String),
    /// The async runtime or a request task failed: a fault of this process, not of the input.
    #[error("simulator failure: {0}")]
    Internal(String),
}
