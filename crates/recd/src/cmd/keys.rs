//! `recd keys create|list|revoke`: the API keys of a server, or of a fleet.
//!
//! Keys are kept as SHA-256 hashes in the key store ([`key_store`] decides which): the keys
//! file (`<data dir>/keys.toml`, or `[serve.auth] keys_file`) of a single server, or, when
//! `[bus] events` names a shared bus, the fleet's document on the feature store's Redis, which
//! every API process reads. A running server re-reads its store within seconds, so a key
//! created or revoked here takes effect without a restart. `create` prints the key once: it
//! cannot be shown again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use recd_serve::auth::keys::{self, KeyEntry, KeysError, Scope};
use recd_serve::auth::store::{FileKeys, KeyStore, SharedKeys};

use crate::config::Config;

/// Subcommands of `recd keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a new key, store its hash and print the key (once).
    Create(CreateArgs),
    /// List the keys (ids, scopes, where they come from; never the keys).
    List(DirArgs),
    /// Revoke a stored key by its id.
    Revoke(RevokeArgs),
}

/// Where the keys are.
#[derive(Debug, clap::Args)]
pub struct DirArgs {
    /// The server's data dir (its keys file is `<data dir>/keys.toml` unless
    /// `serve.auth.keys_file` names another; a fleet's keys are on its Redis, whatever the dir).
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// Flags of `recd keys create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// What the key may do: read, ingest, admin (admin includes the others); repeat or
    /// separate with commas.
    #[arg(long = "scope", required = true, value_delimiter = ',')]
    pub scopes: Vec<Scope>,
    /// A name for the key (default: `key-<unix time>`).
    #[arg(long)]
    pub name: Option<String>,
    /// Do not store it: only print the key and its entry (for keys kept in the config file or
    /// the environment).
    #[arg(long)]
    pub print_only: bool,
}

/// Flags of `recd keys revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// The id of the key to revoke.
    pub id: String,
}

/// Where the keys of a server on `data_dir` under `config` are kept: the fleet's Redis when
/// `[bus] events` names a shared bus (DECISIONS §3), the keys file otherwise. The one place
/// that decides, for `recd serve` and `recd keys` alike.
pub fn key_store(data_dir: &Path, config: &Config) -> anyhow::Result<Arc<dyn KeyStore>> {
    let keys_file = config.serve.auth.keys_file.as_str();
    if config.bus.is_bus() {
        if !keys_file.is_empty() {
            anyhow::bail!(
                "serve.auth.keys_file = {keys_file:?}: with bus.events = {:?} the keys of the \
                 fleet live on its Redis (features.store), where `recd keys` writes them; remove \
                 keys_file",
                config.bus.events
            );
        }
        if config.features.store == "embedded" {
            anyhow::bail!(
                "bus.events = {:?} keeps the fleet's keys on its Redis: set features.store \
                 (--feature-store redis://host:port or RECD__FEATURES__STORE)",
                config.bus.events
            );
        }
        let store = SharedKeys::open(&config.features.store, &config.bus)?;
        return Ok(Arc::new(store));
    }
    let path = match keys_file {
        "" => data_dir.join("keys.toml"),
        path => PathBuf::from(path),
    };
    Ok(Arc::new(FileKeys::new(path)))
}

/// Runs the subcommand.
pub fn run(command: KeysCommand, config: &Config) -> anyhow::Result<()> {
    let serve = &config.serve;
    match command {
        KeysCommand::Create(args) => create(args, config),
        KeysCommand::List(args) => {
            let store = key_store(&args.data_dir, config)?;
            let stored = store.read()?;
            for (origin, entries) in [
                ("config".to_string(), &serve.auth.keys),
                (store.describe(), &stored),
            ] {
                for k in entries.iter() {
                    let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
                    println!(
                        "{}\t{}\t{}\t{origin}",
                        k.id,
                        scopes.join(","),
                        k.created.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Revoke(args) => {
            let store = key_store(&args.dir.data_dir, config)?;
            let mut found = false;
            store.update(&mut |keys| {
                let before = keys.len();
                keys.retain(|k| k.id != args.id);
                found = keys.len() < before;
                Ok(())
            })?;
            if !found {
                if serve.auth.keys.iter().any(|k| k.id == args.id) {
                    anyhow::bail!(
                        "key {:?} is set in the configuration (serve.auth.keys), not in the {}: remove it there",
                        args.id,
                        store.describe()
                    );
                }
                anyhow::bail!("no key {:?} in the {}", args.id, store.describe());
            }
            println!(
                "revoked {:?}; a running server stops accepting it within seconds",
                args.id
            );
            Ok(())
        }
    }
}

fn create(args: CreateArgs, config: &Config) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let id = args
        .name
        .unwrap_or_else(|| format!("key-{}", now.as_second()));
    let key = keys::generate().context("reading random bytes from the OS")?;
    let mut scopes = args.scopes;
    scopes.sort();
    scopes.dedup();
    let entry = KeyEntry {
        id,
        sha256: keys::hash(&key),
        scopes,
        created: Some(now.to_string()),
    };
    let scopes: Vec<String> = entry
        .scopes
        .iter()
        .map(|s| format!("{:?}", s.as_str()))
        .collect();
    let inline = format!(
        "{{ id = {:?}, sha256 = {:?}, scopes = [{}] }}",
        entry.id,
        entry.sha256,
        scopes.join(", ")
    );
    if !args.print_only {
        let store = key_store(&args.dir.data_dir, config)?;
        let in_config = config.serve.auth.keys.iter().any(|k| k.id == entry.id);
        store.update(&mut |keys| {
            if in_config || keys.iter().any(|k| k.id == entry.id) {
                return Err(KeysError::Invalid {
                    where_: store.describe(),
                    id: entry.id.clone(),
                    message: "a key with this id exists already; choose another --name".into(),
                });
            }
            keys.push(entry.clone());
            Ok(())
        })?;
        eprintln!("stored its hash in the {}", store.describe());
    } else {
        eprintln!("not stored: add this entry to [serve.auth] keys: {inline}");
    }
    // The key on stdout, alone, so that scripts can capture it.
    println!("{key}");
    eprintln!("this key is shown once; keep it secret. Send it as `Authorization: Bearer <key>`.");
    Ok(())
}
