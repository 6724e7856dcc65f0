//! Training jobs: `POST /v1/admin/train`, `GET /v1/admin/jobs`, `DELETE /v1/admin/jobs/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use recd_api::{ErrorBody, JobOut, JobsOut};

use crate::jobs::{JobError, Jobs};
use crate::routes::IdPath;
use crate::{ApiError, AppState};

fn jobs(state: &AppState) -> Result<&Arc<Jobs>, ApiError> {
    state
        .jobs
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("this server does not run training jobs".into()))
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::AlreadyRunning(_) | JobError::NotRunning(_) => {
                ApiError::Conflict(e.to_string())
            }
            JobError::NotFound(id) => ApiError::NotFound {
                what: "job",
                id: id.to_string(),
            },
            JobError::Spawn(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Starts a training run now.
#[utoipa::path(
    post,
    path = "/v1/admin/train",
    tag = "admin",
    operation_id = "start_training",
    responses(
        (status = 202, description = "Started: the job, `running`. Poll `GET /v1/admin/jobs` for its end.", body = JobOut),
        (status = 409, description = "A training run is already going (`conflict`).", body = ErrorBody),
        (status = 503, description = "This server does not run training jobs.", body = ErrorBody),
    )
)]
pub(crate) async fn train(
    State(state): State<Arc<AppState>>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    let job = jobs(&state)?.start("api")?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The running training job and past ones, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/jobs",
    tag = "admin",
    operation_id = "list_jobs",
    responses(
        (status = 200, description = "Running and past training runs, with the gate's decision and both NDCG numbers.", body = JobsOut),
        (status = 503, description = "This server does not run training jobs.", body = ErrorBody),
    )
)]
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<JobsOut>, ApiError> {
    let jobs = jobs(&state)?.clone();
    Ok(Json(JobsOut {
        jobs: crate::routes::blocking(move || Ok(jobs.list())).await?,
    }))
}

/// Cancels the running job: its process is stopped, and the job is returned as it ended.
#[utoipa::path(
    delete,
    path = "/v1/admin/jobs/{job_id}",
    tag = "admin",
    operation_id = "cancel_job",
    params(("job_id" = u64, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "Stopped: the job, `cancelled`.", body = JobOut),
        (status = 400, description = "The id is not a number (`invalid_field`).", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job has already ended.", body = ErrorBody),
        (status = 503, description = "This server does not run training jobs.", body = ErrorBody),
    )
)]
pub(crate) async fn cancel(
    State(state): State<Arc<AppState>>,
    IdPath(id): IdPath,
) -> Result<Json<JobOut>, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::InvalidField {
        index: None,
        field: "job_id".into(),
        message: format!("job id {id:?} is not a number"),
    })?;
    Ok(Json(jobs(&state)?.cancel(id).await?))
}
