//! The appliance home directory: layout, keys and config.
//!
//! ```text
//! insitu.db   keys/signing.key  keys/signing.pub  keys/hmac.key  config.toml  policy.toml
//! models/  runs/  bundles/  reports/
//! ```
//!
//! Secrets are written once, by `insitu init`, to a temporary file created
//! with mode 0600 and then renamed into place, so a crash never leaves a
//! half-written key. They are never regenerated for a home whose database
//! already exists: a new HMAC secret would silently change every patient key.

use crate::{Result, StoreError};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use insitu_types::PatientKey;
use rand::RngCore;
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Paths inside one appliance home.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

/// Settings read from `config.toml`. Missing fields take their defaults, so
/// older config files keep working as fields are added; unknown keys are
/// left for the areas that own them (they may add their own `[section]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HomeConfig {
    /// Name of this appliance (shown in manifests and model cards).
    pub appliance_name: String,
}

impl Default for HomeConfig {
    fn default() -> Self {
        HomeConfig {
            appliance_name: "insitu-appliance".to_string(),
        }
    }
}

/// The config file `insitu init` writes: every setting with its default and
/// a comment saying what it does.
const DEFAULT_CONFIG: &str = r#"# insitu appliance configuration.
# Every setting below shows its default value; delete a line to go back to it.
# Release rules (minimum cohort size, leakage thresholds, approvers) live in
# policy.toml, not here.

# Name of this appliance, written into bundle manifests and model cards so a
# sponsor can tell which hospital site produced an adapter. Use a site name,
# never a person's name.
appliance_name = "insitu-appliance"
"#;

/// Computes patient pseudonyms: hex HMAC-SHA256 of the raw identifier under
/// the home's secret. Build it once and reuse it for many documents.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
}

impl Pseudonymiser {
    /// A pseudonymiser keyed with `secret` (normally [`Home::hmac_secret`]).
    pub fn new(secret: &[u8; 32]) -> Pseudonymiser {
        Pseudonymiser {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length"),
        }
    }

    /// The patient key for a raw identifier. Surrounding whitespace is
    /// ignored so `" 123 "` and `"123"` name the same patient.
    pub fn key(&self, raw_patient_id: &str) -> PatientKey {
        let mut mac = self.mac.clone();
        mac.update(raw_patient_id.trim().as_bytes());
        PatientKey(hex::encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(<secret>)")
    }
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
    /// `keys/signing.key`: the ed25519 bundle-signing key (PKCS#8 PEM, 0600).
    pub fn signing_key_path(&self) -> PathBuf {
        self.keys_dir().join("signing.key")
    }
    /// `keys/signing.pub`: the matching public key (SPKI PEM), safe to share.
    pub fn verifying_key_path(&self) -> PathBuf {
        self.keys_dir().join("signing.pub")
    }
    /// `keys/hmac.key`: 32 random bytes keying patient pseudonyms (0600).
    pub fn hmac_key_path(&self) -> PathBuf {
        self.keys_dir().join("hmac.key")
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

    /// The ed25519 key that signs export bundles. Fails if the file is
    /// missing, readable by group/others, or not a PKCS#8 ed25519 PEM.
    pub fn signing_key(&self) -> Result<SigningKey> {
        let path = self.signing_key_path();
        let bytes = read_secret(&path)?;
        let pem = std::str::from_utf8(&bytes).map_err(|_| StoreError::BadFile {
            path: path.clone(),
            message: "is not a PEM text file — restore keys/signing.key from backup".into(),
        })?;
        SigningKey::from_pkcs8_pem(pem).map_err(|e| StoreError::BadFile {
            path: path.clone(),
            message: format!(
                "is not a PKCS#8 ed25519 private key ({e}) — restore keys/signing.key from backup"
            ),
        })
    }

    /// The public half of [`Home::signing_key`] (what a sponsor verifies with).
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        Ok(self.signing_key()?.verifying_key())
    }

    /// The 32-byte secret keying patient pseudonyms. Fails if the file is
    /// missing, readable by group/others, or not exactly 32 bytes.
    pub fn hmac_secret(&self) -> Result<[u8; 32]> {
        let path = self.hmac_key_path();
        let bytes = read_secret(&path)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StoreError::BadFile {
            path: path.clone(),
            message: format!(
                "holds {} bytes, expected exactly 32 — restore keys/hmac.key from backup \
                 (a new secret would change every patient key)",
                bytes.len()
            ),
        })
    }

    /// A [`Pseudonymiser`] keyed with this home's HMAC secret.
    pub fn pseudonymiser(&self) -> Result<Pseudonymiser> {
        Ok(Pseudonymiser::new(&self.hmac_secret()?))
    }

    /// Reads `config.toml`; a missing file means all defaults.
    pub fn config(&self) -> Result<HomeConfig> {
        let path = self.config_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HomeConfig::default()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        toml::from_str(&text).map_err(|e| StoreError::BadFile {
            path: path.clone(),
            message: format!("{e} — fix the file or delete the line to use the default"),
        })
    }

    /// Creates missing directories, keys and config. Returns whether anything
    /// was created. Never overwrites an existing file. `db_exists` says the
    /// home already holds data, in which case missing keys are an error
    /// rather than something to generate.
    pub(crate) fn create_layout(&self, db_exists: bool) -> Result<bool> {
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
        set_mode(&self.keys_dir(), 0o700)?;

        for path in [self.signing_key_path(), self.hmac_key_path()] {
            if db_exists && !path.exists() {
                return Err(StoreError::BadFile {
                    path,
                    message: "is missing but the home already holds a database — restore it from \
                              backup; generating a new one would break signatures and patient keys"
                        .into(),
                });
            }
        }
        if !self.signing_key_path().exists() {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .expect("an ed25519 key always encodes as PKCS#8");
            write_new_file(&self.signing_key_path(), pem.as_bytes(), 0o600)?;
            created = true;
        }
        if !self.verifying_key_path().exists() {
            let public = self
                .verifying_key()?
                .to_public_key_pem(LineEnding::LF)
                .expect("an ed25519 public key always encodes as SPKI");
            write_new_file(&self.verifying_key_path(), public.as_bytes(), 0o644)?;
            created = true;
        }
        if !self.hmac_key_path().exists() {
            let mut secret = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            write_new_file(&self.hmac_key_path(), &secret, 0o600)?;
            created = true;
        }
        if !self.config_path().exists() {
            write_new_file(&self.config_path(), DEFAULT_CONFIG.as_bytes(), 0o644)?;
            created = true;
        }
        Ok(created)
    }
}

/// Reads a secret file after checking that only its owner can read it.
fn read_secret(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StoreError::BadFile {
                path: path.to_path_buf(),
                message: "is missing — run `insitu init` on a new home, or restore keys/ from \
                          backup for an existing one"
                    .into(),
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    check_owner_only(path, &meta)?;
    std::fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(unix)]
fn check_owner_only(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::BadFile {
            path: path.to_path_buf(),
            message: format!(
                "has permissions {mode:03o}, so other users can read a secret — run `chmod 600 {}`",
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _meta: &std::fs::Metadata) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<()> {
    Ok(())
}

/// Creates an empty file readable only by its owner, if it does not exist.
pub(crate) fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// Writes `bytes` to a temporary sibling created with `mode`, syncs it and
/// renames it to `path`, so readers see the whole file or none of it.
fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    // `mode` above is filtered by the umask; set it exactly.
    set_mode(&tmp, mode)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_depend_on_secret_and_ignore_whitespace() {
        let a = Pseudonymiser::new(&[1; 32]);
        let b = Pseudonymiser::new(&[2; 32]);
        assert_eq!(a.key("P123"), a.key(" P123\n"));
        assert_ne!(a.key("P123"), b.key("P123"));
        assert_ne!(a.key("P123"), a.key("P124"));
        assert_eq!(a.key("P123").0.len(), 64);
        assert!(!a.key("P123").0.contains("P123"));
    }

    #[test]
    fn default_config_file_parses_to_defaults() {
        let parsed: HomeConfig = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, HomeConfig::default());
    }
}
