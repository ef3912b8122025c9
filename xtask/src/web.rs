//! `cargo xtask web [--serve | --test | --screenshot PNG]`: builds the digits page
//! (crates/wgrad-web) into `target/web/site/`, then serves it on the loopback address, or
//! tests it in headless Chromium, or photographs it drawing and classifying a digit.
//!
//! The browser test loads the page twice, with WebGPU and with WebGPU disabled (the page
//! falls back to wgrad's CPU backend), and compares what the page computes (the
//! checkpoint's probabilities of 100 held-out digits, a fresh CNN's first 20 losses) with
//! the same code run natively on the CPU, to 1e-4.

use crate::{root, run};
use anyhow::{bail, Context, Result};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What the page must match the native run to (absolute).
const TOLERANCE: f64 = 1e-4;
/// Longest wait for one page load to report.
const PAGE_TIMEOUT: Duration = Duration::from_secs(600);
const TARGET: &str = "wasm32-unknown-unknown";

pub fn web(args: &[String]) -> Result<()> {
    let site = build()?;
    match args.first().map(String::as_str) {
        None => {
            eprintln!("web: the page is in {}; `cargo xtask web --serve` serves it", site.display());
            Ok(())
        }
        Some("--serve") => {
            let server = Server::start(&site, 8000)?;
            eprintln!("web: open http://{} (Ctrl-C stops)", server.address);
            loop {
                std::thread::park();
            }
        }
        Some("--test") => test(&site),
        Some("--screenshot") => screenshot(&site, Path::new(args.get(1).map_or("target/web/page.png", String::as_str))),
        Some(other) => bail!("cargo xtask web: unknown option {other} (--serve, --test or --screenshot PNG)"),
    }
}

/// Builds everything the page loads into `target/web/site/` and returns that directory:
/// the WebAssembly module and its bindings (`pkg/`), the page, the `mnist` demo's digits
/// checkpoint (trained once, cached in `target/web/mnist/`), the digits and the native
/// reference (`web_assets`). The native programs run in the dev profile with CI's
/// features ([`crate::cargo_args`]), so CI builds the library for the host only once; the
/// page's module is a release build.
fn build() -> Result<PathBuf> {
    let root = root();
    let site = root.join("target/web/site");
    let demo_out = root.join("target/web/mnist");
    let checkpoint = demo_out.join("mnist_cnn.safetensors");
    if !checkpoint.is_file() {
        eprintln!("web: training the digits CNN for the page with the mnist demo (once)");
        let demo_out = demo_out.display().to_string();
        let demo = ["run", "--example", "mnist", "--"];
        let flags = ["--dataset", "digits", "--epochs", "3", "--device", "cpu", "--out", &demo_out];
        run("cargo", &crate::cargo_args(&[&demo[..], &flags[..]].concat()))?;
    }
    let (checkpoint_arg, site_arg) = (checkpoint.display().to_string(), site.display().to_string());
    // Built with the whole workspace selected and an example beside it (so dev-dependencies
    // count in feature resolution), as `cargo test --workspace` builds: every dependency
    // gets the same features and nothing is compiled a second time (wgrad-web alone, or
    // the workspace without an example, rebuilt the GPU stack and the GEMM crates in CI).
    let build = ["build", "--workspace", "--bin", "web_assets", "--example", "device_info"];
    run("cargo", &crate::cargo_args(&build))?;
    let assets = root.join("target/debug/web_assets").display().to_string();
    run(&assets, &["--checkpoint", &checkpoint_arg, "--out", &site_arg])?;
    crate::ensure_target(TARGET)?;
    run("cargo", &["build", "--release", "--target", TARGET, "-p", "wgrad-web", "--lib"])?;
    let bindgen = wasm_bindgen()?;
    let module = root.join("target").join(TARGET).join("release/wgrad_web.wasm");
    let pkg = site.join("pkg").display().to_string();
    run(&bindgen, &["--target", "web", "--no-typescript", "--out-dir", &pkg, &module.display().to_string()])?;
    for file in ["index.html", "app.js"] {
        std::fs::copy(root.join("crates/wgrad-web/www").join(file), site.join(file))
            .with_context(|| format!("copying the page's {file}"))?;
    }
    Ok(site)
}

/// The wasm-bindgen command-line tool of exactly the version in Cargo.lock (the tool and
/// the library must agree), installed with `cargo install` when missing or different (not
/// `--locked`: a dependency its lock file pins has since been withdrawn from the registry;
/// `--debug`: it builds in half the time and still prepares the module in about a second).
fn wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let version = lock
        .split("[[package]]")
        .find_map(|p| {
            p.contains("name = \"wasm-bindgen\"\n").then(|| p.split("version = \"").nth(1)?.split('"').next())
        })
        .flatten()
        .context("Cargo.lock has no wasm-bindgen package")?
        .to_string();
    let installed = Command::new("wasm-bindgen").arg("--version").output();
    if !installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("wasm-bindgen {version}")) {
        run("cargo", &["install", "wasm-bindgen-cli", "--version", &version, "--debug"])?;
    }
    Ok("wasm-bindgen".into())
}

/// A static file server on 127.0.0.1 for the page, which also takes the page's test
/// report (`POST /report`) and hands it to [`Server::reports`].
struct Server {
    address: String,
    reports: mpsc::Receiver<String>,
}

impl Server {
    /// Serves `dir` on `port` (0: any free port) from a background thread.
    fn start(dir: &Path, port: u16) -> Result<Server> {
        let http =
            tiny_http::Server::http(("127.0.0.1", port)).map_err(|e| anyhow::anyhow!("serving the page: {e}"))?;
        let address = http.server_addr().to_ip().context("a TCP address")?.to_string();
        let (sender, reports) = mpsc::channel();
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            // Requests for `/wait` are answered when the next report arrives (a screenshot
            // waits for the page this way; see app.js).
            let mut waiting = Vec::new();
            for mut request in http.incoming_requests() {
                match request.url() {
                    "/wait" => waiting.push(request),
                    "/report" => {
                        let mut body = String::new();
                        let _ = request.as_reader().read_to_string(&mut body);
                        let _ = sender.send(body);
                        for r in std::iter::once(request).chain(waiting.drain(..)) {
                            let _ = r.respond(tiny_http::Response::from_data(Vec::new()));
                        }
                    }
                    url => {
                        let response = file_response(&dir, url);
                        let _ = request.respond(response);
                    }
                }
            }
        });
        Ok(Server { address, reports })
    }
}

/// The file at `url` under `dir` (no `..`, query ignored) with its content type, or 404.
fn file_response(dir: &Path, url: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let path = url.split('?').next().unwrap_or("/").trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = dir.join(path);
    match std::fs::read(&file) {
        Ok(bytes) if !path.split('/').any(|p| p == "..") => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                _ => "application/octet-stream",
            };
            let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
            tiny_http::Response::from_data(bytes).with_header(header)
        }
        _ => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
    }
}

/// Chromium's command (`CHROMIUM` overrides the name).
fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Headless Chromium with WebGPU on (its software adapter here) or switched off.
fn browser(webgpu: bool, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args(["--headless=new", "--no-sandbox", "--enable-logging=stderr"]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    if webgpu {
        cmd.arg("--enable-unsafe-webgpu");
    } else {
        cmd.arg("--disable-features=WebGPU");
    }
    cmd
}

/// What one page load reported: whether it computed on WebGPU, and its report.
struct PageRun {
    webgpu: bool,
    report: wgrad_web_report::Report,
}

/// The report's fields, as `wgrad_web::Report` writes them (xtask does not build the library).
mod wgrad_web_report {
    #[derive(serde::Deserialize)]
    pub struct Report {
        pub device: String,
        pub probabilities: Vec<f64>,
        pub losses: Vec<f64>,
    }
}

/// Loads `url` in headless Chromium and waits for the page's report.
fn load_page(server: &Server, url: &str, webgpu: bool) -> Result<PageRun> {
    let profile = tempfile::tempdir()?;
    let log = root().join(format!("target/web/chromium-{}.log", if webgpu { "webgpu" } else { "cpu" }));
    // With a debugging port the headless browser stays open until it is killed.
    let mut child = browser(webgpu, profile.path())
        .arg("--remote-debugging-port=0")
        .arg(url)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {} (Debian: apt-get install chromium)", chromium()))?;
    let body = server.reports.recv_timeout(PAGE_TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    let body =
        body.with_context(|| format!("the page sent no report within {PAGE_TIMEOUT:?}; see {}", log.display()))?;
    // Kept beside the browser's log, to compare the page's numbers with reference.json.
    std::fs::write(log.with_extension("json"), &body)?;
    let value: serde_json::Value = serde_json::from_str(&body).context("the page's report is not JSON")?;
    if let Some(error) = value.get("error") {
        bail!("the page failed: {error} (browser log: {})", log.display());
    }
    Ok(PageRun {
        webgpu: value["webgpu"].as_bool().context("report without webgpu")?,
        report: serde_json::from_value(value["report"].clone()).context("a report of another shape")?,
    })
}

/// The largest |a - b| and where, or a message when the lengths differ.
fn worst(a: &[f64], b: &[f64]) -> std::result::Result<(usize, f64), String> {
    if a.len() != b.len() || a.is_empty() {
        return Err(format!("{} values in the page, {} natively", a.len(), b.len()));
    }
    Ok(a.iter().zip(b).map(|(x, y)| (x - y).abs()).enumerate().fold((0, 0.0), |m, (i, d)| {
        if d > m.1 || d.is_nan() {
            (i, d)
        } else {
            m
        }
    }))
}

/// The predicted class of each row of 10 probabilities.
fn classes(p: &[f64]) -> Vec<usize> {
    p.chunks(10).map(|row| (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b })).collect()
}

/// `cargo xtask web --test`: the page with WebGPU and without, against the native run.
fn test(site: &Path) -> Result<()> {
    let native: wgrad_web_report::Report = serde_json::from_str(&std::fs::read_to_string(site.join("reference.json"))?)
        .context("reading reference.json")?;
    let server = Server::start(site, 0)?;
    let url = format!("http://{}/index.html?test", server.address);
    let (mut passed, mut failed) = (0, 0);
    let mut check = |name: String, outcome: std::result::Result<String, String>| match outcome {
        Ok(what) => {
            passed += 1;
            eprintln!("web: ok      {name}: {what}");
        }
        Err(why) => {
            failed += 1;
            eprintln!("web: FAILED  {name}: {why}");
        }
    };
    for webgpu in [true, false] {
        let label = if webgpu { "WebGPU" } else { "WebGPU disabled" };
        let started = std::time::Instant::now();
        let page = match load_page(&server, &url, webgpu) {
            Ok(page) => page,
            Err(e) => {
                check(format!("{label}: the page loads and reports"), Err(format!("{e:#}")));
                continue;
            }
        };
        let (device, seconds) = (page.report.device.clone(), started.elapsed().as_secs_f64());
        check(
            format!("{label}: the page computes on {}", if webgpu { "WebGPU" } else { "the CPU backend" }),
            if page.webgpu == webgpu {
                Ok(format!("{device} ({seconds:.1} s)"))
            } else {
                Err(format!("it used {device}"))
            },
        );
        let (p, q) = (&page.report.probabilities, &native.probabilities);
        check(
            format!("{label}: probabilities of {} held-out digits equal the native CPU's", q.len() / 10),
            match worst(p, q) {
                Ok((_, d)) if d <= TOLERANCE && classes(p) == classes(q) => {
                    Ok(format!("same {} predictions, max |diff| {d:.1e}", q.len() / 10))
                }
                Ok((i, d)) if d <= TOLERANCE => {
                    Err(format!("the predicted classes differ (max |diff| {d:.1e} at {i})"))
                }
                Ok((i, d)) => Err(format!("value {i}: {} in the page, {} natively (|diff| {d:.1e})", p[i], q[i])),
                Err(e) => Err(e),
            },
        );
        let (l, m) = (&page.report.losses, &native.losses);
        check(
            format!("{label}: {} training losses equal the native CPU's", m.len()),
            match worst(l, m) {
                Ok((_, d)) if d <= TOLERANCE => Ok(format!(
                    "step 1 {:.6} vs {:.6}, step {} {:.6} vs {:.6}, max |diff| {d:.1e}",
                    l[0],
                    m[0],
                    l.len(),
                    l[l.len() - 1],
                    m[m.len() - 1]
                )),
                Ok((i, d)) => Err(format!("step {}: {} in the page, {} natively (|diff| {d:.1e})", i + 1, l[i], m[i])),
                Err(e) => Err(e),
            },
        );
    }
    println!("web: {passed} passed, {failed} failed");
    anyhow::ensure!(failed == 0, "the browser test failed");
    Ok(())
}

/// `cargo xtask web --screenshot PNG`: the page drawing a seven with scripted strokes,
/// classifying it and training a fresh CNN for 40 steps, photographed by headless
/// Chromium on WebGPU.
fn screenshot(site: &Path, png: &Path) -> Result<()> {
    let server = Server::start(site, 0)?;
    let profile = tempfile::tempdir()?;
    let png = std::path::absolute(png)?;
    let status = browser(true, profile.path())
        .args(["--window-size=1100,520", "--virtual-time-budget=60000"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("http://{}/index.html?draw&train=40", server.address))
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("starting {}", chromium()))?;
    anyhow::ensure!(status.success() && png.is_file(), "Chromium wrote no screenshot ({status})");
    eprintln!("web: screenshot in {}", png.display());
    Ok(())
}
