//! The leakage report for the information-governance officer: `leakage.json`
//! (machine-readable), `leakage.md` (plain-language explanations, each figure
//! against its limit) and `roc.png` (ROC curves). The PNG has no text —
//! drawing text would need system fonts — so its legend is in the Markdown.

use crate::suite::LeakageReport;
use crate::Error;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The limits the report compares against (the release policy's values,
/// passed in by the caller; `None` = no limit set).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReportLimits {
    /// Maximum TPR at 0.1% FPR for any membership attack.
    pub max_mia_tpr_at_0_1pct_fpr: Option<f64>,
    /// Maximum canary exposure in bits.
    pub max_canary_exposure: Option<f64>,
    /// Maximum regenerated training identifiers (normally 0).
    pub max_phi_findings: Option<usize>,
    /// Maximum share of verbatim continuations.
    pub max_extraction_verbatim_rate: Option<f64>,
}

/// Curve colours in the PNG, in `membership` order; named in the Markdown.
const CURVE_COLOURS: &[(RGBColor, &str)] = &[
    (RGBColor(0, 90, 181), "blue"),
    (RGBColor(0, 158, 115), "green"),
    (RGBColor(220, 50, 32), "red"),
    (RGBColor(230, 159, 0), "orange"),
    (RGBColor(120, 60, 160), "purple"),
    (RGBColor(90, 90, 90), "grey"),
];

/// Paths of a written report.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenReport {
    /// `leakage.json`.
    pub json: PathBuf,
    /// `leakage.md`.
    pub markdown: PathBuf,
    /// `roc.png`.
    pub roc_png: PathBuf,
}

/// Writes `leakage.json`, `leakage.md` and `roc.png` into `dir`, each via a
/// temporary file renamed into place.
pub fn write_report(
    report: &LeakageReport,
    limits: &ReportLimits,
    dir: &Path,
) -> Result<WrittenReport, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let out = WrittenReport {
        json: dir.join("leakage.json"),
        markdown: dir.join("leakage.md"),
        roc_png: dir.join("roc.png"),
    };
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    write_then_rename(&out.json, json.as_bytes()).map_err(io(&out.json))?;
    write_then_rename(&out.markdown, render_markdown(report, limits).as_bytes())
        .map_err(io(&out.markdown))?;
    let tmp = dir.join(".roc.tmp.png");
    render_roc_png(report, &tmp)?;
    std::fs::rename(&tmp, &out.roc_png).map_err(io(&out.roc_png))?;
    Ok(out)
}

fn write_then_rename(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "within limit",
        Some(false) => "**OVER LIMIT**",
        None => "no limit set",
    }
}

fn limit_text<T: std::fmt::Display>(l: Option<T>) -> String {
    l.map_or_else(|| "—".to_string(), |v| v.to_string())
}

/// Renders the Markdown report: a summary table (figure, limit, verdict) and
/// one section per test explaining what it means in plain language.
pub fn render_markdown(report: &LeakageReport, limits: &ReportLimits) -> String {
    let s = &report.summary;
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Leakage report\n");
    let _ = writeln!(
        w,
        "This report shows how much the trained adapter reveals about the notes it was trained on. \
         Every figure below was measured by attacking the adapter the way a recipient holding the \
         base model could. No note text or identifier appears in this report.\n"
    );
    let _ = writeln!(
        w,
        "| test | measured | limit | verdict |\n|---|---|---|---|"
    );
    let tpr = s.mia_tpr_at_0_1pct_fpr_max;
    let _ = writeln!(
        w,
        "| membership inference, TPR at 0.1% FPR (worst attack) | {tpr:.4} | {} | {} |",
        limit_text(limits.max_mia_tpr_at_0_1pct_fpr),
        verdict(limits.max_mia_tpr_at_0_1pct_fpr.map(|l| tpr <= l))
    );
    match s.canary_exposure_max {
        Some(e) => {
            let _ = writeln!(
                w,
                "| canary exposure, bits (worst canary) | {e:.2} | {} | {} |",
                limit_text(limits.max_canary_exposure),
                verdict(limits.max_canary_exposure.map(|l| e <= l))
            );
        }
        None => {
            let _ = writeln!(
                w,
                "| canary exposure | not measured (no canaries inserted) | {} | — |",
                limit_text(limits.max_canary_exposure)
            );
        }
    }
    let _ = writeln!(
        w,
        "| training identifiers regenerated | {} | {} | {} |",
        s.phi_findings,
        limit_text(limits.max_phi_findings),
        verdict(limits.max_phi_findings.map(|l| s.phi_findings <= l))
    );
    let v = s.extraction_verbatim_rate;
    let _ = writeln!(
        w,
        "| verbatim continuation rate | {v:.4} | {} | {} |\n",
        limit_text(limits.max_extraction_verbatim_rate),
        verdict(limits.max_extraction_verbatim_rate.map(|l| v <= l))
    );

    let _ = writeln!(w, "## Membership inference\n");
    let _ = writeln!(
        w,
        "*Question:* given a note, can someone tell whether it was in the training data? \
         The **loss-ratio** attack compares how surprised the base model and the adapted model are \
         by the note: notes the adapter was trained on tend to become much less surprising. \
         **Min-K%** looks only at the adapter's least likely words in the note. \
         An **AUC** of 0.5 means the attack does no better than a coin toss; 1.0 means it always \
         tells members apart. **TPR at 0.1% FPR** is the share of training notes the attacker \
         identifies while wrongly accusing at most 1 in 1000 notes that were not used; this is the \
         figure that matters for individual patients. With fewer than 1000 held-out notes it means \
         \"with no false accusation at all\". Ranges are 95% bootstrap intervals (seeded).\n"
    );
    let _ = writeln!(w, "| curve colour | attack | level | members | non-members | AUC | TPR@0.1%FPR | TPR@1%FPR |\n|---|---|---|---|---|---|---|---|");
    for (i, a) in report.membership.iter().enumerate() {
        let e = |x: &crate::mia::Estimate| {
            format!("{:.3} [{:.3}, {:.3}]", x.value, x.ci_low, x.ci_high)
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            CURVE_COLOURS[i % CURVE_COLOURS.len()].1,
            a.attack,
            a.level,
            a.members,
            a.nonmembers,
            e(&a.auc),
            e(&a.tpr_at_0_1pct_fpr),
            e(&a.tpr_at_1pct_fpr)
        );
    }
    let _ = writeln!(
        w,
        "\n![ROC curves](roc.png)\n\n*ROC curves:* horizontal axis false-positive rate 0→1, vertical axis \
         true-positive rate 0→1; the grey diagonal is chance. A curve hugging the diagonal is good news.\n"
    );

    let _ = writeln!(w, "## Canaries\n");
    if report.canaries.is_empty() {
        let _ = writeln!(w, "No canaries were inserted into this run's training data, so memorisation of rare secrets was not measured.\n");
    } else {
        let _ = writeln!(
            w,
            "*Question:* does the model memorise a rare secret it saw only a few times? Before training, \
             made-up sentences with fake NHS-style numbers (999 range, never issued to patients) were \
             inserted 1, 2, 4 or 8 times. **Exposure** (bits) says how much more likely the model finds \
             the real secret than a random one: 0 means no memorisation; the maximum ({:.1} bits) means \
             the model would name the secret first out of every possible number.\n",
            report.canaries[0].max_exposure
        );
        let _ = writeln!(w, "| canary | copies in training | exposure (bits) | rank estimated by |\n|---|---|---|---|");
        for c in &report.canaries {
            let _ = writeln!(
                w,
                "| {} | {} | {:.2} | {:?} over {} candidates |",
                c.id, c.repetitions, c.exposure, c.method, c.candidates
            );
        }
        let _ = writeln!(w);
    }

    let x = &report.extraction;
    let _ = writeln!(w, "## Extraction\n");
    let _ = writeln!(
        w,
        "*Question:* given the start of a training note, does the model recite the rest? \
         {} training notes were cut after {} words; the model continued each, and a continuation \
         counts as verbatim if its first {} words match the note. Verbatim: {} of {} ({:.1}%); \
         on average {:.1} words matched.\n",
        x.prompts,
        x.config.prefix_words,
        x.config.match_words,
        x.verbatim,
        x.prompts,
        100.0 * x.verbatim_rate,
        x.mean_matched_words
    );
    let _ = writeln!(w, "## Identifiers in generated text\n");
    let _ = writeln!(
        w,
        "*Question:* does the model write out identifiers (names, numbers, addresses…) that occur in \
         its training data? {} generated texts were scanned with the de-identification scanner. \
         Findings: {}.",
        report.generations_scanned,
        report.phi_findings.len()
    );
    if !report.phi_findings.is_empty() {
        let _ = writeln!(w, "\n| generation | category | length |\n|---|---|---|");
        for f in &report.phi_findings {
            let _ = writeln!(w, "| {} | {} | {} |", f.generation, f.category, f.length);
        }
        let _ = writeln!(w, "\nThe values themselves are deliberately not shown.");
    }
    md
}

/// Draws the ROC curves (no text) as a 480×480 PNG at `path`.
pub fn render_roc_png(report: &LeakageReport, path: &Path) -> Result<(), Error> {
    let plot_err = |e: String| Error::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    let root = BitMapBackend::new(path, (480, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
    let area = root.margin(20, 20, 20, 20);
    let mut chart = ChartBuilder::on(&area)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(|e| plot_err(e.to_string()))?;
    let grey = RGBColor(170, 170, 170);
    // Frame, grid at 0.1 steps, and the chance diagonal.
    for k in 0..=10 {
        let t = k as f64 / 10.0;
        let style = if k == 0 || k == 10 {
            BLACK.stroke_width(2)
        } else {
            RGBColor(230, 230, 230).stroke_width(1)
        };
        for line in [vec![(t, 0.0), (t, 1.0)], vec![(0.0, t), (1.0, t)]] {
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(|e| plot_err(e.to_string()))?;
        }
    }
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            grey.stroke_width(1),
        ))
        .map_err(|e| plot_err(e.to_string()))?;
    for (i, a) in report.membership.iter().enumerate() {
        let colour = CURVE_COLOURS[i % CURVE_COLOURS.len()].0;
        let pts: Vec<(f64, f64)> = a.roc.points.iter().map(|p| (p.fpr, p.tpr)).collect();
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
            .map_err(|e| plot_err(e.to_string()))?;
    }
    root.present().map_err(|e| plot_err(e.to_string()))?;
    Ok(())
}
