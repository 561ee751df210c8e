//! The `aegis-operator` command. `aegis-operator crd` prints the
//! TradingEngine CustomResourceDefinition as YAML (the source of
//! `manifests/crd.yaml`). The controller itself comes later (issue 6).

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: aegis-operator crd    print the TradingEngine CRD as YAML";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crd"] => match aegis_operator::crd::crd_yaml() {
            Ok(yaml) => {
                if let Err(e) = std::io::stdout().write_all(yaml.as_bytes()) {
                    eprintln!("error: writing the CRD: {e}");
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: serializing the CRD: {e}");
                ExitCode::FAILURE
            }
        },
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("error: unknown arguments {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
