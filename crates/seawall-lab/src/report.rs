//! `--report DIR`: one self-contained HTML page (inline SVG charts, inline CSS, no script,
//! nothing fetched) with a section per scenario: its description and abandonment policy, its
//! table, a legend, and its charts over time with the fault window shaded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::charts::{self, colour};
use crate::{LabReport, ScenarioResult};

/// The page's file name in the report directory.
pub const PAGE: &str = "index.html";

/// The standalone chart written beside the page (the outage scenario's upstream load, with
/// its legend), for the README.
pub const README_CHART: &str = "outage-upstream-load.svg";

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1340px;margin:2em auto;padding:0 1em;color:#222}\
h2{border-top:1px solid #ccc;padding-top:1em}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}\
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(640px,1fr));gap:12px}\
figure{margin:0}figcaption{font-size:13px;color:#555}\
.legend span{display:inline-block;margin-right:1.2em;font-size:13px}\
.legend i{display:inline-block;width:18px;height:4px;vertical-align:middle;margin-right:4px}\
.fault{background:rgba(225,87,89,.25)}code{background:#f1f1f1;padding:0 .2em}";

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders the report as one HTML page; `command` is the command line that produced it.
///
/// # Errors
///
/// When a chart cannot be drawn (the message names it).
pub fn render(report: &LabReport, command: &str) -> Result<String, String> {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Seawall lab, seed {seed}</title><style>{STYLE}</style></head><body>\n\
         <h1>Seawall lab</h1>\n<p>Seed <b>{seed}</b>. Produced by <code>{command}</code>; the \
         same command prints the same figures. Every scenario runs in simulated (paused) \
         time; each chart plots one point per second of the run, by the second a request was \
         sent. The shaded band (<span class=\"fault\">&nbsp;&nbsp;&nbsp;</span>) is the fault \
         window: the outage, or the seconds the upstream's capacity is below its highest.</p>\n\
         <ul>",
        seed = report.seed,
        command = escape(command),
    );
    for s in &report.scenarios {
        let _ = write!(
            page,
            "<li><a href=\"#{id}\">{name}</a></li>",
            id = anchor(s.name),
            name = escape(s.name)
        );
    }
    page.push_str("</ul>\n");
    for s in &report.scenarios {
        section(&mut page, s)?;
    }
    page.push_str("</body></html>\n");
    Ok(page)
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn section(page: &mut String, s: &ScenarioResult) -> Result<(), String> {
    let charts = charts::all(s).map_err(|e| format!("scenario {}: {e}", s.name))?;
    let _ = write!(
        page,
        "<section class=\"scenario\" id=\"{id}\" data-charts=\"{n}\">\n<h2>{name}</h2>\n\
         <p>{about}</p>\n<p>Abandonment policy: <b>{policy}</b>.",
        id = anchor(s.name),
        n = charts.len(),
        name = escape(s.name),
        about = escape(&s.about),
        policy = s.abandonment,
    );
    match charts::fault_windows(s).as_slice() {
        [] => page.push_str(" No fault window."),
        windows => {
            page.push_str(" Fault window:");
            for (i, (a, b)) in windows.iter().enumerate() {
                let comma = if i > 0 { "," } else { "" };
                let _ = write!(page, "{comma} {a:.0}–{b:.0} s");
            }
            page.push('.');
        }
    }
    if s.results.iter().all(|r| r.breaker.is_empty()) {
        page.push_str(" No stack here has a breaker that changed state, so no breaker chart.");
    }
    for (i, r) in s.results.iter().enumerate() {
        if let Some(same) = s.results[..i].iter().find(|o| o.summary == r.summary) {
            let _ = write!(
                page,
                " {} saw exactly what {} saw: its lines hide the other's.",
                escape(r.stack),
                escape(same.stack)
            );
        }
    }
    if s.results.iter().any(|r| !r.limit_series.is_empty()) {
        page.push_str(
            " The limit chart has a line for each stack with an adaptive limit (Seawall's \
             shedding layer); tower's static limit and the server queue are not drawn.",
        );
    }
    page.push_str("</p>\n<pre>");
    page.push_str(&escape(&crate::table::scenario_table(s)));
    page.push_str("</pre>\n<p class=\"legend\">");
    for (i, r) in s.results.iter().enumerate() {
        let c = colour(i);
        let _ = write!(
            page,
            "<span><i style=\"background:rgb({},{},{})\"></i>{}</span>",
            c.0,
            c.1,
            c.2,
            escape(r.stack)
        );
    }
    if s.capacity_rps.is_some() {
        page.push_str("<span>- - - capacity (upstream load chart)</span>");
    }
    page.push_str("</p>\n<div class=\"charts\">\n");
    for chart in charts {
        let _ = write!(
            page,
            "<figure class=\"chart\" data-kind=\"{kind}\"><figcaption>{title}</figcaption>\n{svg}\n</figure>\n",
            kind = chart.kind,
            title = chart.title,
            svg = chart.svg.trim(),
        );
    }
    page.push_str("</div>\n</section>\n");
    Ok(())
}

/// Writes the page into `dir` (created if missing), and beside it the outage scenario's
/// upstream load chart with its legend when that scenario ran. Returns the files written.
///
/// # Errors
///
/// When the directory or a file cannot be written, or a chart cannot be drawn.
pub fn write(dir: &Path, report: &LabReport, command: &str) -> Result<Vec<PathBuf>, String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let page = dir.join(PAGE);
    std::fs::write(&page, render(report, command)?).map_err(|e| fail(&page, e))?;
    let mut written = vec![page];
    if let Some(outage) = report.scenarios.iter().find(|s| s.name == "outage") {
        let path = dir.join(README_CHART);
        let svg = charts::upstream_load(outage, true)?;
        std::fs::write(&path, svg).map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
