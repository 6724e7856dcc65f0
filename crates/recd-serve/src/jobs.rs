//! Training runs started by the server, on its schedule or on request.
//!
//! Each run is a child process (`recd train`), so a crash or an out-of-memory kill in
//! training never takes serving down; it runs at a lower CPU priority so serving keeps its
//! latency, and it is stopped when it passes its timeout or memory cap, or when an operator
//! cancels it. One runs at a time here; `recd train` also takes the data dir's training lock,
//! so a run started by hand never overlaps one started by the server either. The child
//! writes its result to an outcome file (`recd train --outcome`); finished runs are
//! appended to `jobs/jobs.jsonl` in the data dir, so the list survives a restart.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use recd_api::{JobOut, TrainOutcomeOut};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, oneshot};

/// How the server runs training.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// The program (the binary itself).
    pub program: PathBuf,
    /// Its arguments (`train --data-dir D ...`; `--outcome FILE` is added per run).
    pub args: Vec<OsString>,
    /// Where run logs, outcome files and the history go (`DATA/jobs`).
    pub dir: PathBuf,
    /// A run still going after this long is stopped.
    pub timeout: Duration,
    /// Resident memory cap in bytes (0: half of the machine's memory).
    pub memory_limit_bytes: u64,
    /// CPU priority of the child (`nice`).
    pub nice: i32,
    /// Run every this long after start ...
    pub every: Option<Duration>,
    /// ... and/or daily at this UTC (hour, minute).
    pub daily_at: Option<(u8, u8)>,
    /// Finished runs kept.
    pub history: usize,
}

/// Why a job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// One run at a time.
    #[error("training job {0} is running; wait for it or cancel it")]
    AlreadyRunning(u64),
    /// No job has this id.
    #[error("no training job {0}")]
    NotFound(u64),
    /// The job has already ended.
    #[error("training job {0} is not running")]
    NotRunning(u64),
    /// The child could not be started.
    #[error("cannot start training: {0}")]
    Spawn(String),
}

/// The server's training runs.
pub struct Jobs {
    settings: JobSettings,
    state: Mutex<State>,
    /// Woken each time a run ends.
    ended: Notify,
    /// In a fleet: where its API processes record finished runs, and this one's id there.
    fleet: std::sync::OnceLock<(Arc<dyn FleetJobs>, String)>,
}

/// The fleet's list of finished training runs (DECISIONS §3: training jobs live in Redis in
/// scaled mode), so `GET /v1/admin/jobs` on any API process shows what every one of them ran.
/// Errors are messages: the list is the server's concern, never the caller's.
pub trait FleetJobs: Send + Sync {
    /// Adds a finished run (the list keeps the newest `history`).
    fn record(&self, job: &JobOut, history: usize) -> Result<(), String>;
    /// The finished runs, newest first.
    fn recent(&self) -> Result<Vec<JobOut>, String>;
}

struct State {
    next_id: u64,
    finished: VecDeque<JobOut>,
    running: Option<(JobOut, oneshot::Sender<()>)>,
}

/// How a run ended, before its outcome is read.
enum End {
    Exited(Result<std::process::ExitStatus, String>),
    Cancelled,
    TimedOut,
    MemoryExceeded(u64),
}

const HISTORY_FILE: &str = "jobs.jsonl";

/// The exit status of a `recd train` that did not run because another training of the
/// fleet holds the fleet's training lock (EX_TEMPFAIL): recorded as `skipped`, not `failed`,
/// since every API process's schedule fires and one of them trains.
pub const EXIT_BUSY: u8 = 75;

impl Jobs {
    /// Opens the jobs dir (created if needed) and reads the history kept there.
    pub fn open(mut settings: JobSettings) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&settings.dir)?;
        if settings.memory_limit_bytes == 0 {
            settings.memory_limit_bytes = half_of_memory().unwrap_or(u64::MAX);
        }
        let mut finished = VecDeque::new();
        if let Ok(text) = std::fs::read_to_string(settings.dir.join(HISTORY_FILE)) {
            for line in text.lines() {
                // A line torn by a crash is skipped: the history is a courtesy, not a record.
                if let Ok(job) = serde_json::from_str::<JobOut>(line) {
                    finished.push_front(job);
                }
            }
        }
        finished.truncate(settings.history);
        let next_id = finished.iter().map(|j| j.id).max().unwrap_or(0) + 1;
        Ok(Arc::new(Self {
            settings,
            state: Mutex::new(State {
                next_id,
                finished,
                running: None,
            }),
            ended: Notify::new(),
            fleet: std::sync::OnceLock::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running job (if any), then finished ones, newest first.
    /// In a fleet (`instance`: this process's id in it), finished runs are also recorded in
    /// `fleet`, and listed from there. Set once, before the first run.
    pub fn share_with(&self, fleet: Arc<dyn FleetJobs>, instance: String) {
        let _ = self.fleet.set((fleet, instance));
    }

    /// This process's running run, then the finished ones, newest first: the fleet's when it
    /// shares them (this process's alone if the fleet's list cannot be read). Blocks on the
    /// fleet's store: call it off the async runtime.
    pub fn list(&self) -> Vec<JobOut> {
        let (running, finished) = {
            let state = self.lock();
            let running: Option<JobOut> = state.running.as_ref().map(|(job, _)| job.clone());
            (running, state.finished.iter().cloned().collect::<Vec<_>>())
        };
        let finished = match self.fleet.get() {
            Some((fleet, _)) => match fleet.recent() {
                Ok(recent) => {
                    // With this process's own runs that the fleet's list lacks: its skipped
                    // runs (not the fleet's news) and one whose recording is on its way.
                    let mut all = recent;
                    let listed: std::collections::HashSet<(Option<String>, u64)> =
                        all.iter().map(|j| (j.instance.clone(), j.id)).collect();
                    all.extend(
                        finished
                            .into_iter()
                            .filter(|j| !listed.contains(&(j.instance.clone(), j.id))),
                    );
                    all.sort_by_key(|j| std::cmp::Reverse(j.started_ms));
                    all.truncate(self.settings.history);
                    all
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the fleet's training runs; listing this process's");
                    finished
                }
            },
            None => finished,
        };
        running.into_iter().chain(finished).collect()
    }

    /// Starts a run now (`trigger`: `api` or `schedule`). Needs a tokio runtime.
    pub fn start(self: &Arc<Self>, trigger: &str) -> Result<JobOut, JobError> {
        let mut state = self.lock();
        if let Some((job, _)) = &state.running {
            return Err(JobError::AlreadyRunning(job.id));
        }
        let id = state.next_id;
        let log_path = self.settings.dir.join(format!("{id}.log"));
        let outcome_path = self.settings.dir.join(format!("{id}.outcome.json"));
        let child = self
            .spawn(&log_path, &outcome_path)
            .map_err(|e| JobError::Spawn(e.to_string()))?;
        state.next_id += 1;
        let job = JobOut {
            id,
            trigger: trigger.to_string(),
            state: "running".into(),
            started_ms: now_ms(),
            ended_ms: None,
            version: None,
            activated: None,
            candidate: None,
            gate: None,
            error: None,
            log_file: Some(log_path.display().to_string()),
            instance: self.fleet.get().map(|(_, me)| me.clone()),
        };
        let (cancel, cancelled) = oneshot::channel();
        state.running = Some((job.clone(), cancel));
        drop(state);
        metrics::gauge!("recd_training_job_running").set(1.0);
        tracing::info!(id, trigger, "training job started");
        let jobs = self.clone();
        tokio::spawn(async move {
            let end = jobs.watch(child, cancelled).await;
            jobs.finish(end, &log_path, &outcome_path);
        });
        Ok(job)
    }

    fn spawn(&self, log_path: &Path, outcome_path: &Path) -> std::io::Result<Child> {
        let log = std::fs::File::create(log_path)?;
        let mut command = Command::new(&self.settings.program);
        command
            .args(&self.settings.args)
            .arg("--outcome")
            .arg(outcome_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let nice = self.settings.nice;
        // SAFETY: the closure runs in the forked child before exec and only calls
        // setpriority, which is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(move || {
                libc::setpriority(libc::PRIO_PROCESS, 0, nice);
                Ok(())
            });
        }
        command.spawn()
    }

    /// Waits for the child to exit, or stops it at its timeout, memory cap or cancellation.
    async fn watch(&self, mut child: Child, mut cancelled: oneshot::Receiver<()>) -> End {
        let deadline = tokio::time::sleep(self.settings.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let end = loop {
            tokio::select! {
                status = child.wait() => return End::Exited(status.map_err(|e| e.to_string())),
                _ = &mut deadline => break End::TimedOut,
                _ = &mut cancelled => break End::Cancelled,
                _ = tick.tick() => {
                    let rss = child.id().and_then(resident_bytes).unwrap_or(0);
                    if rss > self.settings.memory_limit_bytes {
                        break End::MemoryExceeded(rss);
                    }
                }
            }
        };
        let _ = child.start_kill();
        let _ = child.wait().await;
        end
    }

    /// Records how a run ended, with its outcome when it succeeded.
    fn finish(&self, end: End, log_path: &Path, outcome_path: &Path) {
        let mut state = self.lock();
        let Some((mut job, _)) = state.running.take() else {
            return;
        };
        job.ended_ms = Some(now_ms());
        let limit_mb = self.settings.memory_limit_bytes >> 20;
        let (name, error) = match end {
            End::Exited(Ok(status)) if status.success() => match read_outcome(outcome_path) {
                Ok(outcome) => {
                    job.version = Some(outcome.version);
                    job.activated = Some(outcome.activated);
                    job.candidate = Some(outcome.candidate);
                    job.gate = Some(outcome.gate);
                    ("succeeded", None)
                }
                Err(e) => ("failed", Some(e)),
            },
            End::Exited(Ok(status)) if status.code() == Some(i32::from(EXIT_BUSY)) => (
                "skipped",
                Some("another training of the fleet was running".to_string()),
            ),
            End::Exited(Ok(status)) => ("failed", Some(format!("{status}: {}", tail(log_path)))),
            End::Exited(Err(e)) => ("failed", Some(e)),
            End::Cancelled => ("cancelled", Some("cancelled by an operator".to_string())),
            End::TimedOut => (
                "timed_out",
                Some(format!(
                    "still running after {} s ([train.job] timeout_secs); stopped",
                    self.settings.timeout.as_secs()
                )),
            ),
            End::MemoryExceeded(rss) => (
                "memory_exceeded",
                Some(format!(
                    "resident memory {} MiB passed the cap of {limit_mb} MiB ([train.job] memory_mb); stopped",
                    rss >> 20
                )),
            ),
        };
        job.state = name.into();
        job.error = error;
        metrics::counter!("recd_training_jobs_total", "state" => name).increment(1);
        metrics::gauge!("recd_training_job_running").set(0.0);
        if name == "succeeded" {
            metrics::gauge!("recd_training_last_success_timestamp_seconds")
                .set(now_ms() as f64 / 1e3);
        }
        if name == "skipped" {
            tracing::info!(
                id = job.id,
                "training job skipped: another training of the fleet was running"
            );
        } else if job.state == "succeeded" {
            tracing::info!(
                id = job.id,
                version = job.version,
                activated = job.activated,
                "training job succeeded"
            );
        } else {
            tracing::error!(
                id = job.id,
                state = name,
                error = job.error,
                "training job did not succeed; serving goes on with the current model"
            );
        }
        if let Err(e) = append_history(&self.settings.dir, &job) {
            tracing::warn!(error = %e, "cannot record the training job in the history file");
        }
        if let Some((fleet, _)) = self.fleet.get()
            && name != "skipped"
        {
            let (fleet, job, history) = (fleet.clone(), job.clone(), self.settings.history);
            // Off the runtime: the fleet's store is a blocking round trip.
            std::thread::spawn(move || {
                if let Err(e) = fleet.record(&job, history) {
                    tracing::warn!(error = %e, id = job.id, "cannot record the training run in the fleet's list");
                }
            });
        }
        state.finished.push_front(job);
        state.finished.truncate(self.settings.history);
        drop(state);
        self.ended.notify_waiters();
    }

    /// Stops the running job `id` and returns it as it ended.
    pub async fn cancel(&self, id: u64) -> Result<JobOut, JobError> {
        let ended = self.ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        {
            let mut state = self.lock();
            match state.running.take() {
                Some((job, cancel)) if job.id == id => {
                    let _ = cancel.send(());
                    // Keep it listed as running until the watcher records its end.
                    let (keep, _) = oneshot::channel();
                    state.running = Some((job, keep));
                }
                other => {
                    state.running = other;
                    return Err(if state.finished.iter().any(|j| j.id == id) {
                        JobError::NotRunning(id)
                    } else {
                        JobError::NotFound(id)
                    });
                }
            }
        }
        ended.await;
        self.lock()
            .finished
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or(JobError::NotFound(id))
    }

    /// Starts runs on the configured schedule, forever (returns at once without one).
    pub async fn run_schedule(self: Arc<Self>) {
        let (every, daily_at) = (self.settings.every, self.settings.daily_at);
        if every.is_none() && daily_at.is_none() {
            return;
        }
        let mut next_every = every.map(|d| tokio::time::Instant::now() + d);
        loop {
            let next_daily = daily_at.map(|at| tokio::time::Instant::now() + until_daily(at));
            let Some(next) = next_every.into_iter().chain(next_daily).min() else {
                return;
            };
            tokio::time::sleep_until(next).await;
            if let (Some(at), Some(d)) = (next_every, every)
                && at <= tokio::time::Instant::now()
            {
                next_every = Some(tokio::time::Instant::now() + d);
            }
            match self.start("schedule") {
                Ok(_) => {}
                Err(JobError::AlreadyRunning(id)) => {
                    tracing::info!(
                        running = id,
                        "scheduled training skipped: a run is still going"
                    )
                }
                Err(e) => tracing::error!(error = %e, "scheduled training could not start"),
            }
        }
    }
}

/// Time until the next `(hour, minute)` UTC, at least a second ahead.
fn until_daily((hour, minute): (u8, u8)) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let target = u64::from(hour) * 3600 + u64::from(minute) * 60;
    let today = now % 86_400;
    let wait = if target > today {
        target - today
    } else {
        86_400 - today + target
    };
    Duration::from_secs(wait.max(1))
}

fn read_outcome(path: &Path) -> Result<TrainOutcomeOut, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "training exited cleanly but left no outcome ({}): {e}",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("unreadable outcome {}: {e}", path.display()))
}

/// The last few non-empty lines of a run's output, where its error is.
fn tail(log_path: &Path) -> String {
    let text = std::fs::read_to_string(log_path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

fn append_history(dir: &Path, job: &JobOut) -> std::io::Result<()> {
    let mut line = serde_json::to_string(job).map_err(std::io::Error::other)?;
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(HISTORY_FILE))?
        .write_all(line.as_bytes())
}

/// Resident memory of process `pid` (`VmRSS` in `/proc/PID/status`).
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmRSS:").map(|kib| kib << 10)
}

/// Half of `MemTotal` from `/proc/meminfo`.
fn half_of_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&info, "MemTotal:").map(|kib| (kib << 10) / 2)
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_times_are_within_a_day_ahead() {
        for at in [(0, 0), (3, 0), (23, 59)] {
            let wait = until_daily(at);
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(86_400));
        }
    }

    #[test]
    fn proc_fields_are_read_in_kib() {
        assert_eq!(
            kib_field("Name: x\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048)
        );
        assert_eq!(kib_field("Name: x\n", "VmRSS:"), None);
        assert!(resident_bytes(std::process::id()).is_some_and(|b| b > 0));
    }
}
