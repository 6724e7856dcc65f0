//! `recd keys create|list|revoke`: the API keys of a data dir's server.
//!
//! Keys live in the keys file (`<data dir>/keys.toml`, or `[serve.auth] keys_file`) as
//! SHA-256 hashes; a running server re-reads the file within seconds, so a key created or
//! revoked here takes effect without a restart. `create` prints the key once: it cannot be
//! shown again.

use std::path::{Path, PathBuf};

use anyhow::Context;
use recd_serve::ServeConfig;
use recd_serve::auth::keys::{self, KeyEntry, KeysFile, Scope};

/// Subcommands of `recd keys`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a new key, store its hash and print the key (once).
    Create(CreateArgs),
    /// List the keys (ids, scopes, where they come from; never the keys).
    List(DirArgs),
    /// Revoke a key of the keys file by its id.
    Revoke(RevokeArgs),
}

/// Where the keys are.
#[derive(Debug, clap::Args)]
pub struct DirArgs {
    /// The server's data dir (its keys file is `<data dir>/keys.toml` unless
    /// `serve.auth.keys_file` names another).
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
    /// Do not write the keys file: only print the key and its entry (for keys kept in the
    /// config file or the environment).
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

/// The keys file of a server on `data_dir` under `serve`.
pub fn keys_file(data_dir: &Path, serve: &ServeConfig) -> PathBuf {
    match serve.auth.keys_file.as_str() {
        "" => data_dir.join("keys.toml"),
        path => PathBuf::from(path),
    }
}

/// Runs the subcommand.
pub fn run(command: KeysCommand, serve: &ServeConfig) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create(args) => create(args, serve),
        KeysCommand::List(args) => {
            let path = keys_file(&args.data_dir, serve);
            let file = KeysFile::read(&path)?;
            for (origin, entries) in [
                ("config".to_string(), &serve.auth.keys),
                (path.display().to_string(), &file.keys),
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
            let path = keys_file(&args.dir.data_dir, serve);
            let mut file = KeysFile::read(&path)?;
            let before = file.keys.len();
            file.keys.retain(|k| k.id != args.id);
            if file.keys.len() == before {
                if serve.auth.keys.iter().any(|k| k.id == args.id) {
                    anyhow::bail!(
                        "key {:?} is set in the configuration (serve.auth.keys), not in {}: remove it there",
                        args.id,
                        path.display()
                    );
                }
                anyhow::bail!("no key {:?} in {}", args.id, path.display());
            }
            file.write(&path)?;
            println!(
                "revoked {:?}; a running server stops accepting it within seconds",
                args.id
            );
            Ok(())
        }
    }
}

fn create(args: CreateArgs, serve: &ServeConfig) -> anyhow::Result<()> {
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
        let path = keys_file(&args.dir.data_dir, serve);
        let mut file = KeysFile::read(&path)?;
        if file
            .keys
            .iter()
            .chain(&serve.auth.keys)
            .any(|k| k.id == entry.id)
        {
            anyhow::bail!("a key {:?} exists already; choose another --name", entry.id);
        }
        file.keys.push(entry);
        keys::check(&file.keys, &path.display().to_string())?;
        file.write(&path)?;
        eprintln!("stored its hash in {}", path.display());
    } else {
        eprintln!("not stored: add this entry to [serve.auth] keys: {inline}");
    }
    // The key on stdout, alone, so that scripts can capture it.
    println!("{key}");
    eprintln!("this key is shown once; keep it secret. Send it as `Authorization: Bearer <key>`.");
    Ok(())
}
