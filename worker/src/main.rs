//! The `aegis-worker` binary: see `aegis_worker::cli`.

fn main() -> std::process::ExitCode {
    aegis_worker::cli::main()
}
