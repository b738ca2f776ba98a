//! The report's charts: one SVG per figure, drawn with plotters' SVG backend from a
//! scenario's per-second series and breaker state changes. Text is left to the browser (no
//! font is loaded), so a chart is a few kilobytes of plain SVG. Data lines are drawn 2 px
//! wide and nothing else is (axes, ticks, dashed lines are 1 px): the browser check in
//! `.ci/check-report.sh` tells an empty chart by that.

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{ScenarioResult, StackResult};

/// A chart's size in pixels.
const SIZE: (u32, u32) = (640, 280);

/// One colour per stack, in the scenario's order (Tableau 10).
pub(crate) const COLOURS: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x79, 0x70, 0x6e),
];

/// The stack's colour: the same in every chart of a scenario.
pub(crate) fn colour(index: usize) -> RGBColor {
    COLOURS[index % COLOURS.len()]
}

/// The fault window's shading.
const FAULT: RGBAColor = RGBAColor(0xe1, 0x57, 0x59, 0.13);

/// One chart of a scenario.
#[derive(Debug)]
pub(crate) struct Chart {
    /// What it shows, for the page (`upstream-load`, `success-rate`, …).
    pub(crate) kind: &'static str,
    /// Its title.
    pub(crate) title: &'static str,
    /// The SVG.
    pub(crate) svg: String,
}

type Drawn = Result<(), String>;

fn failed<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw a chart: {e:?}")
}

/// The seconds a chart spans: the load's duration (a series may hold a last, partial
/// second, which is left out).
fn seconds(s: &ScenarioResult) -> f64 {
    s.results
        .iter()
        .map(|r| r.summary.duration_s)
        .fold(1.0, f64::max)
        .ceil()
}

/// The upstream's capacity in second `t`, when known.
fn capacity_at(s: &ScenarioResult, t: usize) -> Option<f64> {
    s.capacity_series.get(t).copied().or(s.capacity_rps)
}

/// The spans of the run the fault is on: the outage, and the seconds the capacity is below
/// its highest.
pub(crate) fn fault_windows(s: &ScenarioResult) -> Vec<(f64, f64)> {
    let top = s.capacity_series.iter().copied().fold(0.0, f64::max);
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for (t, c) in s
        .capacity_series
        .iter()
        .enumerate()
        .take(seconds(s) as usize)
    {
        if *c < top {
            let t = t as f64;
            match spans.last_mut() {
                Some(last) if last.1 == t => last.1 = t + 1.0,
                _ => spans.push((t, t + 1.0)),
            }
        }
    }
    spans.extend(s.outage_s);
    spans
}

/// A per-second figure of one stack, plotted in the middle of its second; `None` skips it.
fn points(r: &StackResult, f: impl Fn(&seawall_sim::Second) -> Option<f64>) -> Vec<(f64, f64)> {
    r.summary
        .series
        .iter()
        .filter(|x| (x.t as f64) < r.summary.duration_s.ceil())
        .filter_map(|x| f(x).map(|y| (x.t as f64 + 0.5, y)))
        .collect()
}

/// Draws a linear chart: the fault windows shaded, one line per stack, and `extra` lines
/// in black (a dashed capacity, say).
fn linear(
    s: &ScenarioResult,
    title: &str,
    y_desc: &str,
    lines: &[Vec<(f64, f64)>],
    extra: Option<(&str, Vec<(f64, f64)>)>,
    legend: bool,
) -> Result<String, String> {
    let top = lines
        .iter()
        .chain(extra.iter().map(|(_, l)| l))
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.08 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        frame(&root)?;
        let mut chart = titled(&root, title, 56)
            .build_cartesian_2d(0f64..seconds(s), 0f64..top)
            .map_err(failed)?;
        over_seconds(&mut chart)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc(y_desc)
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(fault_shading(s, 0.0, top))
            .map_err(failed)?;
        for (i, (line, r)) in lines.iter().zip(&s.results).enumerate() {
            let style = colour(i).stroke_width(2);
            let series = chart
                .draw_series(LineSeries::new(line.iter().copied(), style))
                .map_err(failed)?;
            if legend {
                series.label(r.stack).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour(i).stroke_width(2))
                });
            }
        }
        if let Some((name, line)) = extra {
            let series = chart
                .draw_series(DashedLineSeries::new(line, 6, 4, BLACK.stroke_width(1)))
                .map_err(failed)?;
            if legend {
                series
                    .label(name)
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

fn frame(root: &DrawingArea<SVGBackend<'_>, Shift>) -> Drawn {
    root.fill(&WHITE).map_err(failed)
}

/// A chart on `root` with its title and the lab's margins; `y_area` is the width of the
/// y axis's labels.
fn titled<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    y_area: u32,
) -> ChartBuilder<'a, 'static, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(y_area);
    builder
}

/// The mesh of a chart over the run's seconds: no light lines, whole seconds on the x axis;
/// the caller adds the y axis's labels and draws it.
fn over_seconds<'a, 'b, 's, Y: Ranged<ValueType = f64> + ValueFormatter<f64>>(
    chart: &'b mut ChartContext<'a, SVGBackend<'s>, Cartesian2d<RangedCoordf64, Y>>,
) -> MeshStyle<'a, 'b, RangedCoordf64, Y, SVGBackend<'s>> {
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("seconds");
    mesh
}

/// The fault windows, shaded from `bottom` to `top`.
fn fault_shading(
    s: &ScenarioResult,
    bottom: f64,
    top: f64,
) -> impl Iterator<Item = Rectangle<(f64, f64)>> {
    fault_windows(s)
        .into_iter()
        .map(move |(a, b)| Rectangle::new([(a, bottom), (b, top)], FAULT.filled()))
}

/// Calls reaching the upstream per second, with the capacity dashed where known.
pub(crate) fn upstream_load(s: &ScenarioResult, legend: bool) -> Result<String, String> {
    let lines: Vec<_> = s
        .results
        .iter()
        .map(|r| points(r, |x| Some(x.upstream_attempts as f64)))
        .collect();
    let capacity = s.capacity_rps.map(|_| {
        let n = seconds(s) as usize;
        (0..n)
            .filter_map(|t| capacity_at(s, t).map(|c| (t as f64 + 0.5, c)))
            .collect()
    });
    linear(
        s,
        "upstream load: calls reaching the upstream per second",
        "calls / s",
        &lines,
        capacity.map(|c| ("capacity", c)),
        legend,
    )
}

/// The share of each second's requests that succeeded.
pub(crate) fn success_rate(s: &ScenarioResult) -> Result<String, String> {
    let lines: Vec<_> = s
        .results
        .iter()
        .map(|r| {
            points(r, |x| {
                (x.sent > 0).then(|| 100.0 * x.succeeded as f64 / x.sent as f64)
            })
        })
        .collect();
    linear(
        s,
        "success rate of the requests sent each second",
        "%",
        &lines,
        None,
        false,
    )
}

/// Each second's p99 (solid) and mean (dashed) latency, on a log scale.
pub(crate) fn latency(s: &ScenarioResult) -> Result<String, String> {
    let p99: Vec<_> = s
        .results
        .iter()
        .map(|r| points(r, |x| (x.sent > 0 && x.p99_ms > 0.0).then_some(x.p99_ms)))
        .collect();
    let mean: Vec<_> = s
        .results
        .iter()
        .map(|r| points(r, |x| (x.sent > 0 && x.mean_ms > 0.0).then_some(x.mean_ms)))
        .collect();
    let all = || p99.iter().chain(&mean).flatten().map(|p| p.1);
    let top = all().fold(1.0, f64::max) * 1.5;
    let bottom = all().fold(top, f64::min).max(0.1) / 1.5;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        frame(&root)?;
        let title = "latency of the requests sent each second: p99 solid, mean dashed";
        let mut chart = titled(&root, title, 56)
            .build_cartesian_2d(
                0f64..seconds(s),
                (bottom..top)
                    .log_scale()
                    .with_key_points(ticks(bottom, top)),
            )
            .map_err(failed)?;
        over_seconds(&mut chart)
            .y_label_formatter(&|y| format!("{y}"))
            .y_desc("ms (log)")
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(fault_shading(s, bottom, top))
            .map_err(failed)?;
        for (i, (p99, mean)) in p99.iter().zip(&mean).enumerate() {
            chart
                .draw_series(LineSeries::new(
                    p99.iter().copied(),
                    colour(i).stroke_width(2),
                ))
                .map_err(failed)?;
            chart
                .draw_series(DashedLineSeries::new(
                    mean.iter().copied(),
                    5,
                    4,
                    colour(i).stroke_width(1),
                ))
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Each adaptive limit per second; `None` when no stack records one.
pub(crate) fn limit(s: &ScenarioResult) -> Option<Result<String, String>> {
    if s.results.iter().all(|r| r.limit_series.is_empty()) {
        return None;
    }
    let lines: Vec<_> = s
        .results
        .iter()
        .map(|r| {
            r.limit_series
                .iter()
                .enumerate()
                .take(seconds(s) as usize)
                .map(|(t, l)| (t as f64 + 0.5, *l))
                .collect()
        })
        .collect();
    Some(linear(
        s,
        "concurrency limit in force (the last of each second)",
        "requests",
        &lines,
        None,
        false,
    ))
}

/// The 1-2-5 ticks from `bottom` to `top`, for a log axis.
fn ticks(bottom: f64, top: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(bottom.log10().floor());
    while decade <= top {
        for m in [1.0, 2.0, 5.0] {
            let t = m * decade;
            if (bottom..=top).contains(&t) {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// A breaker state's level in the breaker chart.
fn level(state: &str) -> Option<f64> {
    match state {
        "closed" => Some(0.0),
        "half_open" => Some(1.0),
        "open" => Some(2.0),
        _ => None,
    }
}

/// Each breaker's state over time, as steps; `None` when no stack has a breaker that moved.
pub(crate) fn breaker(s: &ScenarioResult) -> Option<Result<String, String>> {
    if s.results.iter().all(|r| r.breaker.is_empty()) {
        return None;
    }
    let end = seconds(s);
    let mut svg = String::new();
    let drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, 200)).into_drawing_area();
        frame(&root)?;
        let mut chart = titled(&root, "circuit breaker state", 72)
            .build_cartesian_2d(0f64..end, -0.3f64..2.3f64)
            .map_err(failed)?;
        over_seconds(&mut chart)
            .y_labels(3)
            .y_label_formatter(&|y| {
                match y.round() as i64 {
                    0 => "closed",
                    1 => "half-open",
                    2 => "open",
                    _ => "",
                }
                .to_string()
            })
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(fault_shading(s, -0.3, 2.3))
            .map_err(failed)?;
        for (i, r) in s.results.iter().enumerate() {
            if r.breaker.is_empty() {
                continue;
            }
            let mut steps = vec![(0.0, 0.0)];
            let mut now = 0.0;
            for t in &r.breaker {
                if let Some(next) = level(&t.state) {
                    steps.push((t.t_s, now));
                    steps.push((t.t_s, next));
                    now = next;
                }
            }
            steps.push((end, now));
            chart
                .draw_series(LineSeries::new(steps, colour(i).stroke_width(2)))
                .map_err(failed)?;
        }
        root.present().map_err(failed)
    })();
    Some(drawn.map(|()| svg))
}

/// Every chart of a scenario, in the page's order.
pub(crate) fn all(s: &ScenarioResult) -> Result<Vec<Chart>, String> {
    let mut charts = vec![
        Chart {
            kind: "upstream-load",
            title: "Upstream load",
            svg: upstream_load(s, false)?,
        },
        Chart {
            kind: "success-rate",
            title: "Success rate",
            svg: success_rate(s)?,
        },
        Chart {
            kind: "latency",
            title: "Latency",
            svg: latency(s)?,
        },
    ];
    if let Some(svg) = breaker(s) {
        charts.push(Chart {
            kind: "breaker",
            title: "Breaker state",
            svg: svg?,
        });
    }
    if let Some(svg) = limit(s) {
        charts.push(Chart {
            kind: "limit",
            title: "Concurrency limit",
            svg: svg?,
        });
    }
    Ok(charts)
}
