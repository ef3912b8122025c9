//! `cargo xtask ddp-check`: data-parallel training under MPI (`mpirun -np 2`), on the CPU
//! and the GPU device: the checks of tests/distributed.rs (two ranks give one process's
//! per-step losses, collectives, mismatched models), a failing or panicking rank ending the
//! job with its message instead of a hang, and the digits demo with `--distributed` giving
//! the single-process run's final line.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Ranks every check runs with.
const RANKS: &str = "2";
/// Longest a failing-rank job may take to end (a hang would take forever).
const FAILURE_DEADLINE: Duration = Duration::from_secs(60);
/// Longest the main checks may take.
const CHECKS_DEADLINE: Duration = Duration::from_secs(900);

pub fn ddp_check() -> Result<()> {
    let mpirun = MpiRun::find()?;
    let checks = build_checks()?;

    // The checks program reports one `ddp: <name> ok|FAILED` line per check (rank 0).
    let run = mpirun.run(&[&checks], CHECKS_DEADLINE)?;
    print!("{}", run.stdout);
    let reported = run.stdout.lines().filter(|l| l.starts_with("ddp: ")).count();
    let failures = run.stdout.lines().filter(|l| l.starts_with("ddp: ") && l.contains(" FAILED")).count();
    let (mut passed, mut failed) = (reported - failures, failures);
    let mut tally = |name: &str, outcome: Result<()>| match outcome {
        Ok(()) => {
            println!("ddp: {name} ok");
            passed += 1;
        }
        Err(e) => {
            println!("ddp: {name} FAILED: {e:#}");
            failed += 1;
        }
    };
    if run.status.is_none_or(|s| !s.success()) && failures == 0 {
        tally("the checks program", Err(anyhow::anyhow!("ended badly ({})\n{}", run.said(), run.stderr)));
    }

    for (mode, message) in [
        ("fail-on-rank-1", "Error on rank 1 of 2: rank 1 fails on purpose"),
        ("panic-on-rank-1", "rank 1 panics on purpose"),
    ] {
        let outcome = mpirun.run(&[&checks, mode], FAILURE_DEADLINE).and_then(|run| {
            anyhow::ensure!(run.status.is_some(), "the job hung ({})", run.said());
            anyhow::ensure!(!run.status.unwrap().success(), "the job succeeded");
            anyhow::ensure!(run.stderr.contains(message), "no `{message}` in its output:\n{}", run.stderr);
            Ok(())
        });
        tally(&format!("{mode} ends the job with rank 1's message"), outcome);
    }

    tally("mnist --distributed gives the one-process final line", demo_matches(&mpirun));
    println!("ddp: {passed} passed, {failed} failed");
    anyhow::ensure!(failed == 0, "ddp-check: {failed} failed");
    Ok(())
}

/// Builds tests/distributed.rs (`--features distributed`) and returns its executable.
fn build_checks() -> Result<String> {
    let args = ["test", "--features", "wgrad/distributed", "--test", "distributed", "--no-run"];
    eprintln!("$ cargo {}", args.join(" "));
    let out = Command::new("cargo")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("starting cargo")?;
    anyhow::ensure!(out.status.success(), "building the distributed checks failed (is an MPI library installed?)");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "distributed" {
            if let Some(exe) = msg["executable"].as_str() {
                return Ok(exe.to_string());
            }
        }
    }
    bail!("cargo built no executable for tests/distributed.rs")
}

/// The digits demo, one epoch on a slice on the CPU, alone and as 2 ranks: the same
/// `final:` line but for the time, printed once.
fn demo_matches(mpirun: &MpiRun) -> Result<()> {
    crate::run("cargo", &["build", "--quiet", "--features", "wgrad/distributed", "--example", "mnist"])?;
    let demo = crate::root().join("target/debug/examples/mnist");
    let demo = demo.to_string_lossy();
    let out = std::env::temp_dir().join(format!("wgrad-ddp-{}", std::process::id()));
    let finals = |distributed: bool| -> Result<Vec<String>> {
        let dir = out.join(if distributed { "ranks" } else { "alone" });
        let dir = dir.to_string_lossy();
        let mut args = vec![&*demo, "--dataset", "digits", "--limit", "1024", "--epochs", "1", "--device", "cpu"];
        args.extend(["--check-loss-falls", "--out", &dir]);
        let run = if distributed {
            args.push("--distributed");
            mpirun.run(&args, CHECKS_DEADLINE)?
        } else {
            Run::of(&args, CHECKS_DEADLINE)?
        };
        anyhow::ensure!(
            run.status.is_some_and(|s| s.success()),
            "{} ended badly ({})\n{}",
            args.join(" "),
            run.said(),
            run.stderr
        );
        // The time differs from run to run; the rest must not.
        let without_time = |l: &str| l.split(" seconds=").next().unwrap_or(l).to_string();
        Ok(run.stdout.lines().filter(|l| l.starts_with("final:")).map(without_time).collect())
    };
    let (alone, ranks) = (finals(false)?, finals(true)?);
    let _ = std::fs::remove_dir_all(&out);
    anyhow::ensure!(alone.len() == 1, "alone: {} final lines", alone.len());
    anyhow::ensure!(ranks == alone, "2 ranks printed {ranks:?}, alone {alone:?}");
    println!("  {}", alone[0]);
    Ok(())
}

/// `mpirun` with the flags this MPI needs to start 2 ranks anywhere (as root, on 2 cores,
/// in a container).
struct MpiRun {
    flags: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
}

impl MpiRun {
    fn find() -> Result<MpiRun> {
        let version = Command::new("mpirun").arg("--version").output().map_err(|_| {
            anyhow::anyhow!(
                "ddp-check needs MPI's mpirun: on Debian/Ubuntu apt-get install openmpi-bin libopenmpi-dev libclang-dev"
            )
        })?;
        let open_mpi = String::from_utf8_lossy(&version.stdout).contains("Open MPI");
        // Open MPI refuses root and more ranks than cores unless told; MPICH needs neither flag.
        let flags = if open_mpi { vec!["--allow-run-as-root", "--oversubscribe"] } else { vec![] };
        // Its shared-memory transport copies between processes with ptrace-like calls that
        // containers often forbid; plain shared-memory copies work everywhere.
        let env = if open_mpi { vec![("OMPI_MCA_btl_vader_single_copy_mechanism", "none")] } else { vec![] };
        Ok(MpiRun { flags, env })
    }

    fn run(&self, program: &[&str], deadline: Duration) -> Result<Run> {
        let mut args = vec!["mpirun"];
        args.extend(&self.flags);
        args.extend(["-np", RANKS]);
        args.extend(program);
        Run::with_env(&args, &self.env, deadline)
    }
}

/// A finished (or killed) command's outcome.
struct Run {
    /// None when it ran past its deadline and was killed.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

impl Run {
    /// Runs `args` (program first), killing it after `deadline`.
    fn of(args: &[&str], deadline: Duration) -> Result<Run> {
        Self::with_env(args, &[], deadline)
    }

    /// [`Run::of`] with extra environment variables.
    fn with_env(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Result<Run> {
        eprintln!("$ {}", args.join(" "));
        let started = Instant::now();
        let mut command = Command::new(args[0]);
        command.args(&args[1..]).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own process group, so that a hung job's ranks can be killed with it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().with_context(|| format!("starting {}", args[0]))?;
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = pipe.read_to_string(&mut s);
                s
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if started.elapsed() > deadline {
                #[cfg(unix)]
                let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // A killed job's output may be held open by a straggler: not waited for.
        let (stdout, stderr) = match status {
            Some(_) => (stdout.join().unwrap_or_default(), stderr.join().unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        Ok(Run { status, stdout, stderr, seconds: started.elapsed().as_secs_f64() })
    }

    /// How it ended, for messages.
    fn said(&self) -> String {
        match self.status {
            Some(s) => format!("{s} after {:.1} s", self.seconds),
            None => format!("killed after {:.0} s", self.seconds),
        }
    }
}
