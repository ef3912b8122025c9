//! `cargo xtask demos [--quick] [--only NAME,...] [--seeds N]`: runs each demo with its
//! README flags on the CPU device, reads its `final:` line, and prints (and writes to
//! `target/demos.json`) a table beside the README's figure, flagging every difference.
//!
//! The same seed on the same machine repeats a run exactly on the CPU device (see
//! docs/DETERMINISM.md), so the run-to-run spread of one seed is zero and any difference
//! from the README beyond its printed precision means the code changed the result.
//! `--seeds N` also runs seeds 1..N-1 and reports the mean and range.

use anyhow::{bail, Context, Result};
use std::process::Command;
use std::time::Instant;

/// One demo run as the README gives it.
struct Demo {
    /// The name `--only` takes.
    name: &'static str,
    /// The example and its flags, exactly as in the README's command column.
    example: &'static str,
    flags: &'static [&'static str],
    /// The metric on the `final:` line, and whether the README gives it in percent.
    metric: &'static str,
    percent: bool,
    /// Among the short ones `--quick` runs (minutes, not half an hour).
    quick: bool,
}

const DEMOS: &[Demo] = &[
    Demo {
        name: "digits",
        example: "mnist",
        flags: &["--dataset", "digits"],
        metric: "test_accuracy",
        percent: true,
        quick: true,
    },
    Demo {
        name: "sentiment",
        example: "sentiment_lstm",
        flags: &[],
        metric: "test_accuracy",
        percent: true,
        quick: true,
    },
    Demo { name: "speaker", example: "speaker_lstm", flags: &[], metric: "test_accuracy", percent: true, quick: true },
    Demo {
        name: "transformer",
        example: "transformer",
        flags: &[],
        metric: "test_accuracy",
        percent: true,
        quick: true,
    },
    Demo { name: "mnist", example: "mnist", flags: &[], metric: "test_accuracy", percent: true, quick: false },
    Demo {
        name: "fashion",
        example: "mnist",
        flags: &["--dataset", "fashion"],
        metric: "test_accuracy",
        percent: true,
        quick: false,
    },
    Demo { name: "char_lstm", example: "char_lstm", flags: &[], metric: "val_bpc", percent: false, quick: false },
    Demo { name: "bert", example: "bert", flags: &["finetune"], metric: "test_accuracy", percent: true, quick: false },
];

impl Demo {
    /// The README's command for this demo.
    fn command(&self) -> String {
        let mut c = format!("cargo run --release --example {}", self.example);
        if !self.flags.is_empty() {
            c.push_str(" -- ");
            c.push_str(&self.flags.join(" "));
        }
        c
    }

    /// The README's figure: the first bold number in the table row whose command is
    /// exactly this demo's.
    fn readme_figure(&self, readme: &str) -> Result<f64> {
        let quoted = format!("`{}`", self.command());
        let row = readme
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&quoted))
            .with_context(|| format!("README has no demo row with {quoted}"))?;
        let bold = row.split("**").nth(1).with_context(|| format!("no **figure** in the README row of {quoted}"))?;
        bold.trim_end_matches('%').parse().with_context(|| format!("README figure `{bold}` of {quoted}"))
    }

    /// Runs the demo with `seed` on the CPU device; returns its metric as the README
    /// writes it, and the seconds it took.
    fn run(&self, seed: u64) -> Result<(f64, f64)> {
        let out = std::env::temp_dir().join(format!("wgrad-demos-{}-{}-{seed}", std::process::id(), self.name));
        let (out, seed) = (out.to_string_lossy().to_string(), seed.to_string());
        let mut args = vec!["run", "--quiet", "--release", "--example", self.example, "--"];
        args.extend(self.flags);
        args.extend(["--device", "cpu", "--seed", &seed, "--out", &out]);
        eprintln!("$ cargo {}", args.join(" "));
        let started = Instant::now();
        let output = Command::new("cargo").args(&args).output().context("starting cargo")?;
        let seconds = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&out);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "`cargo {}` failed ({}):\n{stdout}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let line = stdout.lines().find(|l| l.starts_with("final:")).context("the demo printed no final: line")?;
        let key = format!("{}=", self.metric);
        let value: f64 = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix(&key))
            .with_context(|| format!("no {key} in `{line}`"))?
            .parse()?;
        Ok((if self.percent { value * 100.0 } else { value }, seconds))
    }
}

/// Runs the demos `args` select and compares them with the README.
pub fn demos(args: &[String]) -> Result<()> {
    let (mut quick, mut only, mut seeds) = (false, None::<Vec<String>>, 1u64);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(it.next().context("--only needs NAME,...")?.split(',').map(String::from).collect()),
            "--seeds" => seeds = it.next().context("--seeds needs a number")?.parse()?,
            a => bail!(
                "unexpected argument `{a}`; usage: cargo xtask demos [--quick] [--only {}] [--seeds N]",
                DEMOS.iter().map(|d| d.name).collect::<Vec<_>>().join(",")
            ),
        }
    }
    let root = super::root();
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let chosen: Vec<&Demo> = DEMOS
        .iter()
        .filter(|d| only.as_ref().map_or(!quick || d.quick, |names| names.iter().any(|n| n == d.name)))
        .collect();
    if let Some(names) = &only {
        for n in names {
            anyhow::ensure!(DEMOS.iter().any(|d| d.name == n), "unknown demo `{n}`");
        }
    }
    let mut rows = Vec::new();
    let mut differ = Vec::new();
    for demo in chosen {
        let readme_value = demo.readme_figure(&readme)?;
        let mut values = Vec::new();
        let mut seconds = 0.0;
        for seed in 0..seeds {
            let (v, s) = demo.run(seed)?;
            values.push(v);
            seconds += s;
        }
        // The README prints two decimals: seed 0 must give the same figure.
        let same = (values[0] - readme_value).abs() < 0.005 + 1e-9;
        if !same {
            differ.push(demo.name);
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        rows.push(serde_json::json!({
            "demo": demo.name,
            "command": demo.command(),
            "metric": demo.metric,
            "readme": readme_value,
            "seed0": values[0],
            "seeds": values,
            "mean": mean,
            "min": lo,
            "max": hi,
            "seconds": seconds,
            "matches_readme": same,
        }));
    }
    println!("| demo | metric | README | seed 0 | mean over {seeds} seed(s) | range | seconds | |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2}-{:.2} | {:.0} | {} |",
            r["demo"].as_str().unwrap_or(""),
            r["metric"].as_str().unwrap_or(""),
            r["readme"].as_f64().unwrap_or(0.0),
            r["seed0"].as_f64().unwrap_or(0.0),
            r["mean"].as_f64().unwrap_or(0.0),
            r["min"].as_f64().unwrap_or(0.0),
            r["max"].as_f64().unwrap_or(0.0),
            r["seconds"].as_f64().unwrap_or(0.0),
            if r["matches_readme"].as_bool() == Some(true) { "ok" } else { "DIFFERS" }
        );
    }
    let json = root.join("target").join("demos.json");
    std::fs::create_dir_all(json.parent().expect("target/")).ok();
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)
        .with_context(|| format!("writing {}", json.display()))?;
    eprintln!("xtask demos: wrote {}", json.display());
    if !differ.is_empty() {
        bail!("{} differ from the README: {}", differ.len(), differ.join(", "));
    }
    Ok(())
}
