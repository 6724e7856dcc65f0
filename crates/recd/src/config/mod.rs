//! The one configuration of every subcommand: a typed [`Config`] made of each crate's section,
//! loaded by [`load`] from four layers — compiled-in defaults < the `--config` TOML file <
//! `RECD__SECTION__KEY` environment variables < command-line flags.
//!
//! Every subcommand goes through the same loader, so a misspelt key is an error everywhere
//! (naming its dotted path and where it came from), and `recd config show` prints the
//! effective value of every key with its origin. Each role then hands each crate only its own
//! section.

mod layers;

use std::path::Path;

use recd_bus::BusConfig;
use recd_features::FeatureConfig;
use recd_model_store::ModelStoreConfig;
use recd_serve::ServeConfig;
use recd_store::StoreConfig;
use recd_stream::StreamConfig;
use recd_train::config::TrainConfig;
use serde::{Deserialize, Serialize};

use layers::Layers;
pub use layers::Override;

/// The prefix of environment overrides: `RECD__SERVE__LISTEN=...` sets `serve.listen`.
pub const ENV_PREFIX: &str = "RECD__";

/// Every section of the config file. Unknown sections and keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[serve]`: the HTTP API and the online layer.
    pub serve: ServeConfig,
    /// `[features]`: the feature store.
    pub features: FeatureConfig,
    /// `[stream]`: the feature updater and the nearline fold-in.
    pub stream: StreamConfig,
    /// `[train]`: the batch layer.
    pub train: TrainConfig,
    /// `[store]`: the embedded event log of a data dir.
    pub store: StoreConfig,
    /// `[bus]`: the shared event bus of a scaled deployment (Redis Streams).
    pub bus: BusConfig,
    /// `[models]`: where model versions are published and read (a directory or S3).
    pub models: ModelStoreConfig,
    /// `[experiments.<name>]`: A/B experiments the online engine assigns users to.
    pub experiments: std::collections::BTreeMap<String, recd_online::experiments::ExperimentSpec>,
}

/// A loaded configuration and where each of its values came from.
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    layers: Layers,
}

/// Loads the configuration: defaults, then `file` (if any), then the `RECD__*` variables of
/// `env`, then `overrides` (the subcommand's flags). Errors name the key's dotted path and
/// the layer that set it.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[Override],
) -> anyhow::Result<Loaded> {
    let mut layers = Layers::new(&Config::default())?;
    if let Some(path) = file {
        layers.merge_file(path)?;
    }
    layers.merge_env(ENV_PREFIX, env)?;
    for o in overrides {
        layers.set_flag(o)?;
    }
    let mut config = layers.deserialize::<Config>()?;
    config.train.session_gap_ms = config.features.session_gap_ms();
    // Checked here, so that every subcommand refuses a bad experiment the same way.
    recd_online::experiments::Experiments::compile(&config.experiments, &config.serve.recommend)?;
    config
        .serve
        .impressions
        .validate()
        .map_err(anyhow::Error::msg)?;
    config.bus.validate().map_err(anyhow::Error::msg)?;
    config.serve.rollout.check()?;
    config
        .serve
        .guardrails
        .check()
        .map_err(anyhow::Error::msg)?;
    config
        .store
        .retention
        .validate()
        .map_err(anyhow::Error::msg)?;
    let (kept, horizon) = (
        config.store.retention.impressions_older_than_days,
        config.serve.impressions.report_horizon_days,
    );
    if kept > 0 && kept < horizon {
        tracing::warn!(
            kept_days = kept,
            horizon_days = horizon,
            "store.retention.impressions_older_than_days is below serve.impressions.report_horizon_days: reports rebuilt after a restart will count fewer days"
        );
    }
    Ok(Loaded { config, layers })
}

impl Loaded {
    /// Every effective value as `key = value  # origin`, one per line, in key order.
    pub fn show(&self) -> anyhow::Result<String> {
        self.layers.show(&self.config)
    }
}

/// The flag of a subcommand that sets a config key, as an [`Override`].
pub fn flag(flag: &'static str, key: &'static str, value: &str) -> Override {
    Override {
        flag,
        key,
        value: Some(toml::Value::String(value.to_string())),
    }
}

/// The default `--config` path from `RECD_CONFIG`, if set (clap reads it; named here once).
pub const CONFIG_ENV: &str = "RECD_CONFIG";

#[cfg(test)]
mod tests;
