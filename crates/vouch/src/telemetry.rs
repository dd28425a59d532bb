//! Logs and traces of one `vouch` run.
//!
//! - **Logs**: servers (`vouch up`, `vouch serve …`, admission, monitor, …) log to stderr as
//!   text or, with `--log-format json`, as one JSON object per line; `--log-requests` adds one
//!   line per HTTP request with its W3C trace ID. Client commands log nothing unless asked.
//! - **Traces** (cargo feature `otlp`, on by default): when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, the run exports OpenTelemetry spans over
//!   OTLP/HTTP (protobuf): one span for the CLI command, parented on `TRACEPARENT` when the
//!   environment carries one, and one server span per request, parented on the caller's
//!   `traceparent`. A signing thus shows up as one trace across the CLI, CA, TSA and log.

use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// How the servers write their logs (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    Text,
    /// One JSON object per line: timestamp, level, target, message, fields and the request span.
    Json,
}

/// The log filter, `off` until a server calls [`init_tracing`], and `--log-requests`.
static LOG_FILTER: OnceLock<(reload::Handle<EnvFilter, Registry>, bool)> = OnceLock::new();

/// The filter: `RUST_LOG` when set (else info with quiet storage engines), and the per-request
/// access lines exactly when `--log-requests` is given, whatever `RUST_LOG` says.
fn log_filter(rust_log: Option<&str>, requests: bool) -> EnvFilter {
    let base = rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| {
            EnvFilter::new("info,fjall=warn,lsm_tree=warn,sqlx::postgres::notice=warn")
        });
    let access = if requests { "info" } else { "off" };
    match format!("{}={access}", vouch_server::access::ACCESS_TARGET).parse() {
        Ok(directive) => base.add_directive(directive),
        Err(_) => base,
    }
}

/// Turn the log output on (servers and other long-running commands call this once at start).
pub(crate) fn init_tracing() {
    if let Some((handle, requests)) = LOG_FILTER.get() {
        let rust_log = std::env::var("RUST_LOG").ok();
        let _ = handle.reload(log_filter(rust_log.as_deref(), *requests));
    }
}

/// What [`install`] set up; dropping it ends the command's span and flushes exported spans.
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    otlp: Option<otlp::Export>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(export) = self.otlp.take() {
            export.finish();
        }
    }
}

/// Install the process's subscriber: the log layer (silent until [`init_tracing`]) and, when
/// configured, the OpenTelemetry exporter with a span for `command`.
pub fn install(format: LogFormat, requests: bool, command: &str) -> Telemetry {
    let (filter, handle) = reload::Layer::new(EnvFilter::new("off"));
    let _ = LOG_FILTER.set((handle, requests));
    let stderr_is_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(stderr_is_tty)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs);
    #[cfg(feature = "otlp")]
    {
        let (layer, provider) = match otlp::layer() {
            Some((l, p)) => (Some(l), Some(p)),
            None => (None, None),
        };
        let _ = registry.with(layer).try_init();
        Telemetry {
            otlp: provider.map(|p| otlp::Export::start(p, command)),
        }
    }
    #[cfg(not(feature = "otlp"))]
    {
        let _ = command;
        let _ = registry.try_init();
        Telemetry {}
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::{TraceContextExt, TracerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing::Level;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;
    use vouch_core::trace::TraceParent;

    /// The span target of a CLI command.
    const CLI_TARGET: &str = "vouch::cli";

    /// Whether the standard OpenTelemetry environment asks for trace export.
    fn configured() -> bool {
        let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
        let disabled =
            std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        !disabled
            && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    }

    /// The exporting layer (request spans and the CLI span only) and its provider, when
    /// configured. A failure to build the exporter is reported once and export stays off.
    pub(super) fn layer<S>() -> Option<(impl Layer<S> + Send + Sync, SdkTracerProvider)>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        if !configured() {
            return None;
        }
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!(
                    "warning: OpenTelemetry export is off: cannot build the OTLP exporter: {e}"
                );
                return None;
            }
        };
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_err() {
            resource = resource.with_service_name("vouch");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("vouch");
        let targets = Targets::new()
            .with_target(vouch_server::access::ACCESS_TARGET, Level::INFO)
            .with_target(CLI_TARGET, Level::INFO);
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(targets);
        Some((layer, provider))
    }

    /// The command's span, entered for the whole run, and the provider to flush at the end.
    pub(super) struct Export {
        span: Option<tracing::span::EnteredSpan>,
        provider: SdkTracerProvider,
    }

    impl Export {
        /// Open the span `vouch COMMAND`, parented on `TRACEPARENT` when valid, and make it
        /// the parent of every request this process sends.
        pub(super) fn start(provider: SdkTracerProvider, command: &str) -> Self {
            let name = format!("vouch {command}");
            let span = tracing::info_span!(target: CLI_TARGET, "command", otel.name = %name);
            if let Some(p) = vouch_core::trace::from_env() {
                let _ = span.set_parent(vouch_server::access::remote_context(&p));
            }
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            if sc.is_valid() {
                vouch_core::trace::set_process(TraceParent {
                    trace_id: sc.trace_id().to_bytes(),
                    span_id: sc.span_id().to_bytes(),
                    flags: sc.trace_flags().to_u8(),
                });
                vouch_core::trace::set_local_span(sc.span_id().to_bytes());
            }
            Export {
                span: Some(span.entered()),
                provider,
            }
        }

        /// End the command's span and export everything still buffered.
        pub(super) fn finish(mut self) {
            drop(self.span.take());
            if let Err(e) = self.provider.shutdown() {
                eprintln!("warning: OpenTelemetry export: {e}");
            }
        }
    }
}
