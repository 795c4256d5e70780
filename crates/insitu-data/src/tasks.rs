//! Tasks (what an example asks for, and where its answer comes from) and
//! output formats (how an example is written as a JSONL line).

use crate::{Error, Record};
use insitu_text::sections::{sectionise, Section};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// What the dataset teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Discharge summary → short handover note (diagnosis, course, plan).
    Handover,
    /// Radiology findings → impression.
    RadiologyImpression,
    /// Note → ICD-10 codes of the coded episode (`meta.icd10`).
    Icd10,
    /// ED triage note → triage category (`meta.triage_category`).
    Triage,
    /// Clean text for continued pre-training (`text` format only).
    ContinuedPretraining,
    /// Sponsor's minijinja templates over the note's sections.
    Custom,
}

impl Task {
    /// Every task, for help text.
    pub const ALL: [Task; 6] = [
        Task::Handover,
        Task::RadiologyImpression,
        Task::Icd10,
        Task::Triage,
        Task::ContinuedPretraining,
        Task::Custom,
    ];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Handover => "handover",
            Task::RadiologyImpression => "radiology-impression",
            Task::Icd10 => "icd10",
            Task::Triage => "triage",
            Task::ContinuedPretraining => "continued-pretraining",
            Task::Custom => "custom",
        }
    }

    fn instruction(self) -> &'static str {
        match self {
            Task::Handover => "Write a short handover note for the ward team from this discharge summary: the diagnosis, what happened, and what needs doing next.",
            Task::RadiologyImpression => "Write the impression for this radiology report from its findings.",
            Task::Icd10 => "List the ICD-10 codes for this episode, primary diagnosis first, separated by commas.",
            Task::Triage => "Assign the triage category (1 = most urgent, 5 = least urgent) for this emergency department note.",
            Task::ContinuedPretraining | Task::Custom => "",
        }
    }
}

impl FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Task, Error> {
        Task::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown task {s:?} — choose one of: {}",
                    Task::ALL.map(Task::as_str).join(", ")
                ))
            })
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How examples are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{instruction, input, output}` (Stanford Alpaca).
    Alpaca,
    /// `{"messages": [{role, content}, …]}` as TRL and OpenAI use.
    Messages,
    /// `{prompt, chosen, rejected}` for DPO / reward models.
    Preference,
    /// `{"text": …}`.
    Text,
}

impl Format {
    /// Every format, for help text.
    pub const ALL: [Format; 4] = [
        Format::Alpaca,
        Format::Messages,
        Format::Preference,
        Format::Text,
    ];

    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Alpaca => "alpaca",
            Format::Messages => "messages",
            Format::Preference => "preference",
            Format::Text => "text",
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format, Error> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown format {s:?} — choose one of: {}",
                    Format::ALL.map(Format::as_str).join(", ")
                ))
            })
    }
}

/// A sponsor's templates for the `custom` task. Each is minijinja source
/// rendered with `sections` (canonical name → body), `text`, `kind`,
/// `written_at` and `meta`. An example is skipped when `output` renders empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomTemplate {
    /// The instruction.
    pub instruction: String,
    /// The input (may be empty).
    #[serde(default)]
    pub input: String,
    /// The expected output.
    pub output: String,
}

/// An extracted (instruction, input, output) triple, or why a document gives none.
pub(crate) type Extracted = Result<(String, String, String), &'static str>;

/// Section bodies by canonical name (first occurrence wins).
fn section_map(text: &str) -> (Vec<Section>, BTreeMap<String, String>) {
    let sections = sectionise(text);
    let mut map = BTreeMap::new();
    for s in &sections {
        map.entry(s.name.clone())
            .or_insert_with(|| text[s.body.clone()].trim().to_string());
    }
    (sections, map)
}

fn first_sentences(s: &str, n: usize) -> String {
    insitu_text::sentences::split_sentences(s)
        .into_iter()
        .take(n)
        .map(|r| s[r].to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Extracts one example from a (cleaned) document.
pub(crate) fn extract(
    task: Task,
    rec: &Record,
    text: &str,
    custom: Option<&minijinja::Environment<'_>>,
) -> Extracted {
    let (sections, map) = section_map(text);
    let non_empty = |name: &str| map.get(name).filter(|b| !b.is_empty()).cloned();
    match task {
        Task::ContinuedPretraining => Ok((String::new(), String::new(), text.trim().to_string())),
        Task::RadiologyImpression => {
            if !rec.kind.contains("radiology") {
                return Err("not a radiology report");
            }
            // A section runs to the next heading; sign-off blocks after a blank
            // line (reporter, PACS links) are not part of it.
            let first_block = |b: String| b.split("\n\n").next().unwrap_or("").trim().to_string();
            let findings = non_empty("findings")
                .map(first_block)
                .filter(|b| !b.is_empty())
                .ok_or("no Findings section")?;
            let impression = non_empty("impression")
                .map(first_block)
                .filter(|b| !b.is_empty())
                .ok_or("no Impression section")?;
            let mut input = String::new();
            if let Some(ci) = non_empty("clinical_information")
                .or_else(|| non_empty("history_presenting_complaint"))
            {
                input.push_str(&format!("Clinical details: {ci}\n"));
            }
            input.push_str(&format!("Findings: {findings}"));
            Ok((task.instruction().into(), input, impression))
        }
        Task::Handover => {
            if !rec.kind.contains("discharge") {
                return Err("not a discharge summary");
            }
            let mut parts = Vec::new();
            if let Some(d) = non_empty("assessment").or_else(|| non_empty("impression")) {
                parts.push(format!("Diagnosis: {}", first_sentences(&d, 1)));
            }
            if let Some(c) = non_empty("hospital_course") {
                parts.push(format!("Course: {}", first_sentences(&c, 2)));
            }
            if let Some(p) = non_empty("plan") {
                parts.push(format!("Plan: {}", first_sentences(&p, 2)));
            }
            if parts.len() < 2 {
                return Err("fewer than two of diagnosis, course, plan sections");
            }
            // The handover section (if any) is the answer's source, so leave it out of the input.
            let input = sections
                .iter()
                .filter(|s| s.name != "handover")
                .map(|s| {
                    if s.heading.is_empty() {
                        text[s.body.clone()].trim().to_string()
                    } else {
                        format!("{}: {}", s.heading, text[s.body.clone()].trim())
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok((task.instruction().into(), input, parts.join("\n")))
        }
        Task::Icd10 => {
            let codes: Vec<String> = match rec.meta.get("icd10") {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Some(serde_json::Value::String(s)) => s
                    .split([',', ';', ' '])
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            };
            if codes.is_empty() {
                return Err("no icd10 codes in metadata");
            }
            Ok((
                task.instruction().into(),
                text.trim().to_string(),
                codes.join(", "),
            ))
        }
        Task::Triage => {
            let cat = match rec
                .meta
                .get("triage_category")
                .or_else(|| rec.meta.get("triage"))
            {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err("no triage_category in metadata"),
            };
            // The note states its own category; remove that line so the task is not a copy.
            let input = text
                .lines()
                .filter(|l| {
                    !l.to_lowercase().contains("triage category")
                        && !l.to_lowercase().starts_with("triage:")
                        && !l.to_lowercase().starts_with("esi")
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok((task.instruction().into(), input.trim().to_string(), cat))
        }
        Task::Custom => {
            let env = custom.ok_or("no custom template given")?;
            let ctx = minijinja::context! { sections => map, text => text, kind => &rec.kind, written_at => &rec.written_at, meta => &rec.meta };
            let render = |name: &str| {
                env.get_template(name)
                    .and_then(|t| t.render(&ctx))
                    .map(|s| s.trim().to_string())
            };
            let (Ok(i), Ok(inp), Ok(o)) =
                (render("instruction"), render("input"), render("output"))
            else {
                return Err("custom template failed to render");
            };
            if o.is_empty() {
                return Err("custom template rendered an empty output");
            }
            Ok((i, inp, o))
        }
    }
}

/// Compiles a custom template set, naming the template that fails.
pub(crate) fn compile_custom(t: &CustomTemplate) -> Result<minijinja::Environment<'static>, Error> {
    let mut env = minijinja::Environment::new();
    // Templates come from the sponsor: no filesystem loader, and a fuel limit
    // so a template cannot loop forever.
    env.set_fuel(Some(100_000));
    for (name, src) in [
        ("instruction", &t.instruction),
        ("input", &t.input),
        ("output", &t.output),
    ] {
        env.add_template_owned(name.to_string(), src.clone())
            .map_err(|e| Error::Template {
                which: name.into(),
                message: e.to_string(),
            })?;
    }
    Ok(env)
}
