// convgrad workbench: the page behind `convgrad serve`. Hand-written, no framework, no network
// beyond this server's JSON API (see the README section "The workbench").
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, input: null, info: {}, view: "draw" };

// ---------------------------------------------------------------------------------------------
// Helpers: the API, drawing grey arrays and colour maps
// ---------------------------------------------------------------------------------------------
async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = { error: `${response.status} ${response.statusText}` }; }
  if (!response.ok) { const err = new Error(body.error || response.statusText); err.status = response.status; throw err; }
  return body;
}
const postJSON = (path, obj) => api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify(obj) });

// Draw a (h, w) array (rows of numbers, or a flat typed array) scaled onto `canvas`.
// `colour(v)` maps a value in 0..255 to [r, g, b]; grey by default.
function paint(canvas, values, h, w, colour) {
  const off = document.createElement("canvas");
  off.width = w; off.height = h;
  const octx = off.getContext("2d");
  const img = octx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const v = Array.isArray(values) ? values[Math.floor(i / w)][i % w] : values[i];
    const [r, g, b] = colour ? colour(v) : [v, v, v];
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}
const heat = (v) => [Math.min(255, 3 * v), Math.max(0, Math.min(255, 3 * v - 255)), Math.max(0, 3 * v - 510)];
// blue (negative) - white (0) - red (positive), for kernels and products; t in [-1, 1]
function diverging(t) {
  t = Math.max(-1, Math.min(1, t));
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
                : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}
const css = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
const fmt = (n) => (n === null || n === undefined) ? "–" : Number(n).toLocaleString("en-US");
const num = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(d);
const shapeText = (s) => Array.isArray(s[0]) ? s.map(shapeText).join(", ") : s.join("×");
function decodeBase64(text) {
  const raw = atob(text); const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];

// ---------------------------------------------------------------------------------------------
// Models and tabs
// ---------------------------------------------------------------------------------------------
async function loadModels(select) {
  const data = await api("/api/models");
  state.models = data.models;
  state.info = {};   // a run's entry may have been reloaded (its checkpoint became model.npz)
  const sel = $("model-select");
  sel.innerHTML = "";
  for (const m of data.models) {
    const opt = document.createElement("option");
    opt.value = m.id;
    const acc = m.test_accuracy != null ? ` · ${(100 * m.test_accuracy).toFixed(1)}%` : "";
    opt.textContent = `${m.title} (${m.model}${acc})`;
    sel.appendChild(opt);
  }
  const wanted = select || state.model;
  if (wanted && data.models.some((m) => m.id === wanted)) sel.value = wanted;
  state.model = sel.value || null;
  showModelInfo();
  if (!data.models.length) $("draw-message").textContent = "No model loaded: start convgrad serve with a checkpoint, or train one in Learn.";
}
function currentModel() { return state.models.find((m) => m.id === state.model) || null; }
function showModelInfo() {
  const m = currentModel();
  $("model-info").textContent = m ? `${m.kind} · ${fmt(m.params)} parameters · input ${m.input_size.join("×")}` : "";
}
$("model-select").addEventListener("change", () => {
  state.model = $("model-select").value; showModelInfo();
  codes.data = null; codes.near = []; $("codes-info").textContent = ""; $("neighbours").innerHTML = ""; drawCodes();
  predictNow();
  if (state.view === "inside") showInside();
});

function showView(name) {
  state.view = name;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === `view-${name}`);
  if (name === "inside") showInside();
  if (name === "arith") updateArithmetic();
}
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showView(b.dataset.view));

// ---------------------------------------------------------------------------------------------
// Draw: the pad, the network's input, the prediction and ten bars
// ---------------------------------------------------------------------------------------------
const pad = $("pad");
const padCtx = pad.getContext("2d");
const draw = { down: false, last: null, inFlight: false, pending: false, seq: 0, done: 0, latencies: [],
               hasInk: false, upload: null };

function clearPad() {
  padCtx.fillStyle = "#000"; padCtx.fillRect(0, 0, pad.width, pad.height);
  draw.hasInk = false; draw.upload = null;
  $("prediction").textContent = "–"; $("confidence").textContent = ""; $("latency").textContent = "";
  paint($("seen"), new Uint8Array(28 * 28), 28, 28);
  renderBars(null);
}
function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}
function strokeTo(p) {
  padCtx.strokeStyle = "#fff"; padCtx.fillStyle = "#fff";
  padCtx.lineWidth = Number($("brush").value); padCtx.lineCap = "round"; padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.moveTo(draw.last[0], draw.last[1]); padCtx.lineTo(p[0], p[1]);
  padCtx.stroke();
  draw.last = p; draw.hasInk = true; draw.upload = null;
}
pad.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  pad.setPointerCapture(ev.pointerId);
  draw.down = true; draw.last = padPoint(ev); draw.pointerType = ev.pointerType;
  strokeTo(draw.last);
});
pad.addEventListener("pointermove", (ev) => {
  if (!draw.down) return;
  const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
  for (const e of (events.length ? events : [ev])) strokeTo(padPoint(e));
  predictSoon();
});
function endStroke() { if (!draw.down) return; draw.down = false; predictNow(); }
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearPad);

let soonTimer = null;
function predictSoon() {   // while drawing: at most one request in flight, the latest stroke wins
  if (soonTimer) return;
  soonTimer = setTimeout(() => { soonTimer = null; predictNow(); }, 40);
}
function padBlob() { return new Promise((resolve) => pad.toBlob(resolve, "image/png")); }

async function predictNow() {
  if (!state.model || (!draw.hasInk && !draw.upload)) return;
  if (draw.inFlight) { draw.pending = true; return; }
  draw.inFlight = true; draw.pending = false;
  const seq = ++draw.seq;
  const t0 = performance.now();
  try {
    const body = draw.upload || await padBlob();
    const type = draw.upload ? (draw.upload.type || "application/octet-stream") : "image/png";
    const res = await api(`/api/predict?model=${encodeURIComponent(state.model)}`,
                          { method: "POST", headers: { "Content-Type": type }, body });
    state.input = res.input;
    renderPrediction(res);
    const ms = performance.now() - t0;
    draw.latencies.push(ms);
    $("latency").textContent = `${ms.toFixed(0)} ms from stroke to answer (model ${res.milliseconds.toFixed(1)} ms)`;
    $("latency").dataset.ms = ms.toFixed(1);
    $("draw-message").textContent = "";
  } catch (err) {
    $("prediction").textContent = "–"; $("confidence").textContent = ""; renderBars(null);
    $("draw-message").textContent = err.message;
  } finally {
    draw.done = seq;
    draw.inFlight = false;
    if (draw.pending) predictNow();
  }
}
function renderPrediction(res) {
  paint($("seen"), res.input, res.input.length, res.input[0].length);
  const isClassifier = res.kind === "classifier";
  $("bars").classList.toggle("hidden", !isClassifier);
  $("reconstruction").classList.toggle("hidden", isClassifier || !res.reconstruction);
  $("bars-title").textContent = isClassifier ? "Probabilities" : "Reconstruction";
  if (isClassifier) {
    $("prediction").textContent = res.label;
    $("prediction").dataset.value = res.prediction;
    $("confidence").textContent = `${(100 * res.probabilities[res.prediction]).toFixed(1)}%`;
    renderBars(res);
  } else {
    $("prediction").textContent = "–"; $("confidence").textContent = res.kind;
    if (res.reconstruction) paint($("reconstruction"), res.reconstruction, res.reconstruction.length, res.reconstruction[0].length);
  }
}
function renderBars(res) {
  const box = $("bars");
  const m = currentModel();
  const classes = res ? res.probabilities.map((_, k) => (m && m.classes[k]) || String(k))
                      : ((m && m.classes.length) ? m.classes : [..."0123456789"]);
  if (box.children.length !== classes.length) {
    box.innerHTML = "";
    classes.forEach((name, k) => {
      const row = document.createElement("div");
      row.className = "bar"; row.id = `bar-${k}`;
      row.innerHTML = `<span class="label"></span><div class="track"><div class="fill"></div></div><span class="value"></span>`;
      row.querySelector(".label").textContent = name;
      box.appendChild(row);
    });
  }
  classes.forEach((_, k) => {
    const row = box.children[k];
    const p = res ? res.probabilities[k] : 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = res ? `${(100 * p).toFixed(1)}%` : "";
    row.classList.toggle("top", !!res && k === res.prediction);
  });
}

// upload or drop an image: sent as is (the server finds, crops and centres the digit)
async function useImageFile(file) {
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    padCtx.fillStyle = "#000"; padCtx.fillRect(0, 0, pad.width, pad.height);
    const s = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    padCtx.drawImage(bitmap, (pad.width - bitmap.width * s) / 2, (pad.height - bitmap.height * s) / 2,
                     bitmap.width * s, bitmap.height * s);
  } catch (e) { /* not decodable here: the server will say why */ }
  draw.hasInk = true; draw.upload = file;
  predictNow();
}
$("upload").addEventListener("change", (ev) => useImageFile(ev.target.files[0]));
pad.addEventListener("dragover", (ev) => ev.preventDefault());
pad.addEventListener("drop", (ev) => { ev.preventDefault(); useImageFile(ev.dataTransfer.files[0]); });

// ---------------------------------------------------------------------------------------------
// Look inside: feature maps of every layer, filters, one value explained, saliency
// ---------------------------------------------------------------------------------------------
const inside = { layers: [], selected: null };

async function ensureInput() {
  if (state.input) return state.input;
  const d = await api("/api/digit/0");   // an MNIST test digit until something is drawn
  state.input = d.pixels;
  return state.input;
}
function inputBody(extra = {}) { return { model: state.model, pixels: state.input, centre: false, ...extra }; }

async function showInside() {
  if (!state.model) { $("layers").textContent = "No model loaded."; return; }
  await ensureInput();
  paint($("inside-input"), state.input, 28, 28);
  const m = currentModel();
  const [acts, info] = await Promise.all([postJSON("/api/activations", inputBody()), modelInfo(state.model)]);
  inside.layers = acts.layers;
  renderLayers(acts.layers);
  if (m && m.kind === "classifier") {
    postJSON("/api/saliency", inputBody()).then((s) => {
      paint($("saliency"), s.saliency.map((row) => row.map((v) => 255 * v)), 28, 28, heat);
      $("saliency-caption").textContent = `saliency of class ${s.label}`;
    }).catch((err) => { $("saliency-caption").textContent = err.message; });
  }
  const firstConv = info.layers.find((l) => l.filters);
  const keep = inside.selected && acts.layers.find((l) => l.name === inside.selected.layer);
  if (keep) showDetail(inside.selected.layer, inside.selected.channel, inside.selected.y, inside.selected.x);
  else if (firstConv) {
    const l = acts.layers.find((a) => a.name === firstConv.name);
    showFilters(firstConv.name);
    showDetail(firstConv.name, 0, Math.floor(l.height / 2), Math.floor(l.width / 2));
  }
}
async function modelInfo(id) {
  if (!state.info[id]) state.info[id] = await api(`/api/model/${encodeURIComponent(id)}`);
  return state.info[id];
}
function renderLayers(layers) {
  const box = $("layers");
  box.innerHTML = "";
  const edge = (text) => { const e = document.createElement("div"); e.className = "edge"; e.textContent = text; box.appendChild(e); };
  edge(`input ${[1, ...currentModel().input_size].join("×")}`);
  for (const layer of layers) {
    const div = document.createElement("div");
    div.className = "layer"; div.dataset.layer = layer.name;
    const head = document.createElement("div");
    head.className = "layer-head";
    head.innerHTML = `<span class="name"></span><span class="type"></span><span class="num"></span>`;
    head.querySelector(".name").textContent = layer.name;
    head.querySelector(".type").textContent = layer.type;
    head.querySelector(".num").textContent = `params ${fmt(layer.params)} · mult-adds ${fmt(layer.macs)}` +
      (layer.shown < layer.channels ? ` · first ${layer.shown} of ${layer.channels} maps` : "");
    if (layer.filters) {
      head.querySelector(".name").classList.add("link");
      head.querySelector(".name").addEventListener("click", () => showFilters(layer.name));
    }
    div.appendChild(head);
    if (layer.data) div.appendChild(renderMaps(layer));
    box.appendChild(div);
    edge(shapeText(layer.output_shape));
  }
}
function renderMaps(layer) {
  const maps = document.createElement("div");
  maps.className = "maps" + (layer.detail ? " clickable" : "");
  const bytes = decodeBase64(layer.data);
  const { height: h, width: w } = layer;
  let scale;
  if (h === 1) scale = Math.max(1, Math.min(6, Math.floor(560 / w)));
  else scale = Math.max(1, Math.min(8, Math.floor(64 / Math.max(h, w)) || 1));
  const hh = h === 1 ? 14 : h * scale;
  for (let c = 0; c < layer.shown; c++) {
    const cv = document.createElement("canvas");
    cv.width = w * scale; cv.height = hh;
    cv.title = `${layer.name} map ${c}: min ${num(layer.min[c])}, max ${num(layer.max[c])}`;
    cv.dataset.channel = c;
    cv.repaint = () => paint(cv, bytes.subarray(c * h * w, (c + 1) * h * w), h, w);
    cv.repaint();
    if (layer.detail) {
      cv.addEventListener("click", (ev) => {
        const r = cv.getBoundingClientRect();
        const x = Math.min(w - 1, Math.floor((ev.clientX - r.left) / r.width * w));
        const y = Math.min(h - 1, Math.floor((ev.clientY - r.top) / r.height * h));
        showDetail(layer.name, c, y, x);
        if (layer.filters) showFilters(layer.name);
      });
    }
    maps.appendChild(cv);
  }
  return maps;
}
async function showFilters(name) {
  const f = await api(`/api/model/${encodeURIComponent(state.model)}/filters?layer=${encodeURIComponent(name)}`);
  $("filters-title").textContent = `Filters of ${name} (${f.shape.join("×")}${f.shown[0] < f.shape[0] || f.shown[1] < f.shape[1] ? ", first " + f.shown.join("×") : ""})`;
  const box = $("filters");
  box.innerHTML = "";
  const peak = Math.max(Math.abs(f.min), Math.abs(f.max)) || 1;
  const perFilter = f.weights[0].length;
  for (const [o, out] of f.weights.entries()) {   // one group per output map: its kernel for each input channel
    const group = document.createElement("div");
    group.className = "filter-group";
    group.title = `filter ${o}: ${perFilter} input channel${perFilter > 1 ? "s" : ""}`;
    for (const kernel of out) {
      const kh = kernel.length, kw = kernel[0].length;
      const cv = document.createElement("canvas");
      const s = Math.max(2, Math.floor((perFilter > 1 ? 24 : 40) / Math.max(kh, kw)));
      cv.width = kw * s; cv.height = kh * s;
      paint(cv, kernel, kh, kw, (v) => diverging(v / peak));
      group.appendChild(cv);
    }
    box.appendChild(group);
  }
}
function gridTable(values, { colour, win, pad } = {}) {
  const t = document.createElement("table");
  t.className = "grid";
  values.forEach((row, i) => {
    const tr = t.insertRow();
    row.forEach((v, j) => {
      const td = tr.insertCell();
      td.textContent = v === null ? "pad" : num(v, 2);
      if (colour && v !== null) {
        const rgb = colour(v);
        td.style.background = css(rgb);
        if (0.3 * rgb[0] + 0.59 * rgb[1] + 0.11 * rgb[2] < 120) td.style.color = "#fff";
      }
      if (win && win[0] === i && win[1] === j) td.classList.add("win");
      if (pad && !pad[i][j]) td.classList.add("pad");
    });
  });
  return t;
}
// Outline cells on feature-map thumbnails: rows/cols (unpadded indices) on the given channels of
// the maps whose output is `shape` (the layer's input), or on the input image.
function outline(canvases, h, w, rows, cols, colour) {
  for (const cv of canvases) {
    if (cv.repaint) cv.repaint();
    const ctx = cv.getContext("2d"), sx = cv.width / w, sy = cv.height / h;
    ctx.strokeStyle = colour; ctx.lineWidth = Math.max(1, Math.min(sx, 2));
    const r0 = Math.max(0, rows[0]), r1 = Math.min(h - 1, rows[rows.length - 1]);
    const c0 = Math.max(0, cols[0]), c1 = Math.min(w - 1, cols[cols.length - 1]);
    if (r1 >= r0 && c1 >= c0) ctx.strokeRect(c0 * sx + 0.5, r0 * sy + 0.5, (c1 - c0 + 1) * sx - 1, (r1 - r0 + 1) * sy - 1);
  }
}
function highlightWindow(d) {
  for (const cv of document.querySelectorAll(".maps canvas")) if (cv.outlined) { cv.repaint(); cv.outlined = false; }
  paint($("inside-input"), state.input, 28, 28);
  const names = inside.layers.map((l) => l.name);
  const at = names.indexOf(d.layer);
  const [, h, w] = d.input_shape;
  const channels = d.kind === "conv" ? d.in_channels : [d.channel];
  let source = null;
  for (let i = at - 1; i >= 0; i--) {
    const l = inside.layers[i];
    if (l.height === h && l.width === w && l.channels === d.input_shape[0]) { source = l.name; break; }
  }
  let targets = [];
  if (source === null) {
    targets = [$("inside-input")];
  } else {
    targets = [...document.querySelectorAll(`.layer[data-layer="${source}"] .maps canvas`)]
      .filter((cv) => channels.includes(Number(cv.dataset.channel)));
  }
  outline(targets, h, w, d.rows, d.cols, "#ff8a1f");
  if (source !== null) targets.forEach((cv) => { cv.outlined = true; });
  const own = document.querySelector(`.layer[data-layer="${d.layer}"] .maps canvas[data-channel="${d.channel}"]`);
  if (own) { outline([own], d.output_shape[1], d.output_shape[2], [d.y], [d.x], "#ff8a1f"); own.outlined = true; }
}
async function showDetail(layer, channel, y, x) {
  inside.selected = { layer, channel, y, x };
  for (const d of document.querySelectorAll(".layer")) d.classList.toggle("selected", d.dataset.layer === layer);
  const box = $("detail");
  let d;
  try { d = await postJSON("/api/detail", inputBody({ layer, channel, y, x })); }
  catch (err) { box.textContent = err.message; return; }
  box.innerHTML = "";
  highlightWindow(d);
  const title = document.createElement("p");
  title.innerHTML = `<b></b> map ${channel}, row ${y}, column ${x}`;
  title.querySelector("b").textContent = `${d.layer} (${d.type})`;
  box.appendChild(title);
  if (d.kind === "conv") {
    const peakIn = Math.max(1e-9, ...d.window.flat(2).map(Math.abs));
    const peakK = Math.max(1e-9, ...d.kernel.flat(2).map(Math.abs));
    const peakP = Math.max(1e-9, ...d.products.flat(2).map(Math.abs));
    const shown = Math.min(d.window.length, 3);
    for (let c = 0; c < shown; c++) {
      const h = document.createElement("h3");
      h.textContent = `input channel ${d.in_channels[c]}: rows ${d.rows[0]}..${d.rows[d.rows.length - 1]}, columns ${d.cols[0]}..${d.cols[d.cols.length - 1]}`;
      box.appendChild(h);
      const ops = document.createElement("div");
      ops.className = "ops";
      const add = (el) => ops.appendChild(el);
      const sym = (s) => { const e = document.createElement("span"); e.className = "op"; e.textContent = s; return e; };
      add(gridTable(d.window[c], { colour: (v) => diverging(v / peakIn) }));
      add(sym("×"));
      add(gridTable(d.kernel[c], { colour: (v) => diverging(v / peakK) }));
      add(sym("="));
      add(gridTable(d.products[c], { colour: (v) => diverging(v / peakP) }));
      box.appendChild(ops);
    }
    const more = d.window.length - shown;
    const sum = document.createElement("div");
    sum.className = "sum";
    let text = `sum of the ${d.window.length * d.window[0].length * d.window[0][0].length} products` +
      (more > 0 ? ` (all ${d.window.length} input channels, ${more} not shown)` : "") + ` = ${num(d.sum, 4)}\n` +
      `+ bias ${num(d.bias, 4)} = ${num(d.value, 4)}   (the layer's output: ${num(d.output, 4)})`;
    if (d.next) text += `\n${d.next.activation ? "activation " : "next layer "}${d.next.name} (${d.next.type}) → ${num(d.next.value, 4)}`;
    sum.textContent = text;
    sum.id = "detail-sum";
    box.appendChild(sum);
  } else {
    const h = document.createElement("h3");
    h.textContent = `${d.mode === "max" ? "max" : "average"} pooling window, input map ${channel}: rows ${d.rows[0]}..${d.rows[d.rows.length - 1]}, columns ${d.cols[0]}..${d.cols[d.cols.length - 1]}`;
    box.appendChild(h);
    const finite = d.window.flat().filter((v) => v !== null);
    const peak = Math.max(1e-9, ...finite.map(Math.abs));
    box.appendChild(gridTable(d.window, { colour: (v) => diverging(v / peak), win: d.winner, pad: d.inside }));
    const sum = document.createElement("div");
    sum.className = "sum"; sum.id = "detail-sum";
    sum.textContent = d.mode === "max"
      ? `the largest value wins: ${num(d.value, 4)} (row ${d.rows[d.winner[0]]}, column ${d.cols[d.winner[1]]})   (the layer's output: ${num(d.output, 4)})`
      : `sum ${num(d.sum, 4)} / ${d.divisor} = ${num(d.value, 4)}   (the layer's output: ${num(d.output, 4)})`;
    box.appendChild(sum);
  }
}

// ---------------------------------------------------------------------------------------------
// Arithmetic: output size, formula and the sliding-window animation
// ---------------------------------------------------------------------------------------------
const arith = { result: null, step: 0, timer: null, request: 0 };
const arithFields = ["op", "size", "kernel", "stride", "padding", "dilation"];

async function updateArithmetic() {
  const q = new URLSearchParams();
  for (const f of arithFields) q.set(f, $(`arith-${f}`).value);
  q.set("ceil_mode", $("arith-ceil").checked ? "true" : "false");
  const request = ++arith.request;
  try {
    const r = await api(`/api/arithmetic?${q}`);
    if (request !== arith.request) return;
    arith.result = r; arith.step = 0;
    $("arith-output").textContent = `output ${r.output} × ${r.output}`;
    $("arith-output").dataset.size = r.output;
    $("arith-formula").textContent = r.formula;
    $("arith-error").textContent = "";
  } catch (err) {
    if (request !== arith.request) return;
    arith.result = null;
    $("arith-output").textContent = "no valid output";
    $("arith-output").dataset.size = "";
    $("arith-formula").textContent = "";
    $("arith-error").textContent = err.message;
  }
  drawArithmetic();
}
for (const f of [...arithFields, "ceil"]) $(`arith-${f}`).addEventListener("input", updateArithmetic);
$("arith-form").addEventListener("submit", (ev) => ev.preventDefault());

function drawArithmetic() {
  const cv = $("arith-canvas"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  const r = arith.result;
  if (!r) return;
  const n = r.size, p = r.padding, total = r.padded;
  const lastEnd = r.starts.length ? r.starts[r.starts.length - 1] + r.span : 0;   // ceil mode may run past
  const extent = Math.max(total, lastEnd + p);
  const cell = Math.max(4, Math.min(30, Math.floor(Math.min(440 / extent, 400 / extent))));
  const ox = 10, oy = 10;
  for (let i = 0; i < extent; i++) {
    for (let j = 0; j < extent; j++) {
      const inInput = i >= p && i < p + n && j >= p && j < p + n;
      const inPad = i < total && j < total;
      ctx.fillStyle = inInput ? "#c9d6ee" : inPad ? "#e4e4e8" : "#fafafa";
      ctx.fillRect(ox + j * cell, oy + i * cell, cell - 1, cell - 1);
    }
  }
  const m = r.output;
  const steps = m * m;
  const k = arith.step % Math.max(steps, 1);
  const oi = Math.floor(k / m), oj = k % m;
  ctx.fillStyle = "rgba(234, 106, 20, 0.75)";
  for (let a = 0; a < r.kernel; a++) {
    for (let b = 0; b < r.kernel; b++) {
      const i = r.starts[oi] + p + a * r.dilation, j = r.starts[oj] + p + b * r.dilation;
      ctx.fillRect(ox + j * cell, oy + i * cell, cell - 1, cell - 1);
    }
  }
  ctx.strokeStyle = "#ea6a14"; ctx.lineWidth = 2;
  ctx.strokeRect(ox + (r.starts[oj] + p) * cell - 1, oy + (r.starts[oi] + p) * cell - 1, r.span * cell + 1, r.span * cell + 1);
  const oc = Math.max(4, Math.min(30, Math.floor(300 / Math.max(m, 1))));
  const ox2 = ox + extent * cell + 40;
  ctx.fillStyle = "#394255"; ctx.font = "12px system-ui";
  ctx.fillText(`input ${n}×${n}, padded ${total}×${total}`, ox, oy + extent * cell + 16);
  ctx.fillText(`output ${m}×${m}`, ox2, oy + m * oc + 16);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      ctx.fillStyle = (i === oi && j === oj) ? "#ea6a14" : (i * m + j < k ? "#9fb6e0" : "#e4e8f0");
      ctx.fillRect(ox2 + j * oc, oy + i * oc, oc - 1, oc - 1);
    }
  }
}
arith.timer = setInterval(() => { if (state.view === "arith" && arith.result) { arith.step++; drawArithmetic(); } }, 450);

// ---------------------------------------------------------------------------------------------
// Learn: start / pause / stop a run, live curves and filters from the event stream
// ---------------------------------------------------------------------------------------------
const learn = { loss: [], acc: [], testAcc: [], epochs: null, run: null, model: null, paused: false, running: false };

async function setupLearn() {
  const o = await api("/api/train/options");
  for (const [id, items] of [["learn-model", o.models], ["learn-optimizer", o.optimizers]]) {
    $(id).innerHTML = "";
    for (const item of items) { const opt = document.createElement("option"); opt.value = opt.textContent = item; $(id).appendChild(opt); }
  }
  $("learn-model").value = o.defaults.model; $("learn-optimizer").value = o.defaults.optimizer;
  $("learn-lr").value = o.defaults.lr; $("learn-batch").value = o.defaults.batch_size;
  $("learn-epochs").value = o.defaults.epochs; $("learn-images").value = o.defaults.max_train;
}
$("learn-start").addEventListener("click", async () => {
  $("learn-message").className = "message";
  $("learn-message").textContent = "";
  try {
    await postJSON("/api/train", {
      model: $("learn-model").value, optimizer: $("learn-optimizer").value, lr: Number($("learn-lr").value),
      batch_size: Number($("learn-batch").value), epochs: Number($("learn-epochs").value),
      max_train: Number($("learn-images").value),
    });
  } catch (err) { learnMessage(err.message, true); }
});
$("learn-pause").addEventListener("click", async () => {
  try { await postJSON("/api/train/pause", { paused: !learn.paused }); } catch (err) { learnMessage(err.message, true); }
});
$("learn-stop").addEventListener("click", async () => {
  try { await postJSON("/api/train/stop", {}); } catch (err) { learnMessage(err.message, true); }
});
function learnMessage(text, isError, button) {
  const box = $("learn-message");
  box.className = "message" + (isError ? " error" : "");
  box.textContent = text;
  if (button) box.appendChild(button);
}
function setRunning(running) {
  learn.running = running;
  $("learn-start").disabled = running; $("learn-pause").disabled = !running; $("learn-stop").disabled = !running;
  if (!running) { learn.paused = false; $("learn-pause").textContent = "Pause"; }
}
function learnStatus(extra) {
  const last = learn.loss[learn.loss.length - 1];
  const parts = [learn.running ? (learn.paused ? "paused" : "running") : "idle"];
  if (learn.run) parts.push(learn.run);
  if (last) parts.push(`step ${last[0]}`, `loss ${num(last[1], 4)}`);
  if (learn.acc.length) parts.push(`epoch ${learn.acc.length}/${learn.epochs || "?"}`);
  if (extra) parts.push(extra);
  $("learn-status").textContent = parts.join(" · ");
}
let chartFrame = null;
function redrawCharts() {
  if (chartFrame) return;
  chartFrame = requestAnimationFrame(() => {
    chartFrame = null;
    let ema = null;
    const smooth = learn.loss.map(([x, y]) => [x, (ema = ema === null ? y : 0.9 * ema + 0.1 * y)]);
    plot($("loss-chart"), [{ points: learn.loss, colour: "#b7c8ea", label: "loss of each batch" },
                           { points: smooth, colour: "#2f6fde", label: "running mean" }], {});
    plot($("acc-chart"), [{ points: learn.acc, colour: "#2f6fde", label: "training accuracy" },
                          { points: learn.testAcc, colour: "#ea6a14", label: "test accuracy" }], { ymax: 1, dots: true });
    $("loss-chart").dataset.points = learn.loss.length;
    $("acc-chart").dataset.points = learn.acc.length;
  });
}
function plot(cv, series, { ymax, dots }) {
  const ctx = cv.getContext("2d");
  const W = cv.width, H = cv.height, L = 46, R = 10, T = 10, B = 24;
  ctx.clearRect(0, 0, W, H);
  const all = series.flatMap((s) => s.points);
  ctx.strokeStyle = "#dde1e8"; ctx.fillStyle = "#687083"; ctx.font = "11px system-ui"; ctx.lineWidth = 1;
  ctx.strokeRect(L, T, W - L - R, H - T - B);
  if (!all.length) { ctx.fillText("waiting for a run…", L + 10, T + 20); return; }
  const xmax = Math.max(1, ...all.map((p) => p[0])), xmin = Math.min(...all.map((p) => p[0]));
  const top = ymax || Math.max(...all.map((p) => p[1])) * 1.05 || 1;
  const bottom = ymax ? Math.max(0, Math.min(...all.map((p) => p[1])) - 0.05) : 0;
  const X = (x) => L + (x - xmin) / Math.max(xmax - xmin, 1e-9) * (W - L - R);
  const Y = (y) => T + (1 - (y - bottom) / Math.max(top - bottom, 1e-9)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = bottom + (top - bottom) * i / 4;
    ctx.fillText(num(v, top < 10 ? 2 : 0), 4, Y(v) + 4);
    ctx.beginPath(); ctx.moveTo(L, Y(v)); ctx.lineTo(W - R, Y(v)); ctx.stroke();
  }
  ctx.fillText(`${xmin}`, L, H - 8); ctx.fillText(`${xmax}`, W - R - 24, H - 8);
  series.forEach((s, idx) => {
    ctx.strokeStyle = s.colour; ctx.fillStyle = s.colour; ctx.lineWidth = 1.6;
    ctx.beginPath();
    s.points.forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1]))));
    ctx.stroke();
    if (dots) for (const p of s.points) { ctx.beginPath(); ctx.arc(X(p[0]), Y(p[1]), 3, 0, 7); ctx.fill(); }
    ctx.fillText(s.label, W - R - 130, T + 14 + 14 * idx);
  });
}
function drawLearnFilters(ev) {
  const ws = ev.weights, n = ws.length, kh = ws[0][0].length, kw = ws[0][0][0].length;
  const cv = $("learn-filters"), ctx = cv.getContext("2d");
  const s = Math.max(2, Math.min(12, Math.floor(Math.min((cv.width - 4 * n) / (n * kw), (cv.height - 16) / kh))));
  ctx.clearRect(0, 0, cv.width, cv.height);
  const peak = Math.max(Math.abs(ev.min), Math.abs(ev.max)) || 1;
  ws.forEach((f, i) => {
    const tile = document.createElement("canvas");
    tile.width = kw * s; tile.height = kh * s;
    paint(tile, f[0], kh, kw, (v) => diverging(v / peak));
    ctx.drawImage(tile, i * (kw * s + 4), 0);
  });
  ctx.fillStyle = "#687083"; ctx.font = "11px system-ui";
  ctx.fillText(`${ev.layer} at step ${ev.step}`, 0, kh * s + 12);
  cv.dataset.step = ev.step;
}
function onTrainingEvent(ev) {
  switch (ev.type) {
    case "status":
      setRunning(ev.running); learn.run = ev.run; learn.paused = ev.paused;
      if (ev.config) learn.epochs = ev.config.epochs;
      learnStatus(); break;
    case "start":
      learn.loss = []; learn.acc = []; learn.testAcc = []; learn.run = ev.run; learn.epochs = ev.config.epochs;
      setRunning(true); learnMessage(`training ${ev.config.model} into ${ev.run}`); redrawCharts(); learnStatus(); break;
    case "step":
      learn.loss.push([ev.step, ev.loss]); redrawCharts(); learnStatus(); break;
    case "epoch":
      if (ev.accuracy != null) learn.acc.push([ev.epoch, ev.accuracy]);
      { const t = ev.test_accuracy != null ? ev.test_accuracy : ev.val_accuracy; if (t != null) learn.testAcc.push([ev.epoch, t]); }
      redrawCharts(); learnStatus(); break;
    case "filters": drawLearnFilters(ev); break;
    case "paused": learn.paused = true; $("learn-pause").textContent = "Resume"; learnStatus(); break;
    case "resumed": learn.paused = false; $("learn-pause").textContent = "Pause"; learnStatus(); break;
    case "done": case "stopped": {
      setRunning(false); learn.model = ev.model;
      if (ev.type === "done" && ev.test_accuracy != null && learn.epochs) { learn.testAcc.push([learn.epochs, ev.test_accuracy]); redrawCharts(); }
      const acc = ev.test_accuracy != null ? `, test accuracy ${(100 * ev.test_accuracy).toFixed(2)}%` : "";
      const what = ev.type === "done" ? `finished${acc}` : `stopped at step ${ev.step}; its checkpoint is kept`;
      const use = document.createElement("button");
      use.textContent = "Use it in Draw"; use.id = "learn-use"; use.className = "primary";
      use.addEventListener("click", async () => { await loadModels(learn.model); showView("draw"); predictNow(); });
      learnMessage(`Run ${ev.run} ${what}. `, false, ev.model ? use : null);
      loadModels(state.model); learnStatus(); break;
    }
    case "error": setRunning(false); learnMessage(`training failed: ${ev.message}`, true); learnStatus(); break;
    default: break;
  }
}
function connectEvents() {
  const source = new EventSource("/api/events");
  source.onmessage = (msg) => { try { onTrainingEvent(JSON.parse(msg.data)); } catch (e) { console.error(e); } };
}

// ---------------------------------------------------------------------------------------------
// Codes: 2-D map of the test digits' codes, hover and nearest neighbours
// ---------------------------------------------------------------------------------------------
const codes = { data: null, images: null, xy: [], near: [] };

$("codes-go").addEventListener("click", async () => {
  if (!state.model) return;
  $("codes-info").textContent = "computing…";
  try {
    const d = await api(`/api/codes/${encodeURIComponent(state.model)}?n=${$("codes-n").value}`);
    codes.data = d; codes.images = decodeBase64(d.images); codes.near = [];
    $("codes-info").textContent = `${d.n} test digits · codes: ${d.source} (${d.code_dim} numbers) · the two axes explain ` +
      `${(100 * d.explained_variance[0]).toFixed(0)}% + ${(100 * d.explained_variance[1]).toFixed(0)}% of the variance`;
    drawCodes();
  } catch (err) { $("codes-info").textContent = err.message; }
});
function drawCodes() {
  const cv = $("codes-map"), ctx = cv.getContext("2d"), d = codes.data;
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (!d) return;
  const xs = d.points.map((p) => p[0]), ys = d.points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const m = 16;
  codes.xy = d.points.map((p) => [m + (p[0] - x0) / Math.max(x1 - x0, 1e-9) * (cv.width - 2 * m),
                                  m + (1 - (p[1] - y0) / Math.max(y1 - y0, 1e-9)) * (cv.height - 2 * m)]);
  ctx.globalAlpha = 0.75;
  codes.xy.forEach(([x, y], i) => { ctx.fillStyle = PALETTE[d.labels[i] % 10]; ctx.beginPath(); ctx.arc(x, y, 3, 0, 7); ctx.fill(); });
  ctx.globalAlpha = 1;
  for (const i of codes.near) {
    ctx.strokeStyle = "#111"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(codes.xy[i][0], codes.xy[i][1], 6, 0, 7); ctx.stroke();
  }
  const legend = $("codes-legend");
  legend.innerHTML = "";
  for (let k = 0; k < 10; k++) { const s = document.createElement("span"); s.style.setProperty("--c", PALETTE[k]); s.textContent = k; legend.appendChild(s); }
}
function nearestPoint(ev) {
  const cv = $("codes-map"), r = cv.getBoundingClientRect();
  const x = (ev.clientX - r.left) * cv.width / r.width, y = (ev.clientY - r.top) * cv.height / r.height;
  let best = -1, bestD = 64;
  codes.xy.forEach(([px, py], i) => { const dd = (px - x) ** 2 + (py - y) ** 2; if (dd < bestD) { bestD = dd; best = i; } });
  return best;
}
function digitCanvas(index, size = 56) {
  const cv = document.createElement("canvas");
  cv.width = cv.height = size;
  paint(cv, codes.images.subarray(index * 784, (index + 1) * 784), 28, 28);
  return cv;
}
$("codes-map").addEventListener("mousemove", (ev) => {
  const tip = $("codes-tip");
  const i = codes.data ? nearestPoint(ev) : -1;
  if (i < 0) { tip.classList.add("hidden"); return; }
  paint(tip.querySelector("canvas"), codes.images.subarray(i * 784, (i + 1) * 784), 28, 28);
  tip.querySelector("span").textContent = `digit ${codes.data.labels[i]} · test image #${i}`;
  tip.style.left = `${codes.xy[i][0] + 12}px`; tip.style.top = `${codes.xy[i][1] + 12}px`;
  tip.classList.remove("hidden");
});
$("codes-map").addEventListener("mouseleave", () => $("codes-tip").classList.add("hidden"));
$("codes-map").addEventListener("click", async (ev) => {
  const i = codes.data ? nearestPoint(ev) : -1;
  if (i < 0) return;
  const r = await api(`/api/codes/${encodeURIComponent(state.model)}/neighbours?index=${i}&n=${codes.data.n}&k=8`);
  codes.near = r.neighbours;
  drawCodes();
  const box = $("neighbours");
  box.innerHTML = "";
  const fig = (index, caption, query) => {
    const f = document.createElement("figure");
    if (query) f.className = "query";
    f.appendChild(digitCanvas(index));
    const c = document.createElement("figcaption"); c.textContent = caption; f.appendChild(c);
    box.appendChild(f);
  };
  fig(i, `#${i}: ${r.label}`, true);
  r.neighbours.forEach((n, k) => fig(n, `${r.labels[k]} · d ${num(r.distances[k], 2)}`));
});

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------
window.workbench = {
  // for tests and curious users: is every prediction answered?
  idle: () => !draw.inFlight && !draw.pending && !soonTimer,
  pointerType: () => draw.pointerType,
  latencies: draw.latencies, state, learn, codes,
};
clearPad();
loadModels().catch((err) => { $("draw-message").textContent = err.message; });
setupLearn().then(redrawCharts).catch((err) => learnMessage(err.message, true));
updateArithmetic();
connectEvents();
