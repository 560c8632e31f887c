//! `enlace-sandbox`: runs the Salesforce and Zoho doubles with demo data until killed.
//!
//! `enlace-sandbox [--salesforce-port P] [--zoho-port Q]` (0 or absent = any free port) prints one
//! JSON line `{"salesforce":…,"zoho_accounts":…,"zoho_api":…,"zoho_client_id":…,"zoho_client_secret":…}`.
//! Demo mode: any loopback redirect URI and any client id are accepted, and sign-in is immediate.

use std::process::ExitCode;

use enlace_sandbox::demo::DemoCrm;

fn parse_args() -> Result<(u16, u16), String> {
    let mut sf = 0u16;
    let mut zoho = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let target = match arg.as_str() {
            "--salesforce-port" => &mut sf,
            "--zoho-port" => &mut zoho,
            "-h" | "--help" => {
                return Err("usage: enlace-sandbox [--salesforce-port P] [--zoho-port Q]".into());
            }
            other => return Err(format!("unknown argument: {other}")),
        };
        let value = args
            .next()
            .ok_or_else(|| format!("{arg} needs a port number"))?;
        *target = value
            .parse()
            .map_err(|_| format!("{arg}: not a port number: {value}"))?;
    }
    Ok((sf, zoho))
}

fn main() -> ExitCode {
    let (sf_port, zoho_port) = match parse_args() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let demo = match DemoCrm::start_on(sf_port, zoho_port) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("enlace-sandbox: cannot start the doubles: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", demo.env_value());
    loop {
        std::thread::park();
    }
}
