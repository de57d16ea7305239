//! `mc-fake-llm --script script.json [--port N]`: the fake OpenAI-compatible server as a process,
//! for the Python and Node tests.
//!
//! The script file is a JSON array of exchanges (or `{"exchanges": [...]}`), see
//! `metricchat_testkit::script`. Prints `listening on http://127.0.0.1:PORT/v1` once ready and
//! serves until killed. `GET /_fake/state` returns the recorded and unexpected requests.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use metricchat_testkit::{Exchange, FakeLlmServer};

const USAGE: &str = "usage: mc-fake-llm --script SCRIPT.json [--port N]";

struct Args {
    script: String,
    port: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut script = None;
    let mut port = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--script" => script = Some(args.next().ok_or("--script needs a file")?),
            "--port" => {
                let v = args.next().ok_or("--port needs a number")?;
                port = v.parse().map_err(|_| format!("invalid port `{v}`"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Args {
        script: script.ok_or(USAGE)?,
        port,
    })
}

fn load_script(path: &str) -> Result<Vec<Exchange>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
    let list = match value {
        serde_json::Value::Object(mut o) if o.contains_key("exchanges") => {
            o.remove("exchanges").unwrap_or_default()
        }
        other => other,
    };
    serde_json::from_value(list).map_err(|e| format!("{path} is not a valid script: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let script = match load_script(&args.script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = match FakeLlmServer::start_on(addr, script).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", server.base_url());
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
