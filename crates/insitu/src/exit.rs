//! Exit codes: 0 ok, 1 failure, 2 usage or input error. A command marks an
//! input problem (bad file, malformed line, unknown id) by returning
//! [`InputError`] somewhere in its error chain.

use std::process::ExitCode;

/// An error caused by the user's input rather than by insitu or the machine.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Builds an input error (exit code 2) with the given message.
pub fn input(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(msg.into()))
}

/// A command that finished but must report failure (exit 1) without an
/// error message of its own, e.g. `audit verify` after printing the bad row.
#[derive(Debug)]
pub struct Silent(pub u8);

impl std::fmt::Display for Silent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Silent {}

/// Prints the error chain and picks the exit code.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Silent(code)) = e.downcast_ref::<Silent>() {
                return ExitCode::from(*code);
            }
            let is_input = e.chain().any(|c| c.is::<InputError>());
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(if is_input { 2 } else { 1 })
        }
    }
}
