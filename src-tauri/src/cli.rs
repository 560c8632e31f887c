//! The command line of the `enlace` binary. Parsed before any GUI start-up, by a pure function:
//! argv is untrusted (a `tel:` link from any web page ends up here).

use std::ffi::OsString;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Start (or reach) the desktop app, optionally dialing a link.
    Gui {
        launch_url: Option<String>,
    },
    /// `enlace dial <uri>`: hand the link to the running instance, or start one that dials it.
    Dial {
        uri: String,
    },
    /// `enlace dial --dry-run [--json] [--country CC] <uri>`: parse only, dial nothing.
    DialDryRun {
        uri: String,
        json: bool,
        country: Option<String>,
    },
    /// `enlace doctor`: check the OS integration.
    Doctor,
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("unknown option {0:?}; see `enlace --help`")]
    UnknownOption(String),
    #[error("`{0}` needs a value")]
    MissingValue(&'static str),
    #[error("`enlace dial` needs exactly one link or number")]
    MissingUri,
    #[error("arguments must be valid UTF-8")]
    NotUtf8,
}

pub const USAGE: &str = "\
Enlace — click-to-dial and call logging for contact-center agents

Usage:
  enlace                         start the app (or bring it to front)
  enlace <tel:|callto: link>     dial the link through the running app
  enlace dial <link|number>      the same, for any link or typed number
  enlace dial --dry-run [--json] [--country CC] <link|number>
                                 show what would be dialed; dials nothing
  enlace doctor                  check the tel:/callto: handler, phone line, keyring, notifications
  enlace --version | --help
";

/// Parse the arguments after the program name.
pub fn parse(args: &[OsString]) -> Result<Invocation, CliError> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| a.to_str().ok_or(CliError::NotUtf8))
        .collect::<Result<_, _>>()?;
    match args.first().copied() {
        None => Ok(Invocation::Gui { launch_url: None }),
        Some("dial") => parse_dial(&args[1..]),
        Some("doctor") if args.len() == 1 => Ok(Invocation::Doctor),
        Some("-h" | "--help" | "help") => Ok(Invocation::Help),
        Some("-V" | "--version") => Ok(Invocation::Version),
        Some(first) if args.len() == 1 && looks_like_link(first) => Ok(Invocation::Gui {
            launch_url: Some(first.to_owned()),
        }),
        Some(other) => Err(CliError::UnknownOption(other.chars().take(64).collect())),
    }
}

fn parse_dial(args: &[&str]) -> Result<Invocation, CliError> {
    let (mut dry_run, mut json, mut country, mut uri) = (false, false, None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--dry-run" => dry_run = true,
            "--json" => json = true,
            "--country" => {
                country =
                    Some((*rest.next().ok_or(CliError::MissingValue("--country"))?).to_owned())
            }
            "--" => {
                uri = rest.next().map(|s| (*s).to_owned());
                if rest.next().is_some() {
                    return Err(CliError::MissingUri);
                }
            }
            flag if flag.starts_with("--") => {
                return Err(CliError::UnknownOption(flag.chars().take(64).collect()))
            }
            value if uri.is_none() => uri = Some(value.to_owned()),
            _ => return Err(CliError::MissingUri),
        }
    }
    let uri = uri.ok_or(CliError::MissingUri)?;
    if dry_run {
        Ok(Invocation::DialDryRun { uri, json, country })
    } else {
        Ok(Invocation::Dial { uri })
    }
}

/// A single argument that the OS hands us as a link (`tel:`, `callto:`, `sip:`).
fn looks_like_link(arg: &str) -> bool {
    let lower: String = arg.chars().take(7).collect::<String>().to_ascii_lowercase();
    ["tel:", "callto:", "sip:", "sips:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// The link a second instance was started with (forwarded to us over the session bus).
pub fn link_from_forwarded_argv(argv: &[String]) -> Option<String> {
    let args: Vec<OsString> = argv.iter().skip(1).map(OsString::from).collect();
    match parse(&args) {
        Ok(Invocation::Gui { launch_url }) => launch_url,
        Ok(Invocation::Dial { uri }) => Some(uri),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Invocation, CliError> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn table() {
        assert_eq!(p(&[]), Ok(Invocation::Gui { launch_url: None }));
        assert_eq!(
            p(&["tel:+50640004000"]),
            Ok(Invocation::Gui {
                launch_url: Some("tel:+50640004000".into())
            })
        );
        assert_eq!(
            p(&["CALLTO://+50640004000"]),
            Ok(Invocation::Gui {
                launch_url: Some("CALLTO://+50640004000".into())
            })
        );
        assert_eq!(
            p(&["dial", "4000"]),
            Ok(Invocation::Dial { uri: "4000".into() })
        );
        assert_eq!(
            p(&["dial", "--dry-run", "--json", "--country", "MX", "tel:55"]),
            Ok(Invocation::DialDryRun {
                uri: "tel:55".into(),
                json: true,
                country: Some("MX".into())
            })
        );
        assert_eq!(
            p(&["dial", "--json", "--dry-run", "--", "--weird"]),
            Ok(Invocation::DialDryRun {
                uri: "--weird".into(),
                json: true,
                country: None
            })
        );
        assert_eq!(p(&["doctor"]), Ok(Invocation::Doctor));
        assert_eq!(p(&["--version"]), Ok(Invocation::Version));
        assert_eq!(p(&["dial"]), Err(CliError::MissingUri));
        assert_eq!(
            p(&["dial", "--country"]),
            Err(CliError::MissingValue("--country"))
        );
        assert_eq!(p(&["dial", "a", "b"]), Err(CliError::MissingUri));
        assert!(matches!(p(&["--evil"]), Err(CliError::UnknownOption(_))));
        assert!(matches!(p(&["http://x"]), Err(CliError::UnknownOption(_))));
        assert!(matches!(
            p(&["tel:1", "tel:2"]),
            Err(CliError::UnknownOption(_))
        ));
    }

    #[test]
    fn forwarded_argv_gives_the_link() {
        let argv = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            link_from_forwarded_argv(&argv(&["/x/enlace", "tel:1"])),
            Some("tel:1".into())
        );
        assert_eq!(
            link_from_forwarded_argv(&argv(&["/x/enlace", "dial", "4000"])),
            Some("4000".into())
        );
        assert_eq!(link_from_forwarded_argv(&argv(&["/x/enlace"])), None);
        assert_eq!(
            link_from_forwarded_argv(&argv(&["/x/enlace", "doctor"])),
            None
        );
    }
}
