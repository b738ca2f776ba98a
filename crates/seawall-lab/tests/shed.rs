//! The overload scenarios state their capacity, and the default shedding layer holds
//! goodput at capacity where no shedding collapses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn overload_scenarios_state_capacity_and_shedding_holds_goodput() {
    let report = seawall_lab::run(
        &["overload-5x".to_string(), "capacity-halves".to_string()],
        1,
    )
    .unwrap();
    let five = &report.scenarios[0];
    let capacity = five.capacity_rps.unwrap();
    assert!((capacity - 956.0).abs() < 0.1, "{capacity}");
    assert!(
        five.capacity_series.is_empty(),
        "constant capacity has no series"
    );
    let goodput = |stack: &str| {
        let r = five.results.iter().find(|r| r.stack == stack).unwrap();
        r.summary.goodput_rps / capacity
    };
    assert!(goodput("none") < 0.1);
    assert!(goodput("Seawall shed Windowed<Vegas> (default)") > 0.95);

    let halves = &report.scenarios[1];
    let series = &halves.capacity_series;
    assert!(series[14] > 1900.0 && series[15] < 960.0, "{series:?}");
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["scenarios"][1]["capacity_rps"].as_f64().unwrap() > 1900.0);
    assert!(json["scenarios"][1]["capacity_series"].is_array());
}
