// The page: draws, classifies and trains through wgrad's WebAssembly module (pkg/, made
// by wasm-bindgen). URL switches: ?test runs the browser test's computations and posts
// the report to the server; ?draw draws a seven with scripted strokes and &train=N then
// trains N steps (for screenshots).
import init, { Page } from "./pkg/wgrad_web.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const status = $("status");
// A screenshot (?draw) waits for the classification: Chromium takes it after the load
// event, which waits for this image, which the server sends once the page reports.
if (params.has("draw")) {
  const hold = new Image();
  hold.src = "wait";
  hold.style.display = "none";
  document.body.appendChild(hold);
}

// ---- drawing pad: strokes in white on black, 280x280 (ten pixels per input pixel) ----
const pad = $("pad");
const ink = pad.getContext("2d");
let drawing = false;
let image = null; // the 784 input values of what is shown (a held-out digit's own pixels)

function clearPad() {
  ink.fillStyle = "#000";
  ink.fillRect(0, 0, pad.width, pad.height);
  image = null;
}

function strokeTo(x, y, start) {
  ink.strokeStyle = "#fff";
  ink.lineWidth = 22;
  ink.lineCap = ink.lineJoin = "round";
  if (start) {
    ink.beginPath();
    ink.moveTo(x, y);
  }
  ink.lineTo(x, y);
  ink.stroke();
  image = null;
}

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

// MNIST's framing: the ink's bounding box scaled to fit 20x20, centred by its centre of
// mass in a 28x28 image; values in [0, 1].
function padImage() {
  const src = ink.getImageData(0, 0, pad.width, pad.height).data;
  let [x0, y0, x1, y1] = [pad.width, pad.height, -1, -1];
  for (let y = 0; y < pad.height; y++)
    for (let x = 0; x < pad.width; x++)
      if (src[(y * pad.width + x) * 4] > 20) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  if (x1 < 0) return null; // nothing drawn
  const w = x1 - x0 + 1, h = y1 - y0 + 1, scale = 20 / Math.max(w, h);
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const s = small.getContext("2d");
  s.fillStyle = "#000";
  s.fillRect(0, 0, 28, 28);
  s.imageSmoothingEnabled = true;
  s.drawImage(pad, x0, y0, w, h, (28 - w * scale) / 2, (28 - h * scale) / 2, w * scale, h * scale);
  const boxed = s.getImageData(0, 0, 28, 28).data;
  let [mass, mx, my] = [0, 0, 0];
  for (let i = 0; i < 784; i++) {
    const v = boxed[i * 4] / 255;
    mass += v;
    mx += v * (i % 28);
    my += v * Math.floor(i / 28);
  }
  const dx = Math.round(13.5 - mx / mass), dy = Math.round(13.5 - my / mass);
  const out = new Float32Array(784);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = boxed[(sy * 28 + sx) * 4] / 255;
    }
  return out;
}

function showImage(pixels) {
  const small = new ImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(pixels[i] * 255);
    small.data.set([v, v, v, 255], i * 4);
  }
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = 28;
  tmp.getContext("2d").putImageData(small, 0, 0);
  ink.imageSmoothingEnabled = false;
  ink.drawImage(tmp, 0, 0, pad.width, pad.height);
  image = pixels;
}

// ---- probability bars ----
const bars = [];
for (let d = 0; d < 10; d++) {
  const row = document.createElement("div");
  row.className = "bar";
  row.innerHTML = `<span class="digit">${d}</span><span class="track"><span class="fill"></span></span><span class="value"></span>`;
  $("bars").appendChild(row);
  bars.push(row);
}

function showProbabilities(p) {
  let best = p.indexOf(Math.max(...p));
  if (p[best] === 0) best = -1; // nothing classified yet
  p.forEach((v, d) => {
    bars[d].classList.toggle("top", d === best);
    bars[d].querySelector(".fill").style.width = `${(v * 100).toFixed(1)}%`;
    bars[d].querySelector(".value").textContent = v.toFixed(4);
  });
  $("answer").textContent = best < 0 ? "" : `It is a ${best} (${(p[best] * 100).toFixed(1)}%)`;
}

// ---- loss curve ----
function drawCurve(losses) {
  const c = $("curve").getContext("2d");
  const [w, h, m] = [340, 200, 28];
  c.clearRect(0, 0, w, h);
  c.strokeStyle = "#999";
  c.strokeRect(m, 4, w - m - 4, h - m - 4);
  c.fillStyle = "#555";
  c.font = "11px sans-serif";
  c.fillText("training loss", m + 6, 16);
  if (losses.length === 0) return;
  const top = Math.max(...losses), steps = Math.max(losses.length - 1, 1);
  c.fillText(top.toFixed(2), 0, 12);
  c.fillText("0", 14, h - m);
  c.fillText(`step ${losses.length}`, w - 60, h - 10);
  c.strokeStyle = "#1f5fbf";
  c.beginPath();
  losses.forEach((l, i) => {
    const x = m + (i / steps) * (w - m - 4), y = 4 + (1 - l / top) * (h - m - 8);
    i ? c.lineTo(x, y) : c.moveTo(x, y);
  });
  c.stroke();
}

// ---- wiring ----
async function fetchBytes(name) {
  const r = await fetch(name);
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// The browser's WebGPU adapter as "vendor architecture" (browsers give no full name), or null.
async function webGpuAdapter() {
  try {
    const adapter = navigator.gpu && (await navigator.gpu.requestAdapter());
    return adapter ? `${adapter.info?.vendor ?? ""} ${adapter.info?.architecture ?? ""}`.trim() || "an adapter" : null;
  } catch {
    return null;
  }
}

async function main() {
  await init();
  const adapter = await webGpuAdapter();
  const gpu = adapter !== null;
  const page = await Page.open(gpu, await fetchBytes("mnist_cnn.safetensors"), await fetchBytes("digits.safetensors"));
  status.textContent = page.on_gpu()
    ? `Computing on WebGPU (${adapter})`
    : `Computing on wgrad's CPU backend (${gpu ? "WebGPU failed to open" : "this browser has no WebGPU"})`;
  status.className = page.on_gpu() ? "gpu" : "";

  if (params.has("test")) {
    // The browser test (cargo xtask web --test) reads the report from its server.
    const opened = performance.now();
    const report = JSON.parse(await page.check());
    console.log(`wgrad: opened in ${(opened / 1000).toFixed(1)} s, checked in ${((performance.now() - opened) / 1000).toFixed(1)} s`);
    await fetch("report", { method: "POST", body: JSON.stringify({ webgpu: page.on_gpu(), report }) });
    return;
  }

  const classify = async () => {
    const pixels = image ?? padImage();
    if (!pixels) return;
    showProbabilities(Array.from(await page.predict(pixels, $("use-trained").checked)));
  };
  pad.onpointerdown = (e) => { drawing = true; strokeTo(...padPoint(e), true); };
  pad.onpointermove = (e) => { if (drawing) strokeTo(...padPoint(e), false); };
  pad.onpointerup = pad.onpointerleave = () => { if (drawing) { drawing = false; classify(); } };
  $("clear").onclick = () => { clearPad(); showProbabilities(new Array(10).fill(0)); $("answer").textContent = ""; };
  $("sample").onclick = () => {
    const i = Math.floor(Math.random() * page.held_out_count());
    clearPad();
    showImage(page.held_out_image(i));
    classify();
  };
  $("use-trained").onchange = classify;

  const losses = [];
  drawCurve(losses);
  const train = async (steps) => {
    $("train").disabled = true;
    const started = performance.now();
    // Five steps are recorded before their losses are awaited: the device runs them back
    // to back, and the page redraws once per five.
    for (let s = 0; s < steps; s += 5) {
      const reads = [];
      for (let k = s; k < Math.min(s + 5, steps); k++) reads.push(page.train_step());
      losses.push(...(await Promise.all(reads)));
      drawCurve(losses);
      const rate = (page.steps() * 64) / ((performance.now() - started) / 1000);
      $("train-info").textContent = `step ${page.steps()}, loss ${losses[losses.length - 1].toFixed(4)}, ${rate.toFixed(0)} images/s`;
      await new Promise(requestAnimationFrame); // let the page draw
    }
    const accuracy = await page.held_out_accuracy();
    $("train-info").textContent += `; held-out accuracy ${(accuracy * 100).toFixed(1)}%`;
    $("use-trained").disabled = false;
    $("train").disabled = false;
  };
  $("train").onclick = () => train(300);

  clearPad();
  showProbabilities(new Array(10).fill(0));
  if (params.has("draw")) {
    // A seven in two strokes, as a person would draw it.
    [[[70, 60], [210, 60], [200, 80], [160, 150], [130, 230]], [[110, 140], [190, 140]]].forEach((stroke) =>
      stroke.forEach(([x, y], i) => strokeTo(x, y, i === 0)));
    await classify();
    if (params.has("train")) await train(Number(params.get("train")));
    await fetch("report", { method: "POST", body: JSON.stringify({ drawn: $("answer").textContent }) });
  }
  document.title = "wgrad: digits (ready)";
}

main().catch((e) => {
  status.textContent = `Error: ${e.message ?? e}`;
  status.className = "error";
  console.log(`wgrad: ${e.message ?? e}`);
  if (params.has("test")) fetch("report", { method: "POST", body: JSON.stringify({ error: `${e.message ?? e}` }) });
});
