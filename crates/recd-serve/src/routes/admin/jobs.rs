//! Training jobs: `POST /v1/admin/train`, `GET /v1/admin/jobs`, `DELETE /v1/admin/jobs/{id}`.
