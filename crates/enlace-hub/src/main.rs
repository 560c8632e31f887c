//! `enlace-hub` binary: parses the command line and runs it (see `enlace_hub::cli`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = enlace_hub::cli::Cli::parse();
    let mut out = std::io::stdout();
    match enlace_hub::cli::run(cli, &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error ({}): {e}", e.code());
            std::process::ExitCode::FAILURE
        }
    }
}
