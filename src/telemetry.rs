//! Logging setup: structured `tracing` events, pretty or JSON.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Lines held for the writer thread; beyond that new lines are dropped (and
/// counted by tracing-appender) rather than making requests wait.
const BUFFERED_LINES: usize = 128_000;

/// Installs the global subscriber. `RUST_LOG` overrides the default level.
///
/// Lines go to stderr from a writer thread: every request logs a line, and a
/// `write(2)` on a tokio worker blocks it (and every request queued on it)
/// whenever the log pipe is slow or full. Keep the guard until the process
/// ends: dropping it flushes what is buffered.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    guard
}
