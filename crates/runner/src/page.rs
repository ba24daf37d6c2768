//! report.html for a run: what `lightcone_report` draws, from the run's
//! report (verdict, problems, results.json) and its history.

use lightcone_history::History;
use lightcone_report::{render_to, ReportInput};

use crate::report::RunReport;

/// Writes the page of a finished run to `out` (a buffered file).
pub fn write_run_page(
    out: &mut dyn std::io::Write,
    report: &RunReport,
    history: &History,
    workload_name: &str,
    replay: Option<String>,
    messages: Option<&lightcone_history::message_log::MessageLog>,
    queues: Option<&lightcone_report::QueueSeries>,
) -> std::io::Result<()> {
    let r = &report.results;
    let results = serde_json::to_value(r).expect("results serialize");
    let ops = &r.stats.details.all;
    let mut figures = vec![
        (
            "operations".to_string(),
            format!(
                "{} ({} ok, {} fail, {} info)",
                ops.count, ops.ok_count, ops.fail_count, ops.info_count
            ),
        ),
        (
            "availability".to_string(),
            format!(
                "{:.2}% of requests ok",
                r.availability.details.ok_fraction * 100.0
            ),
        ),
        ("network".to_string(), lightcone_core::net_summary(&r.net)),
        ("workload verdict".to_string(), r.workload.valid.to_string()),
        ("seed".to_string(), r.seed.to_string()),
    ];
    if r.malformed_lines.count > 0 {
        figures.push((
            "malformed lines from nodes".to_string(),
            r.malformed_lines.count.to_string(),
        ));
    }
    let workload = results.get("workload");
    let input = ReportInput {
        title: format!("{workload_name}, seed {}", r.seed),
        verdict: r.valid.to_string(),
        command_line: report.command_line.clone(),
        replay,
        problems: report.problems.clone(),
        figures,
        workload,
        messages,
        queues,
    };
    render_to(&input, history, out)
}
