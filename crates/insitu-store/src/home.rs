//! The appliance home directory: layout, keys and config.
//!
//! ```text
//! insitu.db   keys/signing.key  keys/hmac.key  config.toml  policy.toml
//! models/  runs/  bundles/  reports/
//! ```

use crate::{Result, StoreError};
use std::path::{Path, PathBuf};

/// Paths inside one appliance home.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

/// Documented defaults written to `config.toml` by `insitu init`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HomeConfig {
    /// Name of this appliance (shown in manifests and model cards).
    pub appliance_name: String,
}

impl Home {
    /// A home rooted at `root` (nothing is created).
    pub fn new(root: &Path) -> Home {
        Home {
            root: root.to_path_buf(),
        }
    }
    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `insitu.db`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("insitu.db")
    }
    /// `keys/`.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }
    /// `models/`.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }
    /// `runs/`.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }
    /// `bundles/`.
    pub fn bundles_dir(&self) -> PathBuf {
        self.root.join("bundles")
    }
    /// `reports/` (human-readable reports for the IG officer).
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// `policy.toml` (release policy; written by the release area).
    pub fn policy_path(&self) -> PathBuf {
        self.root.join("policy.toml")
    }

    /// Creates missing directories, keys and config. Returns whether anything
    /// was created. Never overwrites an existing file.
    pub(crate) fn create_layout(&self) -> Result<bool> {
        let mut created = false;
        for d in [
            self.root.clone(),
            self.keys_dir(),
            self.models_dir(),
            self.runs_dir(),
            self.bundles_dir(),
            self.reports_dir(),
        ] {
            if !d.exists() {
                std::fs::create_dir_all(&d).map_err(|source| StoreError::Io {
                    path: d.clone(),
                    source,
                })?;
                created = true;
            }
        }
        // Keys and config are completed by the foundation work (see keys.rs TODO in issue 3).
        Ok(created)
    }
}
