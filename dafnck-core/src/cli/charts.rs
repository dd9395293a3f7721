//! The DORA charts as SVG, day by day over a report's window: standalone
//! files (`report --svg DIR`) that the dashboard also inlines. Each bar
//! carries its figure in `data-value` (and its day in `data-day`), the
//! same number `report --json` gives in `daily`.

use std::fmt::Write as _;

use crate::dora::Day;

/// One chart: its file name and its SVG document.
pub(super) struct Chart {
    /// `deployment-frequency.svg`, ...
    pub file: &'static str,
    /// The document.
    pub svg: String,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 36.0;

/// The four charts of `days`.
pub(super) fn all(days: &[Day]) -> Vec<Chart> {
    let series = |f: fn(&Day) -> Option<f64>| days.iter().map(f).collect::<Vec<_>>();
    vec![
        Chart {
            file: "deployment-frequency.svg",
            svg: bars(
                "Deployments a day",
                "deployments",
                days,
                &series(|d| Some(d.deployments as f64)),
            ),
        },
        Chart {
            file: "lead-time.svg",
            svg: bars(
                "Lead time for changes (median, seconds)",
                "s",
                days,
                &series(|d| d.lead_time_median_seconds),
            ),
        },
        Chart {
            file: "change-failure-rate.svg",
            svg: bars(
                "Change failure rate (failed or rolled back / deployments)",
                "",
                days,
                &series(|d| d.change_failure_rate),
            ),
        },
        Chart {
            file: "time-to-restore.svg",
            svg: bars(
                "Time to restore (median, seconds)",
                "s",
                days,
                &series(|d| d.time_to_restore_median_seconds),
            ),
        },
    ]
}

/// A bar chart of `values` (one per day; `None` draws no bar).
fn bars(title: &str, unit: &str, days: &[Day], values: &[Option<f64>]) -> String {
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let plot_w = WIDTH - LEFT - 12.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / values.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><title>{t}</title><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text><line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#888"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#888"/><text x="{lx}" y="{ty}" text-anchor="end">{topl}</text><text x="{lx}" y="{y0}" text-anchor="end">0</text>"##,
        t = escape(title),
        y0 = TOP + plot_h,
        x1 = WIDTH - 12.0,
        lx = LEFT - 4.0,
        ty = TOP + 4.0,
        topl = number(top),
    );
    for (i, (day, value)) in days.iter().zip(values).enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let date = &super::output::utc(day.until.saturating_sub(1))[..10];
        if let Some(v) = value {
            let h = plot_h * v / top;
            let _ = write!(
                svg,
                r##"<rect class="bar" data-day="{date}" data-value="{v}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#3b7dd8"><title>{date}: {label}{unit}</title></rect>"##,
                y = TOP + plot_h - h,
                w = slot * 0.7,
                label = number(*v),
                unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                },
            );
        }
        // Label the first, the last and every seventh day.
        if i == 0 || i + 1 == days.len() || i % 7 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ly}" text-anchor="middle">{d}</text>"#,
                cx = x + slot * 0.35,
                ly = HEIGHT - BOTTOM + 14.0,
                d = &date[5..],
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `text` safe inside XML text and attribute values.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_day_with_a_value_and_its_figure() {
        let day = |i: u64, n: usize, lead: Option<f64>| Day {
            from: i * 86_400_000,
            until: (i + 1) * 86_400_000,
            deployments: n,
            failures: 0,
            change_failure_rate: None,
            lead_time_median_seconds: lead,
            time_to_restore_median_seconds: None,
        };
        let days = [day(0, 2, Some(90.5)), day(1, 0, None), day(2, 4, None)];
        let charts = all(&days);
        assert_eq!(charts.len(), 4);
        let freq = &charts[0].svg;
        assert_eq!(freq.matches("class=\"bar\"").count(), 3);
        assert!(
            freq.contains(r#"data-day="1970-01-03" data-value="4""#),
            "{freq}"
        );
        let lead = &charts[1].svg;
        assert_eq!(lead.matches("class=\"bar\"").count(), 1);
        assert!(lead.contains(r#"data-value="90.5""#));
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
