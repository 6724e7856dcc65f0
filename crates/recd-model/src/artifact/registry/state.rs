//! `models/STATE.json`: the registry's pointers in one file, replaced whole by rename.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files::{CURRENT, STATE, err};
use super::{Change, MAX_HISTORY};
use crate::ModelError;

/// A change of the registry's pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Make this version current (roll forward or back); the old current becomes the rollback
    /// target, and the candidate slot empties if it held this version.
    Activate(String),
    /// Make this version the candidate; `CURRENT` does not move.
    Stage(String),
    /// The candidate becomes current.
    Promote,
    /// `CURRENT` returns to the last of the history, which forgets it.
    Rollback,
    /// The candidate leaves its slot (a gradual rollout rolled it back); it stays an ordinary
    /// version, which retention may delete. `CURRENT` does not move.
    Reject,
}

/// Which version serves, which waits for rollout, and where a rollback goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryState {
    /// The version servers answer with.
    pub current: Option<String>,
    /// A version that passed the publish gate under a gradual rollout policy and waits for
    /// `recd models promote`; servers load it only while traffic is routed to it.
    pub candidate: Option<String>,
    /// Earlier `CURRENT`s, oldest first, at most [`MAX_HISTORY`]: a rollback returns to the
    /// last one.
    pub previous: Vec<String>,
}

impl RegistryState {
    /// Reads the state of `models_dir`: `STATE.json`, else (a data dir from before the state
    /// file) `CURRENT` alone, else the empty state. A state file that does not parse is an
    /// error, never silently empty: treating it as "no model" would let the next training
    /// activate itself without the gate.
    pub fn read(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join(STATE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::from_current(models_dir),
            Err(e) => Err(err(&path, e)),
        }
    }

    fn from_current(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join(CURRENT);
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text.trim().to_string()).filter(|v| !v.is_empty()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(err(&path, e)),
        };
        Ok(Self {
            current,
            ..Self::default()
        })
    }

    /// The version a rollback would return to.
    pub fn rollback_target(&self) -> Option<&str> {
        self.previous.last().map(String::as_str)
    }

    /// Whether `version` is current, candidate or the rollback target: the versions retention
    /// never deletes.
    pub fn protects(&self, version: &str) -> bool {
        [
            self.current.as_deref(),
            self.candidate.as_deref(),
            self.rollback_target(),
        ]
        .contains(&Some(version))
    }

    /// The version `op` would make current or candidate, read from this state: what must
    /// exist (complete, checksums verified) before `op` is applied. `None` when the state does
    /// not allow `op` (see [`RegistryState::apply`] for the error).
    pub fn target(&self, op: &Op) -> Option<String> {
        match op {
            Op::Activate(v) | Op::Stage(v) => Some(v.clone()),
            Op::Promote => self.candidate.clone(),
            Op::Rollback => self.previous.last().cloned(),
            Op::Reject => None,
        }
    }

    /// Applies `op` to this state: the one definition of every registry change, shared by the
    /// local registry (under its flock) and a remote store (in a compare-and-swap loop, where
    /// `op` is re-applied to a fresher state after a conflict). Checks only what the state
    /// itself forbids; that the target version exists is the caller's check.
    pub fn apply(&mut self, op: &Op) -> Result<Change, ModelError> {
        match op {
            Op::Activate(version) => Ok(Change {
                version: version.clone(),
                replaced: self.make_current(version),
            }),
            Op::Stage(version) => {
                if self.current.as_deref() == Some(version.as_str()) {
                    return Err(ModelError::Registry(format!(
                        "{version} is already CURRENT; it cannot also be the candidate"
                    )));
                }
                Ok(Change {
                    version: version.clone(),
                    replaced: self.candidate.replace(version.clone()),
                })
            }
            Op::Promote => {
                let candidate = self
                    .candidate
                    .clone()
                    .ok_or_else(|| ModelError::Registry("no candidate to promote".to_string()))?;
                Ok(Change {
                    replaced: self.make_current(&candidate),
                    version: candidate,
                })
            }
            Op::Rollback => {
                let target = self.previous.pop().ok_or_else(|| {
                    ModelError::Registry("no earlier CURRENT to roll back to".to_string())
                })?;
                let replaced = self.current.replace(target.clone());
                if self.candidate.as_deref() == Some(target.as_str()) {
                    self.candidate = None;
                }
                Ok(Change {
                    version: target,
                    replaced,
                })
            }
            Op::Reject => {
                let candidate = self
                    .candidate
                    .take()
                    .ok_or_else(|| ModelError::Registry("no candidate to reject".to_string()))?;
                Ok(Change {
                    version: candidate.clone(),
                    replaced: Some(candidate),
                })
            }
        }
    }

    /// Makes `version` current, remembering the old current for rollback and emptying the
    /// candidate slot if it held `version`. Returns the old current.
    pub(super) fn make_current(&mut self, version: &str) -> Option<String> {
        if self.candidate.as_deref() == Some(version) {
            self.candidate = None;
        }
        if self.current.as_deref() == Some(version) {
            return self.current.clone();
        }
        let replaced = self.current.replace(version.to_string());
        if let Some(old) = &replaced {
            // A version appears once in the history: rolling back lands on its latest stint.
            self.previous.retain(|v| v != old && v != version);
            self.previous.push(old.clone());
            let excess = self.previous.len().saturating_sub(MAX_HISTORY);
            self.previous.drain(..excess);
        }
        replaced
    }
}
