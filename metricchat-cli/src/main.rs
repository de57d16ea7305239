//! The `metricchat` command: see `metricchat --help`.

fn main() -> std::process::ExitCode {
    metricchat_cli::cli::main()
}
