//! Running the binary in a clean environment, and the scripted model.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_metricchat");

/// The SQL the scripted model runs for [`ask_script`].
pub const ORIGIN_SQL: &str =
    "SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC";

/// The scripted answer of [`ask_script`].
pub const ORIGIN_ANSWER: &str =
    "EWR had the most departures: 120835 flights, ahead of JFK (111279) and LGA (104662).";

/// A query that takes hours on DataFusion (a cross join of 336,776 rows with itself).
pub const SLOW_SQL: &str = "SELECT a.carrier, SUM(a.dep_delay * b.arr_delay) AS s \
    FROM flights a CROSS JOIN flights b GROUP BY a.carrier";

/// A working directory with its own store and, optionally, a `metricchat.toml`.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A workdir whose `metricchat.toml` points at `server` (native tool calling, no title, no
    /// answer checks: exactly the scripted exchanges).
    pub fn with_model(server: &FakeLlmServer) -> Self {
        let w = Self::new();
        w.write_config(&model_config(server));
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("runs.db")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("metricchat.toml"), text).unwrap();
    }

    /// `metricchat ARGS` in this directory, with nothing from the caller's environment that
    /// the CLI reads.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path());
        for var in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "MC_LLM",
            "MC_LLM_BASE_URL",
            "MC_LLM_MODEL",
            "MC_LLM_SUPPORTS_TOOLS",
            "MC_CONFIG",
            "MC_MCP_TOKEN",
            "MC_LOG",
            "RUST_LOG",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("MC_STORE", format!("sqlite://{}", self.store().display()))
            .env("HOME", self.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `metricchat ARGS` to the end (off the async runtime's threads).
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        Run::from(out)
    }
}

/// The config of a workdir whose model is `server`.
pub fn model_config(server: &FakeLlmServer) -> String {
    format!(
        "llm = \"openai:scripted-gpt@{}\"\nprotocol = \"native_tools\"\ngenerate_title = false\nanswer_checks = false\n",
        server.base_url()
    )
}

/// What a finished process said.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The planner's request (the system prompt names the agent).
pub fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

/// One question answered with [`ORIGIN_SQL`] and [`ORIGIN_ANSWER`].
pub fn ask_script() -> Vec<Exchange> {
    vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Departures by origin", "sql": ORIGIN_SQL}),
            )
            .with_text("I'll count flights per origin airport."),
        ),
        Exchange::when(planner(), Reply::text(ORIGIN_ANSWER)),
    ]
}

/// A running process whose stdout and stderr are read line by line.
pub struct Spawned {
    pub child: Child,
    pub stdout: std::sync::mpsc::Receiver<String>,
    pub stderr: std::sync::mpsc::Receiver<String>,
}

impl Spawned {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits (at most `within`) for a line of `rx` containing `needle`; returns it and
    /// everything read before.
    pub fn wait_for(
        rx: &std::sync::mpsc::Receiver<String>,
        needle: &str,
        within: Duration,
    ) -> (Option<String>, Vec<String>) {
        let end = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return (Some(line), seen),
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        (None, seen)
    }

    /// Sends SIGINT (as Ctrl-C does), with the system's `kill`.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit, at most `within`; kills the process after that.
    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the process did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn rest(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
        rx.try_iter().collect()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
