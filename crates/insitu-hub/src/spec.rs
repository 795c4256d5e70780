//! The declarative job spec a sponsor posts: what to train, on what, under
//! which privacy requirements, for what fee. Never code. Validation reports
//! every problem at once, each with its field path (`privacy.dp.epsilon`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A validated job spec. See `docs/hub.md` for the field reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// `[job]`: name, description, deadline, targets.
    pub job: JobSection,
    /// `[model]`: the base model.
    pub model: ModelSection,
    /// `[task]`: what is trained.
    pub task: TaskSection,
    /// `[dataset]`: the dataset recipe applied to the hospital's notes.
    pub dataset: DatasetSection,
    /// `[hyperparameters]`: LoRA and optimiser settings (PEFT / TRL names).
    pub hyperparameters: Hyperparameters,
    /// `[privacy]`: DP budget and leakage thresholds.
    pub privacy: PrivacySection,
    /// `[evaluation]`: metrics and pass thresholds.
    pub evaluation: EvaluationSection,
    /// `[fee]`: what the sponsor pays, in integer minor units.
    pub fee: FeeSection,
}

/// `[job]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSection {
    /// Short human name.
    pub name: String,
    /// What the sponsor wants the adapter for (shown to the IG officer).
    pub description: String,
    /// RFC 3339 time after which the job should not start.
    pub deadline: String,
    /// Names of the hospitals the job is offered to.
    pub target_hospitals: Vec<String>,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// Digest printed by `insitu sponsor model push` (64 hex characters).
    pub base_digest: String,
}

/// `[task]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSection {
    /// `sft` (supervised fine-tuning) or `dpo` (preference tuning).
    pub kind: String,
    /// Dataset task template name (from the datasets work, e.g. `discharge-summary`).
    pub template: String,
}

/// `[dataset]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSection {
    /// Note kinds to draw from (empty = all kinds).
    pub note_kinds: Vec<String>,
    /// Refuse to run with fewer distinct patients than this.
    pub min_patients: i64,
    /// Upper bound on training examples.
    pub max_examples: i64,
    /// Patient-level split fractions (sum to 1).
    pub split: Split,
    /// Seed for sampling and splits.
    pub seed: i64,
}

/// Patient-level split fractions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Fraction of patients for training.
    pub train: f64,
    /// Fraction for validation.
    pub validation: f64,
    /// Fraction for the held-out test.
    pub test: f64,
}

/// `[hyperparameters]` (PEFT and TRL field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// LoRA rank.
    pub r: i64,
    /// LoRA scaling numerator.
    pub lora_alpha: f64,
    /// LoRA dropout probability.
    pub lora_dropout: f64,
    /// Module names that get adapters.
    pub target_modules: Vec<String>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Passes over the training split.
    pub epochs: i64,
    /// Examples per optimiser step.
    pub batch_size: i64,
    /// Maximum tokens per example.
    pub max_seq_len: i64,
    /// Training seed.
    pub seed: i64,
    /// Stop after this many optimiser steps even if the epochs are not done
    /// (TRL's `max_steps`; absent = run every epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<i64>,
}

/// `[privacy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacySection {
    /// User-level DP budget, or `None` for no DP (written `dp = "none"`).
    #[serde(with = "dp_serde")]
    pub dp: Option<DpBudget>,
    /// Highest membership-inference AUC the gate may accept (0.5 = chance).
    pub max_mia_auc: f64,
    /// Highest canary exposure (bits) the gate may accept.
    pub max_canary_exposure: f64,
    /// Verbatim PHI strings the extraction probe may find (normally 0).
    pub max_verbatim_phi: i64,
}

/// Differential-privacy budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpBudget {
    /// ε.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
}

/// `[evaluation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationSection {
    /// Metrics reported on the test split.
    pub metrics: Vec<String>,
    /// The run fails evaluation above this test loss (absent = no bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_eval_loss: Option<f64>,
}

/// `[fee]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeSection {
    /// Fee in integer minor units (pence, cents).
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `GBP`.
    pub currency: String,
}

/// One problem in a spec: the field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecIssue {
    /// Dotted field path, e.g. `fee.amount_minor`.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl std::fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Task kinds the appliance can run.
pub const TASK_KINDS: &[&str] = &["sft", "dpo"];
/// Evaluation metrics the appliance can report.
pub const METRICS: &[&str] = &["loss", "perplexity", "exact_match", "rouge_l"];

impl JobSpec {
    /// Parses and validates TOML; on failure returns every issue found.
    pub fn from_toml_str(text: &str) -> Result<JobSpec, Vec<SpecIssue>> {
        let value: toml::Value = toml::from_str(text).map_err(|e| {
            vec![SpecIssue {
                path: "(file)".into(),
                message: format!("not valid TOML: {}", e.message()),
            }]
        })?;
        JobSpec::from_json(&toml_to_json(value))
    }

    /// Validates a JSON value (the wire form); on failure returns every issue.
    pub fn from_json(value: &Value) -> Result<JobSpec, Vec<SpecIssue>> {
        let mut c = Checker::default();
        let spec = c.spec(value);
        match spec {
            Some(s) if c.issues.is_empty() => Ok(s),
            _ => Err(c.issues),
        }
    }
}

/// `dp = "none"` or `dp = { epsilon, delta }` in both TOML and JSON, so the
/// serialised spec reads back through the same validator.
mod dp_serde {
    use super::DpBudget;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(dp: &Option<DpBudget>, s: S) -> Result<S::Ok, S::Error> {
        match dp {
            None => s.serialize_str("none"),
            Some(b) => b.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DpBudget>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Tag(String),
            Budget(DpBudget),
        }
        match Wire::deserialize(d)? {
            Wire::Tag(t) if t == "none" => Ok(None),
            Wire::Tag(t) => Err(serde::de::Error::custom(format!(
                "dp: {t:?} — expected \"none\" or {{epsilon, delta}}"
            ))),
            Wire::Budget(b) => Ok(Some(b)),
        }
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Collects issues while reading fields; every reader returns `None` on a
/// problem and keeps going, so one pass reports everything.
#[derive(Default)]
struct Checker {
    issues: Vec<SpecIssue>,
}

impl Checker {
    fn issue(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(SpecIssue {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn table<'v>(
        &mut self,
        parent: &'v Map<String, Value>,
        path: &str,
        key: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let full = join(path, key);
        match parent.get(key) {
            None => {
                self.issue(&full, format!("missing section — add [{full}]"));
                None
            }
            Some(Value::Object(m)) => {
                for k in m.keys() {
                    if !known.contains(&k.as_str()) {
                        self.issue(
                            &join(&full, k),
                            format!("unknown field — expected one of: {}", known.join(", ")),
                        );
                    }
                }
                Some(m)
            }
            Some(_) => {
                self.issue(&full, "must be a table");
                None
            }
        }
    }

    fn string(
        &mut self,
        t: &Map<String, Value>,
        path: &str,
        key: &str,
        default: Option<&str>,
    ) -> Option<String> {
        let full = join(path, key);
        match (t.get(key), default) {
            (None, Some(d)) => Some(d.to_string()),
            (None, None) => {
                self.issue(&full, "missing — this field is required");
                None
            }
            (Some(Value::String(s)), _) if !s.trim().is_empty() || default.is_some() => {
                Some(s.clone())
            }
            (Some(Value::String(_)), _) => {
                self.issue(&full, "must not be empty");
                None
            }
            (Some(_), _) => {
                self.issue(&full, "must be a string");
                None
            }
        }
    }

    fn int(
        &mut self,
        t: &Map<String, Value>,
        path: &str,
        key: &str,
        default: Option<i64>,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let full = join(path, key);
        match (t.get(key), default) {
            (None, Some(d)) => Some(d),
            (None, None) => {
                self.issue(&full, "missing — this field is required");
                None
            }
            (Some(v), _) => match v.as_i64() {
                Some(i) if (min..=max).contains(&i) => Some(i),
                Some(i) => {
                    self.issue(
                        &full,
                        format!("{i} is out of range — must be between {min} and {max}"),
                    );
                    None
                }
                None => {
                    self.issue(&full, "must be an integer");
                    None
                }
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn float(
        &mut self,
        t: &Map<String, Value>,
        path: &str,
        key: &str,
        default: Option<f64>,
        min: f64,
        max: f64,
        inclusive_min: bool,
    ) -> Option<f64> {
        let full = join(path, key);
        let v = match (t.get(key), default) {
            (None, Some(d)) => return Some(d),
            (None, None) => {
                self.issue(&full, "missing — this field is required");
                return None;
            }
            (Some(v), _) => v,
        };
        match v.as_f64() {
            Some(f) if f.is_finite() && (f > min || (inclusive_min && f == min)) && f <= max => {
                Some(f)
            }
            Some(f) => {
                let lo = if inclusive_min { "≥" } else { ">" };
                self.issue(
                    &full,
                    format!("{f} is out of range — must be {lo} {min} and ≤ {max}"),
                );
                None
            }
            None => {
                self.issue(&full, "must be a number");
                None
            }
        }
    }

    fn strings(
        &mut self,
        t: &Map<String, Value>,
        path: &str,
        key: &str,
        required_non_empty: bool,
        allowed: Option<&[&str]>,
    ) -> Option<Vec<String>> {
        let full = join(path, key);
        let Some(v) = t.get(key) else {
            if required_non_empty {
                self.issue(&full, "missing — list at least one");
                return None;
            }
            return Some(Vec::new());
        };
        let Some(arr) = v.as_array() else {
            self.issue(&full, "must be a list of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in arr.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.trim().is_empty() => {
                    if let Some(allowed) = allowed {
                        if !allowed.contains(&s) {
                            self.issue(
                                &format!("{full}[{i}]"),
                                format!(
                                    "{s:?} is not supported — choose from: {}",
                                    allowed.join(", ")
                                ),
                            );
                            ok = false;
                        }
                    }
                    out.push(s.to_string());
                }
                _ => {
                    self.issue(&format!("{full}[{i}]"), "must be a non-empty string");
                    ok = false;
                }
            }
        }
        if required_non_empty && arr.is_empty() {
            self.issue(&full, "must list at least one");
            ok = false;
        }
        ok.then_some(out)
    }

    fn spec(&mut self, root: &Value) -> Option<JobSpec> {
        let Some(root) = root.as_object() else {
            self.issue("(root)", "the spec must be a table of sections");
            return None;
        };
        const SECTIONS: &[&str] = &[
            "job",
            "model",
            "task",
            "dataset",
            "hyperparameters",
            "privacy",
            "evaluation",
            "fee",
        ];
        for k in root.keys() {
            if !SECTIONS.contains(&k.as_str()) {
                self.issue(
                    k,
                    format!("unknown section — expected one of: {}", SECTIONS.join(", ")),
                );
            }
        }
        let job = self.job(root);
        let model = self.model(root);
        let task = self.task(root);
        let dataset = self.dataset(root);
        let hyperparameters = self.hyperparameters(root);
        let privacy = self.privacy(root);
        let evaluation = self.evaluation(root);
        let fee = self.fee(root);
        Some(JobSpec {
            job: job?,
            model: model?,
            task: task?,
            dataset: dataset?,
            hyperparameters: hyperparameters?,
            privacy: privacy?,
            evaluation: evaluation?,
            fee: fee?,
        })
    }

    fn job(&mut self, root: &Map<String, Value>) -> Option<JobSection> {
        let t = self.table(
            root,
            "",
            "job",
            &["name", "description", "deadline", "target_hospitals"],
        )?;
        let name = self.string(t, "job", "name", None);
        let description = self.string(t, "job", "description", Some(""));
        let deadline = self.string(t, "job", "deadline", None).and_then(|d| {
            if chrono::DateTime::parse_from_rfc3339(&d).is_ok() {
                Some(d)
            } else {
                self.issue(
                    "job.deadline",
                    format!("{d:?} is not an RFC 3339 time — write e.g. 2027-01-31T23:59:59Z"),
                );
                None
            }
        });
        let target_hospitals = self.strings(t, "job", "target_hospitals", true, None);
        Some(JobSection {
            name: name?,
            description: description?,
            deadline: deadline?,
            target_hospitals: target_hospitals?,
        })
    }

    fn model(&mut self, root: &Map<String, Value>) -> Option<ModelSection> {
        let t = self.table(root, "", "model", &["base_digest"])?;
        let d = self.string(t, "model", "base_digest", None)?;
        let d = d.strip_prefix("sha256:").unwrap_or(&d).to_string();
        if !crate::protocol::is_sha256_hex(&d) {
            self.issue(
                "model.base_digest",
                "must be the 64-character hex digest printed by `insitu sponsor model push`",
            );
            return None;
        }
        Some(ModelSection { base_digest: d })
    }

    fn task(&mut self, root: &Map<String, Value>) -> Option<TaskSection> {
        let t = self.table(root, "", "task", &["kind", "template"])?;
        let kind = self.string(t, "task", "kind", None).and_then(|k| {
            if TASK_KINDS.contains(&k.as_str()) {
                Some(k)
            } else {
                self.issue(
                    "task.kind",
                    format!(
                        "{k:?} is not supported — choose from: {}",
                        TASK_KINDS.join(", ")
                    ),
                );
                None
            }
        });
        let template = self.string(t, "task", "template", None);
        Some(TaskSection {
            kind: kind?,
            template: template?,
        })
    }

    fn dataset(&mut self, root: &Map<String, Value>) -> Option<DatasetSection> {
        let t = self.table(
            root,
            "",
            "dataset",
            &[
                "note_kinds",
                "min_patients",
                "max_examples",
                "split",
                "seed",
            ],
        )?;
        let note_kinds = self.strings(t, "dataset", "note_kinds", false, None);
        let min_patients = self.int(t, "dataset", "min_patients", None, 1, 10_000_000);
        let max_examples = self.int(t, "dataset", "max_examples", None, 1, 100_000_000);
        let seed = self.int(t, "dataset", "seed", Some(0), 0, i64::MAX);
        let split = match t.get("split") {
            None => Some(Split {
                train: 0.8,
                validation: 0.1,
                test: 0.1,
            }),
            Some(Value::Object(s)) => {
                for k in s.keys() {
                    if !["train", "validation", "test"].contains(&k.as_str()) {
                        self.issue(
                            &format!("dataset.split.{k}"),
                            "unknown field — expected train, validation, test",
                        );
                    }
                }
                let tr = self.float(s, "dataset.split", "train", None, 0.0, 1.0, false);
                let va = self.float(s, "dataset.split", "validation", None, 0.0, 1.0, true);
                let te = self.float(s, "dataset.split", "test", None, 0.0, 1.0, false);
                match (tr, va, te) {
                    (Some(a), Some(b), Some(c)) if ((a + b + c) - 1.0).abs() < 1e-6 => {
                        Some(Split {
                            train: a,
                            validation: b,
                            test: c,
                        })
                    }
                    (Some(a), Some(b), Some(c)) => {
                        self.issue(
                            "dataset.split",
                            format!(
                                "train + validation + test = {} — they must sum to 1",
                                a + b + c
                            ),
                        );
                        None
                    }
                    _ => None,
                }
            }
            Some(_) => {
                self.issue("dataset.split", "must be a table {train, validation, test}");
                None
            }
        };
        Some(DatasetSection {
            note_kinds: note_kinds?,
            min_patients: min_patients?,
            max_examples: max_examples?,
            split: split?,
            seed: seed?,
        })
    }

    fn hyperparameters(&mut self, root: &Map<String, Value>) -> Option<Hyperparameters> {
        let p = "hyperparameters";
        let t = self.table(
            root,
            "",
            p,
            &[
                "r",
                "lora_alpha",
                "lora_dropout",
                "target_modules",
                "learning_rate",
                "epochs",
                "batch_size",
                "max_seq_len",
                "seed",
                "max_steps",
            ],
        )?;
        let r = self.int(t, p, "r", None, 1, 256);
        let lora_alpha = self.float(t, p, "lora_alpha", None, 0.0, 4096.0, false);
        let lora_dropout = self.float(t, p, "lora_dropout", Some(0.0), 0.0, 0.9, true);
        let target_modules = self.strings(t, p, "target_modules", true, None);
        let learning_rate = self.float(t, p, "learning_rate", None, 0.0, 1.0, false);
        let epochs = self.int(t, p, "epochs", None, 1, 100);
        let batch_size = self.int(t, p, "batch_size", None, 1, 1024);
        let max_seq_len = self.int(t, p, "max_seq_len", None, 8, 32_768);
        let seed = self.int(t, p, "seed", Some(0), 0, i64::MAX);
        let max_steps = if t.contains_key("max_steps") {
            self.int(t, p, "max_steps", None, 1, 10_000_000).map(Some)
        } else {
            Some(None)
        };
        Some(Hyperparameters {
            r: r?,
            lora_alpha: lora_alpha?,
            lora_dropout: lora_dropout?,
            target_modules: target_modules?,
            learning_rate: learning_rate?,
            epochs: epochs?,
            batch_size: batch_size?,
            max_seq_len: max_seq_len?,
            seed: seed?,
            max_steps: max_steps?,
        })
    }

    fn privacy(&mut self, root: &Map<String, Value>) -> Option<PrivacySection> {
        let p = "privacy";
        let t = self.table(
            root,
            "",
            p,
            &[
                "dp",
                "max_mia_auc",
                "max_canary_exposure",
                "max_verbatim_phi",
            ],
        )?;
        let dp = match t.get("dp") {
            None => {
                self.issue(
                    "privacy.dp",
                    "missing — write dp = \"none\" or dp = { epsilon = 8.0, delta = 1e-5 }",
                );
                None
            }
            Some(Value::String(s)) if s == "none" => Some(None),
            Some(Value::Object(m)) => {
                for k in m.keys() {
                    if k != "epsilon" && k != "delta" {
                        self.issue(
                            &format!("privacy.dp.{k}"),
                            "unknown field — expected epsilon, delta",
                        );
                    }
                }
                let e = self.float(m, "privacy.dp", "epsilon", None, 0.0, 100.0, false);
                let d = self.float(m, "privacy.dp", "delta", None, 0.0, 0.01, false);
                match (e, d) {
                    (Some(epsilon), Some(delta)) => Some(Some(DpBudget { epsilon, delta })),
                    _ => None,
                }
            }
            Some(_) => {
                self.issue(
                    "privacy.dp",
                    "must be \"none\" or a table { epsilon, delta }",
                );
                None
            }
        };
        let max_mia_auc = self.float(t, p, "max_mia_auc", None, 0.5, 1.0, true);
        let max_canary_exposure = self.float(t, p, "max_canary_exposure", None, 0.0, 1000.0, true);
        let max_verbatim_phi = self.int(t, p, "max_verbatim_phi", Some(0), 0, 1_000_000);
        Some(PrivacySection {
            dp: dp?,
            max_mia_auc: max_mia_auc?,
            max_canary_exposure: max_canary_exposure?,
            max_verbatim_phi: max_verbatim_phi?,
        })
    }

    fn evaluation(&mut self, root: &Map<String, Value>) -> Option<EvaluationSection> {
        let t = self.table(root, "", "evaluation", &["metrics", "max_eval_loss"])?;
        let metrics = self.strings(t, "evaluation", "metrics", true, Some(METRICS));
        let max_eval_loss = if t.contains_key("max_eval_loss") {
            self.float(t, "evaluation", "max_eval_loss", None, 0.0, 1e6, false)
                .map(Some)
        } else {
            Some(None)
        };
        Some(EvaluationSection {
            metrics: metrics?,
            max_eval_loss: max_eval_loss?,
        })
    }

    fn fee(&mut self, root: &Map<String, Value>) -> Option<FeeSection> {
        let t = self.table(root, "", "fee", &["amount_minor", "currency"])?;
        let amount_minor = self.int(t, "fee", "amount_minor", None, 1, 1_000_000_000_000);
        let currency = self.string(t, "fee", "currency", None).and_then(|c| {
            if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
                Some(c)
            } else {
                self.issue(
                    "fee.currency",
                    format!("{c:?} is not an ISO 4217 code — write e.g. \"GBP\""),
                );
                None
            }
        });
        Some(FeeSection {
            amount_minor: amount_minor?,
            currency: currency?,
        })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../examples/job.toml");

    #[test]
    fn example_job_is_valid() {
        let spec = JobSpec::from_toml_str(EXAMPLE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            spec.job.target_hospitals,
            vec!["example-hospital".to_string()]
        );
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(JobSpec::from_json(&json).unwrap(), spec);
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let bad = EXAMPLE
            .replace("amount_minor = 250000", "amount_minor = -5")
            .replace("currency = \"GBP\"", "currency = \"pounds\"")
            .replace("r = 8", "r = 0")
            .replace("kind = \"sft\"", "kind = \"rlhf\"");
        let bad = format!("{bad}\n[extra]\nx = 1\n");
        let issues = JobSpec::from_toml_str(&bad).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        for p in [
            "fee.amount_minor",
            "fee.currency",
            "hyperparameters.r",
            "task.kind",
            "extra",
        ] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
    }

    #[test]
    fn max_steps_is_optional_and_bounded() {
        let spec = JobSpec::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(spec.hyperparameters.max_steps, None);
        let capped = EXAMPLE.replace("seed = 42", "seed = 42\nmax_steps = 12");
        let spec = JobSpec::from_toml_str(&capped).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(spec.hyperparameters.max_steps, Some(12));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(JobSpec::from_json(&json).unwrap(), spec);
        let zero = EXAMPLE.replace("seed = 42", "seed = 42\nmax_steps = 0");
        let issues = JobSpec::from_toml_str(&zero).unwrap_err();
        assert!(
            issues.iter().any(|i| i.path == "hyperparameters.max_steps"),
            "{issues:?}"
        );
    }

    #[test]
    fn missing_sections_and_bad_toml() {
        let issues = JobSpec::from_toml_str("[job]\nname = \"x\"\n").unwrap_err();
        assert!(issues.iter().any(|i| i.path == "fee"));
        assert!(issues.iter().any(|i| i.path == "job.deadline"));
        let issues = JobSpec::from_toml_str("[job\n").unwrap_err();
        assert_eq!(issues[0].path, "(file)");
    }
}
