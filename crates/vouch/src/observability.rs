//! `vouch observability dashboards|rules --out DIR`: Grafana dashboards (executive, on-call,
//! debug) and Prometheus recording and multi-window burn-rate alerting rules, generated from the
//! one definition of the SLOs and panels below, so that they cannot drift from each other or
//! from the metric names (a test checks every expression against the servers' registries).
//!
//! Burn-rate alerts follow the Google SRE workbook ("Alerting on SLOs", multiwindow,
//! multi-burn-rate): page when 2 % of a 30-day error budget burns in 1 h (14.4×, 1 h and 5 m
//! windows) or 5 % in 6 h (6×, 6 h and 30 m); ticket on 10 % in 3 days (1×, 3 d and 6 h) or
//! 3× over 1 d and 2 h.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `vouch observability …` subcommands.
#[derive(Subcommand, Debug)]
pub enum ObservabilityCommand {
    /// Write Grafana dashboard JSON (executive, on-call, debug) into --out.
    Dashboards(OutArgs),
    /// Write Prometheus recording and SLO burn-rate alerting rules into --out.
    Rules(OutArgs),
    /// Print every metric name the dashboards and rules refer to, one per line.
    Metrics,
}

/// Where to write.
#[derive(Args, Debug)]
pub struct OutArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// Run a `vouch observability` subcommand.
pub fn run(cmd: ObservabilityCommand) -> Result<()> {
    match cmd {
        ObservabilityCommand::Dashboards(a) => {
            for d in dashboards() {
                let path = a.out.join(format!("{}.json", d.uid));
                write(&path, &serde_json::to_vec_pretty(&d)?)?;
                println!("{}", path.display());
            }
            Ok(())
        }
        ObservabilityCommand::Rules(a) => {
            // JSON is YAML: Prometheus and promtool read this file as a rule file.
            let path = a.out.join("vouch-slo.rules.yml");
            write(&path, &serde_json::to_vec_pretty(&rules())?)?;
            println!("{}", path.display());
            Ok(())
        }
        ObservabilityCommand::Metrics => {
            for m in referenced_metrics() {
                println!("{m}");
            }
            Ok(())
        }
    }
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    vouch_fs::write_durably(path, data, vouch_fs::Access::Public)
        .with_context(|| format!("cannot write {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The one definition

/// A service level objective: the PromQL of its error ratio over a window (`{w}`), and the
/// target success ratio.
pub struct Slo {
    /// Label value of `slo` in the recorded series.
    pub name: &'static str,
    /// What it promises.
    pub summary: &'static str,
    /// Target ratio of good events, e.g. 0.999.
    pub objective: f64,
    /// Error ratio over window `{w}`.
    pub error_ratio: &'static str,
}

/// The SLOs (seed SLIs): signing success, log availability, inclusion and proof latency.
pub const SLOS: [Slo; 5] = [
    Slo {
        name: "signing_success",
        summary: "99.9% of signing-certificate requests that reach the CA succeed, except requests refused for the client's own fault",
        objective: 0.999,
        error_ratio: r#"(sum(rate(vouch_ca_rejected_requests_total{reason=~"internal|ct_log"}[{w}])) or vector(0)) / clamp_min((sum(rate(vouch_ca_certificates_issued_total[{w}])) or vector(0)) + (sum(rate(vouch_ca_rejected_requests_total[{w}])) or vector(0)), 1e-9)"#,
    },
    Slo {
        name: "log_availability",
        summary: "the transparency log answers its scrapes 99.9% of the time",
        objective: 0.999,
        error_ratio: r#"1 - avg(avg_over_time(up{job="vouch-log"}[{w}]))"#,
    },
    Slo {
        name: "tsa_availability",
        summary: "the timestamp authority answers its scrapes 99.9% of the time",
        objective: 0.999,
        error_ratio: r#"1 - avg(avg_over_time(up{job="vouch-tsa"}[{w}]))"#,
    },
    Slo {
        name: "inclusion_latency",
        summary: "99% of log submissions get their durable inclusion proof within 5 s",
        objective: 0.99,
        error_ratio: r#"1 - sum(rate(vouch_log_inclusion_duration_seconds_bucket{le=~"5(\\.0)?"}[{w}])) / clamp_min(sum(rate(vouch_log_inclusion_duration_seconds_count[{w}])), 1e-9)"#,
    },
    Slo {
        name: "proof_retrieval_latency",
        summary: "99% of proof requests to the proof cache are answered within 200 ms",
        objective: 0.99,
        error_ratio: r#"1 - sum(rate(vouch_proxy_proof_duration_seconds_bucket{le=~"0\\.2"}[{w}])) / clamp_min(sum(rate(vouch_proxy_proof_duration_seconds_count[{w}])), 1e-9)"#,
    },
];

/// Windows the error ratios are recorded over.
pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// (severity, burn rate, long window, short window), per the SRE workbook.
const BURN_ALERTS: [(&str, f64, &str, &str); 4] = [
    ("page", 14.4, "1h", "5m"),
    ("page", 6.0, "6h", "30m"),
    ("ticket", 3.0, "1d", "2h"),
    ("ticket", 1.0, "3d", "6h"),
];

/// The recorded error-ratio series of an SLO over window `w`.
pub fn ratio_series(slo: &str, w: &str) -> String {
    format!("vouch:slo_error_ratio:rate{w}{{slo=\"{slo}\"}}")
}

/// Alerts that are not error-budget burns.
const PLAIN_ALERTS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "VouchProxyUpstreamRefused",
        r#"increase(vouch_proxy_upstream_errors_total{reason=~"consistency|rollback|signature|tile|witness"}[10m]) > 0"#,
        "page",
        "0m",
        "the proof cache refused its upstream log's answer (a fork, a rollback, a bad signature or a tampered tile): investigate the log",
    ),
    (
        "VouchProxyCheckpointStale",
        "max(vouch_proxy_checkpoint_age_seconds) > 600",
        "ticket",
        "5m",
        "the proof cache has not had its checkpoint confirmed by the upstream log for over 10 minutes",
    ),
    (
        "VouchCertificateTtlTooLong",
        "max(vouch_ca_certificate_ttl_seconds) > 1200",
        "ticket",
        "0m",
        "the CA issues certificates valid for more than 20 minutes (Fulcio issues 10)",
    ),
    (
        "VouchUnauthorizedSigningAttempts",
        r#"sum(increase(vouch_ca_rejected_requests_total{reason!~"internal|ct_log"}[15m])) > 20"#,
        "ticket",
        "0m",
        "more than 20 signing-certificate requests were refused in 15 minutes (bad or expired tokens, identity or proof-of-possession failures)",
    ),
];

/// Kinds of Grafana panel.
#[derive(Clone, Copy)]
enum Kind {
    Stat,
    TimeSeries,
}

/// A panel: title, kind, unit and its queries (expression, legend).
struct PanelDef {
    title: &'static str,
    kind: Kind,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
}

const EXECUTIVE: &[PanelDef] = &[
    PanelDef {
        title: "Signing success (1 d)",
        kind: Kind::Stat,
        unit: "percentunit",
        queries: &[(
            r#"1 - vouch:slo_error_ratio:rate1d{slo="signing_success"}"#,
            "CA",
        )],
    },
    PanelDef {
        title: "Signing outcomes reported by CI (vouch --metrics-push)",
        kind: Kind::TimeSeries,
        unit: "short",
        queries: &[(
            "sum by (outcome) (increase(vouch_cli_signings_total[1h]))",
            "{{outcome}}",
        )],
    },
    PanelDef {
        title: "Verification success (vouch --metrics-push)",
        kind: Kind::Stat,
        unit: "percentunit",
        queries: &[(
            r#"sum(vouch_cli_verifications_total{outcome="success"}) / clamp_min(sum(vouch_cli_verifications_total), 1)"#,
            "verifications",
        )],
    },
    PanelDef {
        title: "Log availability (1 d)",
        kind: Kind::Stat,
        unit: "percentunit",
        queries: &[(
            r#"1 - vouch:slo_error_ratio:rate1d{slo="log_availability"}"#,
            "log",
        )],
    },
    PanelDef {
        title: "Denied deployments (1 d)",
        kind: Kind::Stat,
        unit: "short",
        queries: &[(
            r#"sum(increase(vouch_admission_decisions_total{verdict="deny"}[1d]))"#,
            "denied",
        )],
    },
];

const ON_CALL: &[PanelDef] = &[
    PanelDef {
        title: "Error budget burn rate (1 h)",
        kind: Kind::TimeSeries,
        unit: "short",
        queries: &[
            (
                r#"vouch:slo_error_ratio:rate1h{slo="signing_success"} / 0.001"#,
                "signing",
            ),
            (
                r#"vouch:slo_error_ratio:rate1h{slo="log_availability"} / 0.001"#,
                "log",
            ),
            (
                r#"vouch:slo_error_ratio:rate1h{slo="inclusion_latency"} / 0.01"#,
                "inclusion",
            ),
            (
                r#"vouch:slo_error_ratio:rate1h{slo="proof_retrieval_latency"} / 0.01"#,
                "proofs",
            ),
        ],
    },
    PanelDef {
        title: "Refused signing requests by reason (OIDC and identity checks included)",
        kind: Kind::TimeSeries,
        unit: "reqps",
        queries: &[(
            "sum by (reason) (rate(vouch_ca_rejected_requests_total[5m]))",
            "{{reason}}",
        )],
    },
    PanelDef {
        title: "Log inclusion latency (submit to durable proof)",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[
            (
                "histogram_quantile(0.5, sum by (le) (rate(vouch_log_inclusion_duration_seconds_bucket[5m])))",
                "p50",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(vouch_log_inclusion_duration_seconds_bucket[5m])))",
                "p99",
            ),
        ],
    },
    PanelDef {
        title: "Rejected log submissions by reason",
        kind: Kind::TimeSeries,
        unit: "reqps",
        queries: &[(
            "sum by (reason) (rate(vouch_log_rejected_submissions_total[5m]))",
            "{{reason}}",
        )],
    },
    PanelDef {
        title: "Admission denials by reason",
        kind: Kind::TimeSeries,
        unit: "short",
        queries: &[(
            r#"sum by (reason) (increase(vouch_admission_decisions_total{verdict="deny"}[1h]))"#,
            "{{reason}}",
        )],
    },
    PanelDef {
        title: "Proof cache: upstream errors by reason, checkpoint age",
        kind: Kind::TimeSeries,
        unit: "short",
        queries: &[
            (
                "sum by (reason) (increase(vouch_proxy_upstream_errors_total[5m]))",
                "{{reason}}",
            ),
            (
                "max(vouch_proxy_checkpoint_age_seconds)",
                "checkpoint age (s)",
            ),
        ],
    },
    PanelDef {
        title: "Services up",
        kind: Kind::TimeSeries,
        unit: "short",
        queries: &[("up{job=~\"vouch-.*\"}", "{{job}}")],
    },
];

const DEBUG: &[PanelDef] = &[
    PanelDef {
        title: "Log batch integration time",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[(
            "histogram_quantile(0.99, sum by (le) (rate(vouch_log_integration_seconds_bucket[5m])))",
            "p99",
        )],
    },
    PanelDef {
        title: "CA issuance latency",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[(
            "histogram_quantile(0.99, sum by (le) (rate(vouch_ca_issuance_duration_seconds_bucket[5m])))",
            "p99",
        )],
    },
    PanelDef {
        title: "TSA latency",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[(
            "histogram_quantile(0.99, sum by (le) (rate(vouch_tsa_timestamp_request_duration_seconds_bucket[5m])))",
            "p99",
        )],
    },
    PanelDef {
        title: "Proof retrieval time by format",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[
            (
                "histogram_quantile(0.5, sum by (le, format) (rate(vouch_proxy_proof_duration_seconds_bucket[5m])))",
                "p50 {{format}}",
            ),
            (
                "histogram_quantile(0.99, sum by (le, format) (rate(vouch_proxy_proof_duration_seconds_bucket[5m])))",
                "p99 {{format}}",
            ),
        ],
    },
    PanelDef {
        title: "Cache hit rates",
        kind: Kind::TimeSeries,
        unit: "percentunit",
        queries: &[
            (
                r#"sum by (kind) (rate(vouch_proxy_cache_lookups_total{result="hit"}[5m])) / clamp_min(sum by (kind) (rate(vouch_proxy_cache_lookups_total[5m])), 1e-9)"#,
                "proxy {{kind}}",
            ),
            (
                "sum(rate(vouch_admission_cache_hits_total[5m])) / clamp_min(sum(rate(vouch_admission_cache_hits_total[5m])) + sum(rate(vouch_admission_cache_misses_total[5m])), 1e-9)",
                "admission",
            ),
        ],
    },
    PanelDef {
        title: "Admission decision latency",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[(
            "histogram_quantile(0.99, sum by (le, endpoint) (rate(vouch_admission_decision_latency_seconds_bucket[5m])))",
            "p99 {{endpoint}}",
        )],
    },
    PanelDef {
        title: "Witness add-checkpoint latency",
        kind: Kind::TimeSeries,
        unit: "s",
        queries: &[(
            "histogram_quantile(0.99, sum by (le) (rate(vouch_witness_add_checkpoint_duration_seconds_bucket[5m])))",
            "p99",
        )],
    },
];

// ---------------------------------------------------------------------------------------------
// Prometheus rule files

/// A Prometheus rule file.
#[derive(Serialize, Debug)]
pub struct RuleFile {
    /// Its groups.
    pub groups: Vec<RuleGroup>,
}

/// A rule group.
#[derive(Serialize, Debug)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Serialize, Debug, Default)]
pub struct Rule {
    /// Recorded series name (recording rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Alert name (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// PromQL.
    pub expr: String,
    /// How long the condition must hold.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The recording and alerting rules of every SLO.
pub fn rules() -> RuleFile {
    let mut recording = Vec::new();
    for slo in &SLOS {
        for w in WINDOWS {
            recording.push(Rule {
                record: Some(format!("vouch:slo_error_ratio:rate{w}")),
                expr: slo.error_ratio.replace("{w}", w),
                labels: BTreeMap::from([("slo".to_string(), slo.name.to_string())]),
                ..Rule::default()
            });
        }
    }
    let mut alerts = Vec::new();
    for slo in &SLOS {
        let budget = 1.0 - slo.objective;
        for severity in ["page", "ticket"] {
            let conds: Vec<String> = BURN_ALERTS
                .iter()
                .filter(|(s, ..)| *s == severity)
                .map(|(_, burn, long, short)| {
                    let t = burn * budget;
                    format!(
                        "({} > {t:.6} and {} > {t:.6})",
                        ratio_series(slo.name, long),
                        ratio_series(slo.name, short)
                    )
                })
                .collect();
            let camel: String = slo
                .name
                .split('_')
                .map(|p| {
                    let mut c = p.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            alerts.push(Rule {
                alert: Some(format!(
                    "Vouch{camel}ErrorBudgetBurn{}",
                    if severity == "page" { "Fast" } else { "Slow" }
                )),
                expr: conds.join(" or "),
                for_: Some(if severity == "page" { "2m" } else { "15m" }.into()),
                labels: BTreeMap::from([
                    ("severity".to_string(), severity.to_string()),
                    ("slo".to_string(), slo.name.to_string()),
                ]),
                annotations: BTreeMap::from([(
                    "summary".to_string(),
                    format!(
                        "{} is burning its error budget ({}: {})",
                        slo.name,
                        if severity == "page" {
                            "fast burn, page"
                        } else {
                            "slow burn, ticket"
                        },
                        slo.summary
                    ),
                )]),
                ..Rule::default()
            });
        }
    }
    for (name, expr, severity, for_, summary) in PLAIN_ALERTS {
        alerts.push(Rule {
            alert: Some(name.into()),
            expr: expr.into(),
            for_: (for_ != "0m").then(|| for_.to_string()),
            labels: BTreeMap::from([("severity".to_string(), severity.to_string())]),
            annotations: BTreeMap::from([("summary".to_string(), summary.to_string())]),
            ..Rule::default()
        });
    }
    RuleFile {
        groups: vec![
            RuleGroup {
                name: "vouch-slo-recording".into(),
                rules: recording,
            },
            RuleGroup {
                name: "vouch-slo-alerts".into(),
                rules: alerts,
            },
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Grafana dashboards (JSON model, schema 39)

/// A Grafana dashboard.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Stable UID (also the file name).
    pub uid: String,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Grafana JSON model version.
    pub schema_version: u32,
    /// Default time range.
    pub time: TimeRange,
    /// Refresh interval.
    pub refresh: String,
    /// Variables (the Prometheus data source).
    pub templating: Templating,
    /// Panels.
    pub panels: Vec<Panel>,
}

/// A time range.
#[derive(Serialize, Debug)]
pub struct TimeRange {
    /// From.
    pub from: String,
    /// To.
    pub to: String,
}

/// Dashboard variables.
#[derive(Serialize, Debug)]
pub struct Templating {
    /// The variables.
    pub list: Vec<Variable>,
}

/// A data source variable.
#[derive(Serialize, Debug)]
pub struct Variable {
    /// Name (`datasource`).
    pub name: String,
    /// `datasource`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `prometheus`.
    pub query: String,
}

/// A panel.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    /// Panel ID.
    pub id: u32,
    /// `stat` or `timeseries`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Title.
    pub title: String,
    /// Position.
    pub grid_pos: GridPos,
    /// Data source.
    pub datasource: DataSource,
    /// Unit and defaults.
    pub field_config: FieldConfig,
    /// Queries.
    pub targets: Vec<Target>,
}

/// Panel position.
#[derive(Serialize, Debug)]
pub struct GridPos {
    /// Height.
    pub h: u32,
    /// Width (of 24).
    pub w: u32,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// A data source reference.
#[derive(Serialize, Debug)]
pub struct DataSource {
    /// `prometheus`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `${datasource}`.
    pub uid: String,
}

/// Field configuration.
#[derive(Serialize, Debug)]
pub struct FieldConfig {
    /// Defaults.
    pub defaults: FieldDefaults,
}

/// Field defaults.
#[derive(Serialize, Debug)]
pub struct FieldDefaults {
    /// Unit.
    pub unit: String,
}

/// A Prometheus query.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// PromQL.
    pub expr: String,
    /// Legend.
    pub legend_format: String,
    /// A, B, C…
    pub ref_id: String,
}

fn dashboard(uid: &str, title: &str, defs: &[PanelDef]) -> Dashboard {
    let panels = defs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let i = u32::try_from(i).unwrap_or(0);
            Panel {
                id: i + 1,
                kind: match p.kind {
                    Kind::Stat => "stat",
                    Kind::TimeSeries => "timeseries",
                }
                .into(),
                title: p.title.into(),
                grid_pos: GridPos {
                    h: 8,
                    w: 12,
                    x: (i % 2) * 12,
                    y: (i / 2) * 8,
                },
                datasource: DataSource {
                    kind: "prometheus".into(),
                    uid: "${datasource}".into(),
                },
                field_config: FieldConfig {
                    defaults: FieldDefaults {
                        unit: p.unit.into(),
                    },
                },
                targets: p
                    .queries
                    .iter()
                    .enumerate()
                    .map(|(j, (expr, legend))| Target {
                        expr: (*expr).into(),
                        legend_format: (*legend).into(),
                        ref_id: char::from(b'A' + u8::try_from(j).unwrap_or(0)).to_string(),
                    })
                    .collect(),
            }
        })
        .collect();
    Dashboard {
        uid: uid.into(),
        title: title.into(),
        tags: vec!["vouch".into(), "sigstore".into()],
        schema_version: 39,
        time: TimeRange {
            from: "now-24h".into(),
            to: "now".into(),
        },
        refresh: "30s".into(),
        templating: Templating {
            list: vec![Variable {
                name: "datasource".into(),
                kind: "datasource".into(),
                query: "prometheus".into(),
            }],
        },
        panels,
    }
}

/// The three dashboards.
pub fn dashboards() -> Vec<Dashboard> {
    vec![
        dashboard("vouch-executive", "vouch: executive", EXECUTIVE),
        dashboard("vouch-on-call", "vouch: on-call", ON_CALL),
        dashboard("vouch-debug", "vouch: debug", DEBUG),
    ]
}

/// Every metric name an expression of the dashboards or rules refers to: `vouch_*` names (as
/// exposed, histogram suffixes included), `vouch:*` recorded series, and `up`.
pub fn referenced_metrics() -> std::collections::BTreeSet<String> {
    let mut exprs: Vec<String> = dashboards()
        .iter()
        .flat_map(|d| {
            d.panels
                .iter()
                .flat_map(|p| p.targets.iter().map(|t| t.expr.clone()))
        })
        .collect();
    for g in rules().groups {
        exprs.extend(g.rules.into_iter().map(|r| r.expr));
    }
    let mut out = std::collections::BTreeSet::new();
    for e in exprs {
        let bytes = e.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
            if ident(bytes[i]) && (i == 0 || !ident(bytes[i - 1])) {
                let start = i;
                while i < bytes.len() && ident(bytes[i]) {
                    i += 1;
                }
                let word = &e[start..i];
                // Inside a label matcher's quotes names are values, not metrics.
                let quoted = e[..start].matches('"').count() % 2 == 1;
                if !quoted
                    && (word.starts_with("vouch_") || word.starts_with("vouch:") || word == "up")
                {
                    out.insert(word.to_string());
                }
            } else {
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slo_has_recordings_and_two_alerts() {
        let r = rules();
        assert_eq!(r.groups[0].rules.len(), SLOS.len() * WINDOWS.len());
        // Every series an alert reads is recorded.
        let recorded: std::collections::BTreeSet<String> = r.groups[0]
            .rules
            .iter()
            .map(|x| {
                ratio_series(
                    &x.labels["slo"],
                    x.record
                        .as_deref()
                        .unwrap_or_default()
                        .trim_start_matches("vouch:slo_error_ratio:rate"),
                )
            })
            .collect();
        for a in &r.groups[1].rules {
            for s in SLOS
                .iter()
                .flat_map(|s| WINDOWS.iter().map(move |w| ratio_series(s.name, w)))
            {
                if a.expr.contains(&s) {
                    assert!(recorded.contains(&s), "{s}");
                }
            }
        }
        assert!(r.groups[1].rules.len() >= SLOS.len() * 2);
        let names = referenced_metrics();
        assert!(names.contains("vouch_proxy_proof_duration_seconds_bucket"));
        assert!(names.contains("up"));
        assert!(!names.contains("vouch_cli"));
    }
}
