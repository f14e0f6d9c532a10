//! The throughput benchmark of b2b-convert, against the emulator with Graph's documented
//! limits and 80 ± 20 ms of latency per request. In one run, side by side:
//!
//! - **apply**: the real binary converting N eligible users (planning included);
//! - **baseline**: what the published scripts do, one user at a time (GET, PATCH mail,
//!   POST invitation, GET);
//! - **ceiling**: the least time Graph's limits allow for N conversions (150 invitations
//!   per 5 s per tenant; 3,000 writes per 150 s);
//! - **plan**: the real binary planning R rows against a tenant of T users, with the
//!   requests and resource units it used and its peak memory.
//!
//! It prints a table and writes `bench/results/latest.json`. It asserts nothing: the
//! figures are the result. Run it with
//! `cargo build --release -p b2b-convert -p b2b-bench && target/release/b2b-bench`
//! (`--help` lists the sizes it takes).

mod baseline;
mod process;
mod tenant;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use graph_emulator::{EmulatorConfig, RunningEmulator, SimulationOverrides, Tenant};
use serde_json::{Value, json};

/// Graph's latency as the benchmark models it: 60 ms plus up to 40 ms of jitter.
const LATENCY_MS: u64 = 60;
const JITTER_MS: u64 = 40;

struct Args {
    users: usize,
    baseline_users: usize,
    plan_rows: usize,
    tenant_users: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        users: 2_000,
        baseline_users: 2_000,
        plan_rows: 10_000,
        tenant_users: 100_000,
    };
    let mut baseline_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!(
                "b2b-bench [--users N (2000)] [--baseline-users N (= users; fewer samples the \
                 baseline and scales it)] [--plan-rows N (10000)] [--tenant-users N (100000)]"
            );
            std::process::exit(0);
        }
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a number"))?
            .parse()
            .with_context(|| format!("{flag} needs a whole number"))?;
        match flag.as_str() {
            "--users" => args.users = value,
            "--baseline-users" => {
                args.baseline_users = value;
                baseline_given = true;
            }
            "--plan-rows" => args.plan_rows = value,
            "--tenant-users" => args.tenant_users = value,
            other => bail!("unknown option {other}; see --help"),
        }
    }
    if !baseline_given {
        args.baseline_users = args.users;
    }
    if args.plan_rows > args.tenant_users {
        bail!("--plan-rows cannot exceed --tenant-users");
    }
    Ok(args)
}

async fn emulator(users: usize) -> anyhow::Result<RunningEmulator> {
    let tenant = Tenant::from_json(&tenant::tenant_json(users), "benchmark tenant")?;
    Ok(graph_emulator::start(
        tenant,
        EmulatorConfig {
            overrides: SimulationOverrides {
                latency_ms: Some(LATENCY_MS),
                jitter_ms: Some(JITTER_MS),
                ..SimulationOverrides::default()
            },
            ..EmulatorConfig::default()
        },
    )
    .await?)
}

/// The emulator's counters: requests served, 429s among them, resource units charged.
fn counters(emulator: &RunningEmulator) -> anyhow::Result<(u64, u64, Option<u64>)> {
    let state = emulator
        .state_query("section=invitations&top=0")
        .map_err(anyhow::Error::msg)?;
    let requests = state["requestCount"].as_u64().unwrap_or(0);
    let throttled = state["requestCounts"]
        .as_array()
        .map(|counts| {
            counts
                .iter()
                .filter(|c| c["status"] == 429)
                .filter_map(|c| c["count"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    Ok((requests, throttled, state["resourceUnits"].as_u64()))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb as f64 / 1_048_576.0)
        });
    format!(
        "{cpu}, {cores} cores{memory}, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Seconds Graph's limits need at the least for `n` conversions: one invitation and
/// one write each; invitations 150 per 5 s, writes 3,000 per 150 s (a full bucket to
/// start with).
fn ceiling_seconds(n: usize) -> f64 {
    let invitations = n as f64 / 30.0;
    let writes = n.saturating_sub(3_000) as f64 / 20.0;
    invitations.max(writes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let scratch = std::env::temp_dir().join(format!("b2b-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;

    // (a) apply.
    eprintln!("apply: {} users…", args.users);
    let emu = emulator(args.users).await?;
    let url = emu.url().as_str().trim_end_matches('/').to_owned();
    std::fs::write(scratch.join("users.csv"), tenant::input_csv(args.users))?;
    let apply = process::run(
        &scratch,
        &url,
        &[
            "apply",
            "--input",
            "users.csv",
            "--yes",
            "--journal",
            "run.db",
        ],
    )?;
    let (requests, throttled, _) = counters(&emu)?;
    let users = emu
        .state_query("section=users")
        .map_err(anyhow::Error::msg)?;
    let converted = users["users"].as_array().map_or(0, |u| {
        u.iter()
            .filter(|u| u["externalUserState"] == "PendingAcceptance")
            .count()
    });
    emu.shutdown().await;

    // (b) the sequential baseline, on a fresh tenant.
    eprintln!("baseline: {} users, one at a time…", args.baseline_users);
    let emu = emulator(args.baseline_users).await?;
    let sampled = baseline::run(&emu.url(), args.baseline_users).await?;
    emu.shutdown().await;
    let baseline_seconds = sampled * args.users as f64 / args.baseline_users.max(1) as f64;

    // (c) the ceiling.
    let ceiling = ceiling_seconds(args.users);

    // (d) planning at scale.
    eprintln!(
        "plan: {} rows against {} users…",
        args.plan_rows, args.tenant_users
    );
    let loading = Instant::now();
    let emu = emulator(args.tenant_users).await?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let url = emu.url().as_str().trim_end_matches('/').to_owned();
    std::fs::write(scratch.join("rows.csv"), tenant::input_csv(args.plan_rows))?;
    let (before, _, units_before) = counters(&emu)?;
    let plan = process::run(
        &scratch,
        &url,
        &["plan", "--input", "rows.csv", "--output", "json", "-v"],
    )?;
    let (after, _, units_after) = counters(&emu)?;
    emu.shutdown().await;
    let strategy = plan
        .stderr
        .lines()
        .find_map(|l| {
            l.split_once("planning: ")
                .map(|(_, choice)| choice.trim().to_owned())
        })
        .unwrap_or_default();

    let result = json!({
        "apply": {
            "users": args.users,
            "seconds": round(apply.seconds),
            "ceiling_seconds": round(ceiling),
            "baseline_seconds": round(baseline_seconds),
            "baseline_sampled_users": args.baseline_users,
            "throttled_share": if requests == 0 { 0.0 } else { throttled as f64 / requests as f64 },
            "requests": requests,
            "failed": args.users - converted,
        },
        "plan": {
            "rows": args.plan_rows,
            "tenant_users": args.tenant_users,
            "requests": after - before,
            "resource_units": units_after.zip(units_before).map(|(a, b)| a - b),
            "seconds": round(plan.seconds),
            "peak_rss_mb": plan.peak_rss_mb.map(round),
            "strategy": strategy,
            "emulator_load_seconds": round(load_seconds),
        },
        "machine": machine(),
        "latency_ms": format!("{} ± {}", LATENCY_MS + JITTER_MS / 2, JITTER_MS / 2),
    });
    print_table(&result);
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results/latest.json");
    std::fs::write(&out, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn print_table(r: &Value) {
    let a = &r["apply"];
    let p = &r["plan"];
    let ratio = |x: &Value, y: &Value| match (x.as_f64(), y.as_f64()) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.2}", x / y),
        _ => "—".to_owned(),
    };
    println!("machine: {}; latency {} ms", r["machine"], r["latency_ms"]);
    println!(
        "| N users | apply | ceiling | apply / ceiling | 429 share | failed | sequential baseline | baseline / apply |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} s | {} s | {} | {:.2} % | {} | {} s | {} |",
        a["users"],
        a["seconds"],
        a["ceiling_seconds"],
        ratio(&a["seconds"], &a["ceiling_seconds"]),
        a["throttled_share"].as_f64().unwrap_or(0.0) * 100.0,
        a["failed"],
        a["baseline_seconds"],
        ratio(&a["baseline_seconds"], &a["seconds"]),
    );
    println!();
    println!("| plan rows | tenant users | requests | resource units | seconds | peak RSS |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} s | {} MB |",
        p["rows"],
        p["tenant_users"],
        p["requests"],
        p["resource_units"],
        p["seconds"],
        p["peak_rss_mb"]
    );
    println!("strategy: {}", p["strategy"].as_str().unwrap_or(""));
}
