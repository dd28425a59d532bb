//! A self-contained HTML report: inline CSS and SVG charts, no script, no external asset.

use crate::report::{Report, verdict_name};
use crate::summary::{Coverage, Ratio};
use std::fmt::Write as _;

pub use vouch_core::encoding::html_escape as escape;

const METRICS: [(&str, &str); 4] = [
    ("signed", "#2b6cb0"),
    ("provenance", "#2f855a"),
    ("SBOM", "#b7791f"),
    ("policy pass", "#6b46c1"),
];

fn metrics(c: &Coverage) -> Vec<Ratio> {
    vec![c.signed, c.provenance, c.sbom, c.policy_pass]
}

/// One group of a [`bar_chart`]: a label, its size (`n unit`) and one ratio per legend entry.
pub struct BarRow {
    /// The group's label.
    pub label: String,
    /// How many items the group has.
    pub n: usize,
    /// One bar per legend entry, 0–100 %.
    pub bars: Vec<Ratio>,
}

/// Horizontal grouped bars: one group per row, one bar per `legend` entry (`(name, colour)`).
pub fn bar_chart(title: &str, unit: &str, rows: &[BarRow], legend: &[(&str, &str)]) -> String {
    let label_w = 260.0;
    let bar_w = 420.0;
    let bar_h = 12.0;
    let group_h = (bar_h * legend.len() as f64).max(30.0) + 18.0;
    let height = 14.0 + group_h * rows.len() as f64 + 30.0;
    let width = label_w + bar_w + 110.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{}</title>"#,
        escape(title)
    );
    for (i, row) in rows.iter().enumerate() {
        let y0 = 10.0 + group_h * i as f64;
        let label = &row.label;
        let _ = write!(
            s,
            r##"<text x="0" y="{}" font-size="12">{}</text><text x="0" y="{}" font-size="11" fill="#555">{} {}</text>"##,
            y0 + 20.0,
            escape(if label == "." { "(top level)" } else { label }),
            y0 + 36.0,
            row.n,
            escape(unit)
        );
        for (j, (r, (name, color))) in row.bars.iter().zip(legend).enumerate() {
            let y = y0 + j as f64 * bar_h;
            let w = (r.ratio * bar_w).max(0.0);
            let _ = write!(
                s,
                r##"<rect x="{label_w}" y="{y}" width="{bar_w}" height="{h}" fill="#edf2f7"/><rect x="{label_w}" y="{y}" width="{w:.1}" height="{h}" fill="{color}"><title>{name}: {}</title></rect><text x="{}" y="{}" font-size="10">{name} {:.0}%</text>"##,
                escape(&r.display()),
                label_w + bar_w + 6.0,
                y + bar_h - 2.0,
                r.ratio * 100.0,
                h = bar_h - 2.0,
            );
        }
    }
    let ly = height - 14.0;
    for (j, (name, color)) in legend.iter().enumerate() {
        let x = label_w + j as f64 * 110.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{ly}" font-size="11">{name}</text>"#,
            ly - 9.0,
            x + 14.0
        );
    }
    s.push_str("</svg>");
    s
}

fn coverage_chart(title: &str, rows: &[(String, &Coverage)]) -> String {
    let rows: Vec<BarRow> = rows
        .iter()
        .map(|(label, c)| BarRow {
            label: label.clone(),
            n: c.artifacts,
            bars: metrics(c),
        })
        .collect();
    bar_chart(title, "artifacts", &rows, &METRICS)
}

/// A line chart of one ratio over several runs (`--history`): `(label, ratio)` points.
pub fn trend_chart(title: &str, points: &[(String, f64)]) -> String {
    let (w, h, pad) = (640.0, 220.0, 40.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        s,
        r##"<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="#999"/><line x1="{pad}" y1="30" x2="{pad}" y2="{}" stroke="#999"/><text x="4" y="34" font-size="10">100%</text><text x="12" y="{}" font-size="10">0%</text>"##,
        h - pad,
        w - 10.0,
        h - pad,
        h - pad,
        h - pad
    );
    let n = points.len().max(2) as f64 - 1.0;
    let coords: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, r))| {
            (
                pad + (w - pad - 20.0) * i as f64 / n,
                (h - pad) - (h - pad - 30.0) * r.clamp(0.0, 1.0),
            )
        })
        .collect();
    let path: Vec<String> = coords
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{}"/>"##,
        path.join(" ")
    );
    for ((x, y), (label, r)) in coords.iter().zip(points) {
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#2b6cb0"><title>{}: {:.0}%</title></circle><text x="{x:.1}" y="{}" font-size="9" text-anchor="middle">{}</text>"##,
            escape(label),
            r * 100.0,
            h - pad + 14.0,
            escape(short_time(label))
        );
    }
    s.push_str("</svg>");
    s
}

/// The start of a report page: doctype, title and the one inline style sheet, up to `<body>`.
pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:24px;color:#1a202c}}table{{border-collapse:collapse;font-size:13px}}\
         td,th{{border:1px solid #cbd5e0;padding:4px 8px;text-align:left}}th{{background:#edf2f7}}\
         .deny{{color:#c53030;font-weight:bold}}.allow{{color:#2f855a}}.warn{{color:#b7791f}}.kpi{{display:inline-block;margin:0 24px 12px 0}}\
         .kpi b{{display:block;font-size:26px}}</style></head><body>",
        escape(title)
    )
}

/// A headline figure: `<b>value</b>label`.
pub fn kpi(value: &str, label: &str) -> String {
    format!(
        "<div class=\"kpi\"><b>{}</b>{}</div>",
        escape(value),
        escape(label)
    )
}

/// A page charting stored runs (`vouch audit trend`): one line chart per KPI.
pub fn trend_page(runs: &[(String, Coverage)]) -> String {
    let mut h = page_start("vouch audit trend");
    h.push_str("<h1>Verification coverage over time</h1>");
    let _ = write!(h, "<p>{} runs</p>", runs.len());
    type Pick = fn(&Coverage) -> f64;
    let kpis: [(&str, Pick); 4] = [
        ("Signed", |c| c.signed.ratio),
        ("Provenance", |c| c.provenance.ratio),
        ("SBOM", |c| c.sbom.ratio),
        ("Policy pass", |c| c.policy_pass.ratio),
    ];
    for (name, pick) in kpis {
        let points: Vec<(String, f64)> = runs.iter().map(|(t, c)| (t.clone(), pick(c))).collect();
        let _ = write!(h, "<h2>{name}</h2>");
        h.push_str(&trend_chart(name, &points));
    }
    h.push_str("</body></html>\n");
    h
}

/// `2026-12-03T15:49:15.2Z` → `12-03T15:49`.
fn short_time(t: &str) -> &str {
    t.get(5..16).unwrap_or(t)
}

/// The report as one HTML document; `trend`, when given, is `(run time, signed ratio)` from
/// earlier runs.
pub fn to_html(r: &Report, trend: &[(String, f64)]) -> String {
    let mut h = page_start("vouch audit");
    let _ = write!(
        h,
        "<h1>Verification coverage</h1><p>{} &middot; generated {}</p>",
        escape(&r.source),
        escape(&r.generated_at)
    );
    let o = &r.summary.overall;
    for (label, ratio) in [
        ("signed", o.signed),
        ("provenance", o.provenance),
        ("SBOM", o.sbom),
        ("policy pass", o.policy_pass),
        ("old keys", o.old_keys),
    ] {
        h.push_str(&kpi(
            &format!("{:.0}%", ratio.ratio * 100.0),
            &format!("{label} ({}/{})", ratio.count, ratio.total),
        ));
    }
    let mut rows: Vec<(String, &Coverage)> = vec![("overall".to_string(), o)];
    rows.extend(r.summary.by_repository.iter().map(|(k, v)| (k.clone(), v)));
    h.push_str("<h2>Coverage by repository</h2>");
    h.push_str(&coverage_chart("Coverage by repository", &rows));
    if !r.summary.by_signer.is_empty() {
        let rows: Vec<(String, &Coverage)> = r
            .summary
            .by_signer
            .iter()
            .map(|(k, v)| (k.clone(), v))
            .collect();
        h.push_str("<h2>By signer identity</h2>");
        h.push_str(&coverage_chart("By signer identity", &rows));
    }
    if trend.len() > 1 {
        h.push_str("<h2>Trend: signed artifacts over time</h2>");
        h.push_str(&trend_chart("Signed artifacts over time", trend));
    }
    h.push_str("<h2>Artifacts</h2><table><tr><th>artifact</th><th>signed by</th><th>provenance</th><th>SBOM</th><th>policy</th><th>verdict</th><th>reason</th></tr>");
    for a in &r.artifacts {
        let signers: Vec<String> = a.signers.iter().map(|s| s.label()).collect();
        let v = verdict_name(a.verdict);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
            escape(&a.name),
            escape(&signers.join(", ")),
            if a.old_keys { " (old keys)" } else { "" },
            if a.has_provenance() {
                "valid"
            } else if a.provenance.present {
                "present, not valid for this digest"
            } else {
                "-"
            },
            if a.sbom { "yes" } else { "-" },
            escape(&a.policies.join(", ")),
            escape(a.reason.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<img src="x" onerror='a&b'>"#),
            "&lt;img src=&quot;x&quot; onerror=&#39;a&amp;b&#39;&gt;"
        );
        assert_eq!(short_time("2026-12-03T15:49:15.2Z"), "12-03T15:49");
    }
}
