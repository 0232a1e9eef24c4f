//! `gatehouse`: the admin command line. A thin clap shell over the same facade operations the
//! REST admin API calls: it opens the database with the server's settings, applies pending
//! migrations, and calls the facade as the operator `cli:<name>` (`--actor`, `GATEHOUSE_ACTOR` or
//! the OS user; see `gatehouse::Call::cli`), so every change lands in the audit trail, attributed,
//! like one made through the API.
//!
//! Exit codes: 0 success; 2 invalid input, not found, conflict, or a change refused because
//! another system owns the data (roles the tenant's IdP manages), and clap usage errors; 1
//! anything else, including a broken audit chain found by `gatehouse audit verify`.

mod cli;
mod commands;
mod output;
mod progress;

use clap::Parser;
use gatehouse::GatehouseError;
use std::process::ExitCode;

/// A mistake in the command line that the CLI itself detects (a file it cannot read, a missing
/// confirmation). Exits 2 like the facade's input errors.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// 2 when the operator can fix the command (invalid input, not found, conflict, a change that
/// belongs elsewhere — the printed reason says where), 1 otherwise.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<InputError>() {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<GatehouseError>() {
            return match e {
                GatehouseError::NotFound { .. }
                | GatehouseError::Conflict { .. }
                | GatehouseError::ManagedElsewhere { .. }
                | GatehouseError::InvalidInput { .. }
                | GatehouseError::Saml(_) => 2,
                _ => 1,
            };
        }
    }
    1
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` joins the context chain: "reading metadata file x.xml: No such file ...".
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_mistakes_exit_2_and_the_rest_exit_1() {
        let conflict = anyhow::Error::new(GatehouseError::Conflict {
            what: "tenant acme".into(),
        });
        assert_eq!(exit_code(&conflict), 2);
        let not_found =
            anyhow::Error::new(GatehouseError::NotFound { what: "tenant" }).context("showing");
        assert_eq!(exit_code(&not_found), 2);
        assert_eq!(
            exit_code(&anyhow::Error::new(InputError("no --yes".into()))),
            2
        );
        let managed = anyhow::Error::new(GatehouseError::ManagedElsewhere {
            reason: "the IdP manages these roles".into(),
        });
        assert_eq!(exit_code(&managed), 2);
        let internal = anyhow::Error::new(GatehouseError::Internal {
            detail: "bad key".into(),
        });
        assert_eq!(exit_code(&internal), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("database unreachable")), 1);
    }
}
