//! The external ids of a model's rows: one list for users, one for items.
//!
//! A model carries its own id lists (`users.ids`, `items.ids`: one id per line, line = row)
//! rather than pointing into the store's id map, so an artifact is self-contained: it can be
//! copied to another machine and served against another feature store.

use std::collections::HashMap;
use std::path::Path;

use recd_types::Idx;

use crate::ModelError;

/// Ids in row order, with a reverse index.
#[derive(Debug, Clone, Default)]
pub struct IdIndex {
    names: Vec<String>,
    by_name: HashMap<String, Idx>,
}

impl IdIndex {
    /// Builds the index; ids must be distinct.
    pub fn new(names: Vec<String>) -> Result<Self, ModelError> {
        let mut by_name = HashMap::with_capacity(names.len());
        for (idx, name) in names.iter().enumerate() {
            if by_name.insert(name.clone(), idx as Idx).is_some() {
                return Err(ModelError::Artifact(format!("id {name:?} appears twice")));
            }
        }
        Ok(Self { names, by_name })
    }

    /// The row of `name`.
    pub fn get(&self, name: &str) -> Option<Idx> {
        self.by_name.get(name).copied()
    }

    /// The id of row `idx`.
    pub fn name(&self, idx: Idx) -> &str {
        &self.names[idx as usize]
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Writes one id per line.
    pub fn write(&self, path: &Path) -> Result<(), ModelError> {
        let mut text = String::with_capacity(self.names.len() * 8);
        for n in &self.names {
            text.push_str(n);
            text.push('\n');
        }
        std::fs::write(path, text)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))
    }

    /// Reads a file written by [`IdIndex::write`].
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::Artifact(format!("{}: {e}", path.display())))?;
        Self::new(text.lines().map(str::to_string).collect())
    }
}
