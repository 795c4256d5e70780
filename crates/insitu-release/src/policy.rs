//! The release policy: `policy.toml` in the appliance home. Every field has a
//! documented default; a missing file means "the defaults", and
//! [`Policy::default_toml`] is what `insitu gate` writes on first use so the
//! IG officer can see and edit it.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a run must show before it may be approved and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Every dataset split (train, validation, test…) must hold notes from at
    /// least this many distinct patients.
    pub min_patients_per_split: u64,
    /// Whether the run must have been trained with DP-SGD.
    pub dp_required: bool,
    /// Largest ε allowed for a DP run (checked whenever the run used DP).
    pub max_epsilon: f64,
    /// Largest δ allowed for a DP run.
    pub max_delta: f64,
    /// Largest membership-inference TPR at 0.1% FPR, worst attack and level.
    pub max_mia_tpr_at_0_1pct_fpr: f64,
    /// Largest canary exposure in bits.
    pub max_canary_exposure: f64,
    /// Whether the run must have had canaries inserted and measured.
    pub canaries_required: bool,
    /// Most training identifiers the model may regenerate (0 = none).
    pub max_phi_findings: u64,
    /// Optional limit on the share of training-note prefixes the model
    /// continues verbatim (unset = reported but not gated).
    pub max_extraction_verbatim_rate: Option<f64>,
    /// Roles that must each approve (by different people) before export.
    pub required_approver_roles: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_patients_per_split: 50,
            dp_required: false,
            max_epsilon: 8.0,
            max_delta: 1e-5,
            max_mia_tpr_at_0_1pct_fpr: 0.05,
            max_canary_exposure: 10.0,
            canaries_required: false,
            max_phi_findings: 0,
            max_extraction_verbatim_rate: None,
            required_approver_roles: vec!["ig_officer".into(), "clinical_safety_officer".into()],
        }
    }
}

/// Roles a user can hold.
pub const ROLES: &[&str] = &["ig_officer", "clinical_safety_officer", "operator"];

impl Policy {
    /// The commented default file.
    pub fn default_toml() -> &'static str {
        include_str!("policy.default.toml")
    }

    /// Reads `path`; a missing file gives the defaults. Unknown keys and
    /// invalid values are errors naming the file and field.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Policy::default()),
            Err(source) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Policy::parse(&text).map_err(|message| Error::BadInput {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and validates policy TOML.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy = toml::from_str(text)
            .map_err(|e| format!("{e}— see docs/privacy-and-release.md for every field"))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), String> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("field {name} = {v} must be between 0 and 1"))
            }
        };
        unit("max_mia_tpr_at_0_1pct_fpr", self.max_mia_tpr_at_0_1pct_fpr)?;
        unit("max_delta", self.max_delta)?;
        if let Some(v) = self.max_extraction_verbatim_rate {
            unit("max_extraction_verbatim_rate", v)?;
        }
        if self.max_epsilon.is_nan() || self.max_epsilon <= 0.0 {
            return Err(format!(
                "field max_epsilon = {} must be positive",
                self.max_epsilon
            ));
        }
        for r in &self.required_approver_roles {
            if !ROLES.contains(&r.as_str()) || r == "operator" {
                return Err(format!(
                    "required_approver_roles contains {r:?} — approvers must be ig_officer or clinical_safety_officer"
                ));
            }
        }
        if self.required_approver_roles.len() < 2 {
            return Err(
                "required_approver_roles must name at least two roles (two-person rule)".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_to_defaults() {
        assert_eq!(
            Policy::parse(Policy::default_toml()).unwrap(),
            Policy::default()
        );
    }

    #[test]
    fn rejects_unknown_and_bad_fields() {
        assert!(Policy::parse("max_epsilonn = 3.0")
            .unwrap_err()
            .contains("max_epsilonn"));
        assert!(Policy::parse("max_mia_tpr_at_0_1pct_fpr = 2.0")
            .unwrap_err()
            .contains("between 0 and 1"));
        assert!(Policy::parse("required_approver_roles = [\"operator\", \"ig_officer\"]").is_err());
        assert!(Policy::parse("required_approver_roles = [\"ig_officer\"]").is_err());
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let p = Policy::parse("dp_required = true\nmax_epsilon = 3.0\n").unwrap();
        assert!(p.dp_required);
        assert_eq!(p.max_epsilon, 3.0);
        assert_eq!(p.min_patients_per_split, 50);
    }
}
