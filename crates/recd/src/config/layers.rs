//! Layers of TOML trees merged key by key, remembering which layer set each key.
//!
//! Hand-written over `toml::Table` rather than on `figment`: an environment value is typed by
//! the key it sets (a string key keeps `RECD__SERVE__RECOMMEND__VARIANT=2` as the string "2";
//! other keys parse it as a TOML value), where figment parses environment values without
//! knowing their target and then refuses a number for a string field; and the origin of
//! every leaf, which `recd config show` prints, falls out of the merge.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// The layer a value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Compiled in.
    Default,
    /// The `--config` file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A command-line flag, by name.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(p) => write!(f, "file {}", p.display()),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A command-line flag that sets one key (`value`), or unsets an optional one (`None`).
#[derive(Debug, Clone)]
pub struct Override {
    /// The flag as typed, e.g. `--listen`.
    pub flag: &'static str,
    /// The dotted key it sets, e.g. `serve.listen`.
    pub key: &'static str,
    /// The value, typed as a string key would be; `None` removes the key.
    pub value: Option<Value>,
}

/// The merged tree and the origin of every key a layer above the defaults set.
#[derive(Debug)]
pub struct Layers {
    tree: Table,
    origins: BTreeMap<String, Origin>,
}

impl Layers {
    /// The bottom layer: `defaults` serialised.
    pub fn new<T: Serialize>(defaults: &T) -> anyhow::Result<Self> {
        match Value::try_from(defaults).context("serialising the default configuration")? {
            Value::Table(tree) => Ok(Self {
                tree,
                origins: BTreeMap::new(),
            }),
            other => bail!("the default configuration is a {}", other.type_str()),
        }
    }

    /// Merges a TOML file: tables merge key by key, any other value replaces.
    pub fn merge_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let table: Table = toml::from_str(&text)
            .with_context(|| format!("config file {}: not valid TOML", path.display()))?;
        let origin = Origin::File(path.to_path_buf());
        for (key, value) in table {
            self.set(&[key], value, &origin);
        }
        Ok(())
    }

    /// Merges every variable of `env` named `<prefix>SECTION__KEY` (any case) into
    /// `section.key`, in name order.
    pub fn merge_env(
        &mut self,
        prefix: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<()> {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .collect();
        vars.sort();
        for (name, raw) in vars {
            let path: Vec<String> = name[prefix.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            if path.iter().any(String::is_empty) {
                bail!(
                    "environment variable {name}: an empty key; write {prefix}SECTION__KEY, e.g. {prefix}SERVE__LISTEN"
                );
            }
            self.check_path(&path)
                .with_context(|| format!("environment variable {name}"))?;
            let value = typed(self.get(&path), &raw);
            self.set(&path, value, &Origin::Env(name));
        }
        Ok(())
    }

    /// Applies one flag.
    pub fn set_flag(&mut self, o: &Override) -> anyhow::Result<()> {
        let path: Vec<String> = o.key.split('.').map(str::to_string).collect();
        self.check_path(&path)
            .with_context(|| format!("flag {}", o.flag))?;
        let origin = Origin::Flag(o.flag);
        match &o.value {
            Some(Value::String(raw)) => {
                let value = typed(self.get(&path), raw);
                self.set(&path, value, &origin);
            }
            Some(value) => self.set(&path, value.clone(), &origin),
            None => {
                if let Some((last, parents)) = path.split_last()
                    && let Some(t) = self.table_mut(parents)
                {
                    t.remove(last);
                }
                self.forget(o.key);
                self.origins.insert(o.key.to_string(), origin);
            }
        }
        Ok(())
    }

    /// The merged tree as `T`. An error names the key's dotted path and the layer that set it.
    pub fn deserialize<T: DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_path_to_error::deserialize(Value::Table(self.tree.clone())).map_err(|e| {
            let parent = match e.path().to_string() {
                p if p == "." => String::new(),
                p => p,
            };
            let message = e.inner().message().to_string();
            // The path ends at the unknown key itself, or at its table (serde versions differ).
            let key = match unknown_field(&message) {
                Some(field) if parent != field && !parent.ends_with(&format!(".{field}")) => {
                    join(&parent, field)
                }
                _ => parent,
            };
            anyhow::anyhow!(
                "config key `{key}` (from {}): {message}",
                self.origin_of(&key)
            )
        })
    }

    /// `key = value  # origin` for every leaf of `effective` (the deserialised configuration
    /// serialised again, so every key shows with its effective value), then the keys a flag
    /// removed.
    pub fn show<T: Serialize>(&self, effective: &T) -> anyhow::Result<String> {
        let Value::Table(tree) =
            Value::try_from(effective).context("serialising the configuration")?
        else {
            bail!("the configuration is not a table");
        };
        let mut lines = Vec::new();
        leaves(&tree, "", &mut |key, value| {
            lines.push((format!("{key} = {}", render(value)), self.origin_of(key)));
        });
        for (key, origin) in &self.origins {
            if lookup(&tree, key).is_none() {
                lines.push((format!("# {key} unset"), origin.clone()));
            }
        }
        let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        Ok(lines
            .into_iter()
            .map(|(line, origin)| format!("{line:width$}  # {origin}\n"))
            .collect())
    }

    /// The layer that set `key`, or one of its parent tables; the defaults otherwise.
    fn origin_of(&self, key: &str) -> Origin {
        let mut k = key;
        loop {
            if let Some(o) = self.origins.get(k) {
                return o.clone();
            }
            match k.rfind('.') {
                Some(i) => k = &k[..i],
                None => return Origin::Default,
            }
        }
    }

    /// Sets `path` to `value`: a table merges into a table key by key, anything else
    /// replaces what was there. The caller has checked that no parent is a value.
    fn set(&mut self, path: &[String], value: Value, origin: &Origin) {
        if let Value::Table(new) = value {
            if matches!(self.get(path), Some(Value::Table(_))) {
                for (k, v) in new {
                    let mut sub = path.to_vec();
                    sub.push(k);
                    self.set(&sub, v, origin);
                }
                return;
            }
            return self.replace(path, Value::Table(new), origin);
        }
        self.replace(path, value, origin);
    }

    fn replace(&mut self, path: &[String], value: Value, origin: &Origin) {
        let key = path.join(".");
        self.forget(&key);
        let mut keys = Vec::new();
        leaves_of(&value, &key, &mut keys);
        for k in keys {
            self.origins.insert(k, origin.clone());
        }
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut table = &mut self.tree;
        for p in parents {
            let slot = table
                .entry(p.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !slot.is_table() {
                // Refused by `check_path` before; a table keeps this total.
                *slot = Value::Table(Table::new());
            }
            let Value::Table(t) = slot else { return };
            table = t;
        }
        table.insert(last.clone(), value);
    }

    /// Refuses a path whose parent is a value, not a table (`serve.listen.x`).
    fn check_path(&self, path: &[String]) -> anyhow::Result<()> {
        let mut table = &self.tree;
        for (depth, p) in path[..path.len() - 1].iter().enumerate() {
            match table.get(p) {
                Some(Value::Table(t)) => table = t,
                Some(_) => bail!(
                    "`{}` is a value, not a section, so `{}` cannot be set",
                    path[..=depth].join("."),
                    path.join(".")
                ),
                None => return Ok(()),
            }
        }
        Ok(())
    }

    fn get(&self, path: &[String]) -> Option<&Value> {
        let (last, parents) = path.split_last()?;
        let mut table = &self.tree;
        for p in parents {
            table = table.get(p)?.as_table()?;
        }
        table.get(last)
    }

    fn table_mut(&mut self, path: &[String]) -> Option<&mut Table> {
        let mut table = &mut self.tree;
        for p in path {
            table = table.get_mut(p)?.as_table_mut()?;
        }
        Some(table)
    }

    /// Drops the origins of `key` and everything under it (it is being replaced).
    fn forget(&mut self, key: &str) {
        let under = format!("{key}.");
        self.origins
            .retain(|k, _| k != key && !k.starts_with(&under));
    }
}

/// The value of a raw string for the key it sets: a string key takes it as it is; any other
/// key (or one with no default, such as an optional number) parses it as a TOML value, and
/// keeps it as a string when it does not parse (so `diversity=mmr` is the string "mmr").
fn typed(existing: Option<&Value>, raw: &str) -> Value {
    if matches!(existing, Some(Value::String(_))) || raw.contains(['\n', '\r']) {
        return Value::String(raw.to_string());
    }
    match toml::from_str::<Table>(&format!("v = {raw}")) {
        Ok(mut t) if t.len() == 1 => t.remove("v").unwrap_or_else(|| Value::String(raw.into())),
        _ => Value::String(raw.to_string()),
    }
}

/// The field of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(&rest[..rest.find('`')?])
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn lookup<'a>(tree: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.').peekable();
    let mut table = tree;
    while let Some(p) = parts.next() {
        let v = table.get(p)?;
        if parts.peek().is_none() {
            return Some(v);
        }
        table = v.as_table()?;
    }
    None
}

/// Calls `f` with every leaf's dotted key (a non-table value, or an empty table).
fn leaves(table: &Table, prefix: &str, f: &mut impl FnMut(&str, &Value)) {
    for (k, v) in table {
        let key = join(prefix, k);
        match v {
            Value::Table(t) if !t.is_empty() => leaves(t, &key, f),
            _ => f(&key, v),
        }
    }
}

fn leaves_of(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                leaves_of(v, &join(key, k), out);
            }
        }
        _ => out.push(key.to_string()),
    }
}

/// A value as TOML writes it, with `f32` settings shown as written (0.7, not 0.699999988).
fn render(value: &Value) -> String {
    match value {
        Value::Float(f) if (*f as f32) as f64 == *f => format!("{:?}", *f as f32),
        Value::Float(f) => format!("{f:?}"),
        Value::Array(a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
