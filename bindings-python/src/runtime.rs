//! The tokio runtime every call runs on, and waits on it that release the GIL and let
//! `KeyboardInterrupt` cancel what they wait for.

use std::sync::OnceLock;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

/// How often a wait wakes up to check for signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The shared runtime every call runs on.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("metricchat")
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))
}

/// Waits on `rx` for up to `timeout` with the GIL released (the receiver moves into the
/// detached closure and back, as `Receiver` is not `Sync`).
pub(crate) fn recv_detached<T: Send>(
    py: Python<'_>,
    rx: std_mpsc::Receiver<T>,
    timeout: Duration,
) -> (Result<T, std_mpsc::RecvTimeoutError>, std_mpsc::Receiver<T>) {
    py.detach(move || {
        let out = rx.recv_timeout(timeout);
        (out, rx)
    })
}

/// Runs `fut` on the runtime and waits with the GIL released, polling for signals every 50 ms.
/// On `KeyboardInterrupt` (or any signal handler's exception) `cancel` is triggered, the task is
/// given up to 5 s to wind down, and the exception propagates.
pub(crate) fn wait<T: Send + 'static>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = T> + Send + 'static,
    cancel: Option<CancellationToken>,
) -> PyResult<T> {
    let (tx, mut rx) = std_mpsc::channel();
    let handle = runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    loop {
        let (out, back) = recv_detached(py, rx, SIGNAL_POLL);
        rx = back;
        match out {
            Ok(v) => return Ok(v),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the task ended without a result"));
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = py.check_signals() {
            match &cancel {
                Some(c) => {
                    c.cancel();
                    let _ = recv_detached(py, rx, Duration::from_secs(5));
                }
                None => handle.abort(),
            }
            return Err(e);
        }
    }
}

/// The next message of a run's channel (events of `ask`, progress of an eval), waiting with the
/// GIL released: `None` once the channel closed, `""` when `timeout` (seconds) passed first.
/// `KeyboardInterrupt` (or any pending signal error) cancels the run and propagates.
pub(crate) fn recv_interruptible(
    py: Python<'_>,
    rx: &flume::Receiver<String>,
    cancel: &CancellationToken,
    timeout: Option<f64>,
) -> PyResult<Option<String>> {
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
    loop {
        let rx = rx.clone();
        match py.detach(move || rx.recv_timeout(SIGNAL_POLL)) {
            Ok(text) => return Ok(Some(text)),
            Err(flume::RecvTimeoutError::Disconnected) => return Ok(None),
            Err(flume::RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = py.check_signals() {
            cancel.cancel();
            return Err(e);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Some(String::new()));
        }
    }
}
