//! What the admission webhook decided, from its decision log (`vouch admission serve
//! --decision-log`, or `vouch policy check --decision-log`): decisions allowed, warned and
//! denied by policy, by reason, by namespace and over time; deploys (reviews) by verdict; and
//! the exceptions: open, used, expired, with their ages.
//!
//! A decision is one image of one review; a record naming several policies counts once for
//! each of them in `by_policy`. Lines that are not decision records are counted as skipped.

use crate::html::{self, BarRow, escape};
use crate::summary::Ratio;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vouch_policy::{DecisionRecord, ExceptionSet, Verdict};

/// Decisions by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// All of them.
    pub total: usize,
    /// Admitted.
    pub allow: usize,
    /// Admitted with a warning (warn mode, an exception, no match under `warn`).
    pub warn: usize,
    /// Refused.
    pub deny: usize,
}

impl VerdictCounts {
    fn add(&mut self, v: Verdict) {
        self.total += 1;
        match v {
            Verdict::Allow => self.allow += 1,
            Verdict::Warn => self.warn += 1,
            Verdict::Deny => self.deny += 1,
        }
    }

    fn ratios(&self) -> Vec<Ratio> {
        vec![
            Ratio::of(self.allow, self.total),
            Ratio::of(self.warn, self.total),
            Ratio::of(self.deny, self.total),
        ]
    }

    fn line(&self) -> String {
        format!(
            "{} decisions: {} allowed, {} warned, {} denied",
            self.total, self.allow, self.warn, self.deny
        )
    }
}

/// The decisions of one policy, and by reason within it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PolicyCounts {
    /// By verdict.
    #[serde(flatten)]
    pub counts: VerdictCounts,
    /// By reason label.
    pub by_reason: BTreeMap<String, VerdictCounts>,
}

/// The width of the time buckets of [`DecisionsReport::over_time`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// `2026-12-03T18:00Z`.
    Hour,
    /// `2026-12-03`.
    Day,
}

impl Bucket {
    fn key(self, t: jiff::Timestamp) -> String {
        match self {
            Bucket::Hour => t.strftime("%Y-%m-%dT%H:00Z").to_string(),
            Bucket::Day => t.strftime("%Y-%m-%d").to_string(),
        }
    }
}

/// Where an exception stands at the report's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionState {
    /// Issued and not expired.
    Open,
    /// Past its expiry.
    Expired,
    /// Issued in the future.
    Pending,
    /// Its times do not parse.
    Unknown,
}

/// One exception: its state, age and uses in the log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExceptionStatus {
    /// `exc-…`.
    pub id: String,
    /// At the report's time.
    pub state: ExceptionState,
    /// Decisions in the log that used it.
    pub uses: u64,
    /// Policies it waived (in the log) or covers (from `--exceptions`).
    pub policies: Vec<String>,
    /// Who approved it.
    pub approver: String,
    /// Change ticket.
    pub ticket: String,
    /// Grant time (RFC 3339).
    pub issued_at: String,
    /// Expiry (RFC 3339).
    pub expires: String,
    /// Seconds since it was granted.
    pub age_seconds: Option<i64>,
    /// Seconds it has been (or was) open: from grant to now or to expiry.
    pub open_seconds: Option<i64>,
    /// First use in the log.
    pub first_used: Option<String>,
    /// Last use in the log.
    pub last_used: Option<String>,
}

/// Exceptions by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExceptionTotals {
    /// Open now.
    pub open: usize,
    /// Expired.
    pub expired: usize,
    /// Not yet valid.
    pub pending: usize,
    /// Used at least once in the log.
    pub used: usize,
    /// Never used in the log.
    pub unused: usize,
    /// Age of the oldest open exception.
    pub oldest_open_age_seconds: Option<i64>,
}

/// The report over one decision log.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionsReport {
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// The log read.
    pub source: String,
    /// Lines that were not decision records.
    pub skipped_lines: usize,
    /// First and last decision time.
    pub first: Option<String>,
    /// Last decision time.
    pub last: Option<String>,
    /// Every image decision.
    pub decisions: VerdictCounts,
    /// Deploys: reviews (by request uid) with the verdict of their worst image.
    pub deploys: VerdictCounts,
    /// By policy (`(no policy)` for none), with reasons.
    pub by_policy: BTreeMap<String, PolicyCounts>,
    /// By reason label.
    pub by_reason: BTreeMap<String, VerdictCounts>,
    /// By namespace (`(none)` for none).
    pub by_namespace: BTreeMap<String, VerdictCounts>,
    /// The bucket width of `over_time`.
    pub bucket: Bucket,
    /// By time bucket.
    pub over_time: BTreeMap<String, VerdictCounts>,
    /// The exceptions seen in the log and, with `--exceptions`, every loaded one.
    pub exceptions: Vec<ExceptionStatus>,
    /// Exceptions by state.
    pub exception_totals: ExceptionTotals,
}

/// The reason label of a record (written by the webhook; older `policy check` lines have
/// none).
fn reason_of(r: &DecisionRecord) -> String {
    r.reason.clone().unwrap_or_else(|| "unrecorded".into())
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Allow => 0,
        Verdict::Warn => 1,
        Verdict::Deny => 2,
    }
}

impl DecisionsReport {
    /// The report over `records` (from `source`, `skipped` lines not records), at `now`;
    /// `exceptions`, when given, adds the exceptions never used.
    pub fn new(
        source: String,
        records: &[DecisionRecord],
        skipped: usize,
        exceptions: Option<&ExceptionSet>,
        bucket: Bucket,
        now: jiff::Timestamp,
    ) -> Self {
        let mut decisions = VerdictCounts::default();
        let mut by_policy: BTreeMap<String, PolicyCounts> = BTreeMap::new();
        let mut by_reason: BTreeMap<String, VerdictCounts> = BTreeMap::new();
        let mut by_namespace: BTreeMap<String, VerdictCounts> = BTreeMap::new();
        let mut over_time: BTreeMap<String, VerdictCounts> = BTreeMap::new();
        let mut reviews: BTreeMap<String, Verdict> = BTreeMap::new();
        let mut exc: BTreeMap<String, ExceptionStatus> = BTreeMap::new();
        let mut times: Vec<jiff::Timestamp> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            decisions.add(r.verdict);
            let reason = reason_of(r);
            let policies: Vec<&str> = if r.policies.is_empty() {
                vec!["(no policy)"]
            } else {
                r.policies.iter().map(String::as_str).collect()
            };
            for p in policies {
                let pc = by_policy.entry(p.to_string()).or_default();
                pc.counts.add(r.verdict);
                pc.by_reason
                    .entry(reason.clone())
                    .or_default()
                    .add(r.verdict);
            }
            by_reason.entry(reason).or_default().add(r.verdict);
            by_namespace
                .entry(r.namespace.clone().unwrap_or_else(|| "(none)".into()))
                .or_default()
                .add(r.verdict);
            let t = r.time.parse::<jiff::Timestamp>().ok();
            if let Some(t) = t {
                times.push(t);
                over_time.entry(bucket.key(t)).or_default().add(r.verdict);
            }
            let review = r.request_uid.clone().unwrap_or_else(|| format!("#{i}"));
            reviews
                .entry(review)
                .and_modify(|v| {
                    if severity(r.verdict) > severity(*v) {
                        *v = r.verdict;
                    }
                })
                .or_insert(r.verdict);
            for u in &r.exceptions_used {
                let s = exc.entry(u.id.clone()).or_insert_with(|| ExceptionStatus {
                    id: u.id.clone(),
                    state: ExceptionState::Unknown,
                    uses: 0,
                    policies: Vec::new(),
                    approver: u.approver.clone(),
                    ticket: u.ticket.clone(),
                    issued_at: u.issued_at.clone(),
                    expires: u.expires.clone(),
                    age_seconds: None,
                    open_seconds: None,
                    first_used: None,
                    last_used: None,
                });
                s.uses += 1;
                if !s.policies.contains(&u.policy) {
                    s.policies.push(u.policy.clone());
                }
                let earlier = |a: &Option<String>, cmp: std::cmp::Ordering| {
                    a.as_deref()
                        .and_then(|x| x.parse::<jiff::Timestamp>().ok())
                        .zip(t)
                        .is_none_or(|(old, new)| new.cmp(&old) == cmp)
                };
                if earlier(&s.first_used, std::cmp::Ordering::Less) {
                    s.first_used = Some(r.time.clone());
                }
                if earlier(&s.last_used, std::cmp::Ordering::Greater) {
                    s.last_used = Some(r.time.clone());
                }
            }
        }
        if let Some(set) = exceptions {
            for e in &set.exceptions {
                exc.entry(e.id.clone()).or_insert_with(|| ExceptionStatus {
                    id: e.id.clone(),
                    state: ExceptionState::Unknown,
                    uses: 0,
                    policies: e.predicate.policies.clone(),
                    approver: e.approver.clone(),
                    ticket: e.predicate.ticket.clone(),
                    issued_at: e.predicate.issued_at.clone(),
                    expires: e.predicate.expires.clone(),
                    age_seconds: None,
                    open_seconds: None,
                    first_used: None,
                    last_used: None,
                });
            }
        }
        let mut totals = ExceptionTotals::default();
        let mut exceptions: Vec<ExceptionStatus> = exc.into_values().collect();
        for s in &mut exceptions {
            let issued = s.issued_at.parse::<jiff::Timestamp>().ok();
            let expires = s.expires.parse::<jiff::Timestamp>().ok();
            if let (Some(issued), Some(expires)) = (issued, expires) {
                s.state = if now < issued {
                    ExceptionState::Pending
                } else if now < expires {
                    ExceptionState::Open
                } else {
                    ExceptionState::Expired
                };
                s.age_seconds = Some(now.as_second() - issued.as_second());
                s.open_seconds = Some((now.min(expires).as_second() - issued.as_second()).max(0));
            }
            match s.state {
                ExceptionState::Open => {
                    totals.open += 1;
                    totals.oldest_open_age_seconds =
                        totals.oldest_open_age_seconds.max(s.age_seconds);
                }
                ExceptionState::Expired => totals.expired += 1,
                ExceptionState::Pending => totals.pending += 1,
                ExceptionState::Unknown => {}
            }
            if s.uses > 0 {
                totals.used += 1;
            } else {
                totals.unused += 1;
            }
        }
        let mut deploys = VerdictCounts::default();
        for v in reviews.values() {
            deploys.add(*v);
        }
        Self {
            generated_at: now.to_string(),
            source,
            skipped_lines: skipped,
            first: times.iter().min().map(ToString::to_string),
            last: times.iter().max().map(ToString::to_string),
            decisions,
            deploys,
            by_policy,
            by_reason,
            by_namespace,
            bucket,
            over_time,
            exceptions,
            exception_totals: totals,
        }
    }

    /// `N decisions: a allowed, w warned, d denied` (the summary line on stderr).
    pub fn decisions_line(&self) -> String {
        self.decisions.line()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A terminal report: totals, then one line per policy, reason, namespace and bucket, then
    /// the exceptions.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.source, self.decisions.line());
        let _ = writeln!(
            out,
            "deploys: {} reviews: {} allowed, {} warned, {} denied",
            self.deploys.total, self.deploys.allow, self.deploys.warn, self.deploys.deny
        );
        let section = |out: &mut String, title: &str, m: &BTreeMap<String, VerdictCounts>| {
            let _ = writeln!(out, "\n{title}");
            let w = m.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            for (k, c) in m {
                let _ = writeln!(
                    out,
                    "  {k:<w$}  {:>5} total  {:>5} allow  {:>5} warn  {:>5} deny",
                    c.total, c.allow, c.warn, c.deny
                );
            }
        };
        let policies: BTreeMap<String, VerdictCounts> = self
            .by_policy
            .iter()
            .map(|(k, v)| (k.clone(), v.counts))
            .collect();
        section(&mut out, "BY POLICY", &policies);
        let mut pr = BTreeMap::new();
        for (p, c) in &self.by_policy {
            for (r, v) in &c.by_reason {
                pr.insert(format!("{p} / {r}"), *v);
            }
        }
        section(&mut out, "BY POLICY / REASON", &pr);
        section(&mut out, "BY REASON", &self.by_reason);
        section(&mut out, "BY NAMESPACE", &self.by_namespace);
        section(&mut out, "OVER TIME", &self.over_time);
        let t = &self.exception_totals;
        let _ = writeln!(
            out,
            "\nEXCEPTIONS: {} open, {} expired, {} pending; {} used, {} unused",
            t.open, t.expired, t.pending, t.used, t.unused
        );
        for e in &self.exceptions {
            let _ = writeln!(
                out,
                "  {}  {:<7}  uses {:>4}  age {:<8}  open {:<8}  expires {}  policies {}  approver {}  ticket {}",
                e.id,
                state_name(e.state),
                e.uses,
                e.age_seconds.map(human).unwrap_or_else(|| "?".into()),
                e.open_seconds.map(human).unwrap_or_else(|| "?".into()),
                e.expires,
                e.policies.join(","),
                e.approver,
                e.ticket
            );
        }
        if self.skipped_lines > 0 {
            let _ = writeln!(
                out,
                "\n{} line(s) were not decision records and were skipped",
                self.skipped_lines
            );
        }
        out
    }

    /// A self-contained HTML page: headline figures, decisions by policy and by reason, the
    /// share denied over time, and the exceptions.
    pub fn to_html(&self) -> String {
        const LEGEND: [(&str, &str); 3] = [
            ("allow", "#2f855a"),
            ("warn", "#b7791f"),
            ("deny", "#c53030"),
        ];
        let mut h = html::page_start("vouch audit decisions");
        let _ = write!(
            h,
            "<h1>Admission decisions</h1><p>{} &middot; {} to {} &middot; generated {}</p>",
            escape(&self.source),
            escape(self.first.as_deref().unwrap_or("-")),
            escape(self.last.as_deref().unwrap_or("-")),
            escape(&self.generated_at)
        );
        let d = &self.decisions;
        let t = &self.exception_totals;
        for (value, label) in [
            (d.total, "decisions"),
            (d.allow, "allowed"),
            (d.warn, "warned"),
            (d.deny, "denied"),
            (self.deploys.total, "deploys"),
            (self.deploys.deny, "deploys denied"),
            (t.open, "exceptions open"),
            (t.expired, "exceptions expired"),
        ] {
            h.push_str(&html::kpi(&value.to_string(), label));
        }
        let rows = |m: &mut dyn Iterator<Item = (String, VerdictCounts)>| -> Vec<BarRow> {
            m.map(|(label, c)| BarRow {
                label,
                n: c.total,
                bars: c.ratios(),
            })
            .collect()
        };
        h.push_str("<h2>Decisions by policy</h2>");
        let by_policy = rows(&mut self.by_policy.iter().map(|(k, v)| (k.clone(), v.counts)));
        h.push_str(&html::bar_chart(
            "Decisions by policy",
            "decisions",
            &by_policy,
            &LEGEND,
        ));
        h.push_str("<h2>Decisions by reason</h2>");
        let by_reason = rows(&mut self.by_reason.iter().map(|(k, v)| (k.clone(), *v)));
        h.push_str(&html::bar_chart(
            "Decisions by reason",
            "decisions",
            &by_reason,
            &LEGEND,
        ));
        if self.over_time.len() > 1 {
            let points: Vec<(String, f64)> = self
                .over_time
                .iter()
                .map(|(k, c)| (k.clone(), Ratio::of(c.deny, c.total).ratio))
                .collect();
            h.push_str("<h2>Share denied over time</h2>");
            h.push_str(&html::trend_chart("Share of decisions denied", &points));
        }
        h.push_str("<h2>Exceptions</h2><table><tr><th>exception</th><th>state</th><th>uses</th><th>age</th><th>open for</th><th>expires</th><th>policies</th><th>approver</th><th>ticket</th></tr>");
        for e in &self.exceptions {
            let state = state_name(e.state);
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"{}\">{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.id),
                if e.state == ExceptionState::Open {
                    "warn"
                } else {
                    ""
                },
                e.uses,
                e.age_seconds.map(human).unwrap_or_default(),
                e.open_seconds.map(human).unwrap_or_default(),
                escape(&e.expires),
                escape(&e.policies.join(", ")),
                escape(&e.approver),
                escape(&e.ticket)
            );
        }
        h.push_str("</table></body></html>\n");
        h
    }
}

fn state_name(s: ExceptionState) -> &'static str {
    match s {
        ExceptionState::Open => "open",
        ExceptionState::Expired => "expired",
        ExceptionState::Pending => "pending",
        ExceptionState::Unknown => "unknown",
    }
}

/// `3d4h`, `5h12m`, `40m`, `12s`.
fn human(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vouch_policy::ExceptionUse;

    fn record(uid: &str, verdict: Verdict, policy: &str, reason: &str) -> DecisionRecord {
        DecisionRecord {
            time: "2026-12-03T10:15:00Z".into(),
            subject: "reg/app@sha256:00".into(),
            digest: "sha256:00".into(),
            namespace: Some("prod".into()),
            resource: Some("Pod/web".into()),
            request_uid: Some(uid.into()),
            verdict,
            reason: Some(reason.into()),
            policies: if policy.is_empty() {
                Vec::new()
            } else {
                vec![policy.into()]
            },
            exceptions_used: Vec::new(),
            denials: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn counts_decisions_deploys_and_exceptions() {
        let mut excepted = record("r3", Verdict::Warn, "release", "exception");
        excepted.exceptions_used.push(ExceptionUse {
            id: "exc-1".into(),
            file: "e.json".into(),
            policy: "release".into(),
            approver: "lead".into(),
            ticket: "CHG-1".into(),
            reason: "hotfix".into(),
            issued_at: "2026-12-01T10:00:00Z".into(),
            expires: "2026-12-04T10:00:00Z".into(),
        });
        let records = vec![
            record("r1", Verdict::Allow, "release", "verified"),
            record("r1", Verdict::Deny, "release", "policy-failed"),
            record("r2", Verdict::Deny, "", "no-match"),
            excepted,
        ];
        let now: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
        let r = DecisionsReport::new("log".into(), &records, 1, None, Bucket::Day, now);
        assert_eq!((r.decisions.total, r.decisions.allow), (4, 1));
        assert_eq!((r.decisions.warn, r.decisions.deny), (1, 2));
        assert_eq!((r.deploys.total, r.deploys.deny, r.deploys.warn), (3, 2, 1));
        assert_eq!(r.by_policy["release"].counts.total, 3);
        assert_eq!(r.by_policy["release"].by_reason["policy-failed"].deny, 1);
        assert_eq!(r.by_policy["(no policy)"].counts.deny, 1);
        assert_eq!(r.over_time["2026-12-03"].total, 4);
        let e = &r.exceptions[0];
        assert_eq!((e.state, e.uses), (ExceptionState::Open, 1));
        assert_eq!(e.age_seconds, Some(2 * 86_400));
        assert_eq!(r.exception_totals.open, 1);
        assert!(r.to_table().contains("EXCEPTIONS: 1 open"));
        assert!(r.to_html().contains("<svg"));
        assert_eq!(human(2 * 86_400 + 3600), "2d1h");
    }
}
