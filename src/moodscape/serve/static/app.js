// The moodscape page: one card per file, uploaded to POST /api/predict (two at a time), drawn with SVG.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PARALLEL = 2;
const results = [];
const queue = [];
let running = 0;
let token = sessionStorage.getItem("moodscape-token") || "";
const waitingForToken = [];

const $ = (id) => document.getElementById(id);

function svg(parent, name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

async function loadHealth() {
  try {
    const health = await (await fetch("/api/health")).json();
    $("model").textContent = `Model: ${health.model} (moodscape ${health.version})`;
    const l = health.limits;
    $("limits").textContent = `Up to ${l.max_files} files at a time, ${l.max_file_mb} MB and ${l.max_seconds / 60} minutes each.`;
    if (health.token_required && !token) $("token-box").hidden = false;
  } catch (err) {
    $("model").textContent = "The server does not answer; is `moodscape serve` running?";
  }
}

function addFiles(files) {
  for (const file of files) {
    const card = $("card-template").content.firstElementChild.cloneNode(true);
    card.querySelector(".name").textContent = file.name;
    card.dataset.status = "waiting";
    $("cards").appendChild(card);
    queue.push({ file, card });
  }
  $("empty").hidden = $("cards").children.length > 0;
  $("clear").disabled = false;
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    running += 1;
    upload(queue.shift()).finally(() => { running -= 1; pump(); });
  }
}

function setState(card, text, percent) {
  card.querySelector(".state").textContent = text;
  const bar = card.querySelector("progress");
  if (percent === null) bar.removeAttribute("value"); else bar.value = percent;
}

function send(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("files", file, file.name);
    form.append("timeline", "true");
    if ($("want-tags").checked) form.append("tags", "true");
    xhr.open("POST", "/api/predict");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { detail: xhr.responseText || xhr.statusText }; }
      resolve({ status: xhr.status, body, retryAfter: Number(xhr.getResponseHeader("Retry-After") || 5) });
    };
    xhr.onerror = () => resolve({ status: 0, body: { detail: "the server could not be reached" } });
    xhr.send(form);
  });
}

async function upload(job) {
  const { file, card } = job;
  for (;;) {
    setState(card, "uploading", 0);
    const answer = await send(file, (share) => {
      if (share < 1) setState(card, `uploading ${Math.round(share * 100)}%`, share * 100);
      else setState(card, "analysing", null);
    });
    if (answer.status === 503) {
      setState(card, `server busy; retrying in ${answer.retryAfter} s`, null);
      await new Promise((r) => setTimeout(r, answer.retryAfter * 1000));
      continue;
    }
    if (answer.status === 401) {
      setState(card, "waiting for an access token", 0);
      $("token-box").hidden = false;
      $("token").focus();
      await new Promise((r) => waitingForToken.push(r));
      continue;
    }
    if (answer.status === 200 && answer.body.predictions && answer.body.predictions.length) {
      show(card, answer.body.predictions[0]);
    } else {
      const error = (answer.body.errors && answer.body.errors[0] && answer.body.errors[0].error) || answer.body.detail;
      fail(card, error || `the server answered ${answer.status}`);
    }
    return;
  }
}

function fail(card, message) {
  card.dataset.status = "failed";
  card.classList.add("failed");
  card.querySelector(".status").hidden = true;
  const error = card.querySelector(".error");
  error.textContent = message;
  error.hidden = false;
}

function fmt(x, digits = 3) { return (x >= 0 ? "+" : "") + x.toFixed(digits); }

function minutes(seconds) {
  const m = Math.floor(seconds / 60), s = Math.round(seconds - 60 * m);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function show(card, song) {
  results.push(song);
  card.dataset.status = "done";
  card.dataset.valence = song.valence;
  card.dataset.arousal = song.arousal;
  card.querySelector(".status").hidden = true;
  card.querySelector(".result").hidden = false;
  card.querySelector(".valence").textContent = `${fmt(song.valence)} (${song.valence_1_9.toFixed(2)} on 1-9)`;
  card.querySelector(".arousal").textContent = `${fmt(song.arousal)} (${song.arousal_1_9.toFixed(2)} on 1-9)`;
  card.querySelector(".quadrant").textContent = `${song.quadrant} ${song.mood}`;
  card.querySelector(".length").textContent = `${minutes(song.seconds)} (${song.windows} windows)`;
  if (song.tags && song.tags.length) {
    card.querySelector(".tags").textContent = tagText(song.tags);
    card.querySelector(".tags-row").hidden = false;
  }
  if (song.warning) {
    const w = card.querySelector(".warning");
    w.textContent = song.warning;
    w.hidden = false;
  }
  drawPlane(card.querySelector(".plane"), song);
  drawTimeline(card.querySelector(".timeline"), song);
  $("download-csv").disabled = $("download-json").disabled = false;
}

function drawPlane(root, song) {
  const size = 240, pad = 24, inner = size - 2 * pad;
  const x = (v) => pad + ((v + 1) / 2) * inner, y = (a) => pad + ((1 - a) / 2) * inner;
  root.setAttribute("aria-label", `${song.path}: valence ${fmt(song.valence)}, arousal ${fmt(song.arousal)}, ${song.quadrant} ${song.mood}`);
  svg(root, "rect", { x: pad, y: pad, width: inner, height: inner, fill: "none", stroke: "#9ca3af" });
  svg(root, "line", { x1: x(0), y1: pad, x2: x(0), y2: size - pad, stroke: "#9ca3af" });
  svg(root, "line", { x1: pad, y1: y(0), x2: size - pad, y2: y(0), stroke: "#9ca3af" });
  const label = { "font-size": 11, fill: "#4b5563" };
  svg(root, "text", { ...label, x: size - pad - 2, y: pad + 12, "text-anchor": "end" }, "Q1 happy");
  svg(root, "text", { ...label, x: pad + 2, y: pad + 12 }, "Q2 angry");
  svg(root, "text", { ...label, x: pad + 2, y: size - pad - 4 }, "Q3 sad");
  svg(root, "text", { ...label, x: size - pad - 2, y: size - pad - 4, "text-anchor": "end" }, "Q4 calm");
  svg(root, "text", { ...label, x: size / 2, y: size - 6, "text-anchor": "middle" }, "valence");
  svg(root, "text", { ...label, x: 10, y: size / 2, transform: `rotate(-90 10 ${size / 2})`, "text-anchor": "middle" }, "arousal");
  const points = song.timeline || [];
  if (points.length > 1) {
    svg(root, "polyline", { class: "trajectory", fill: "none", stroke: "#93c5fd", "stroke-width": 1.5,
      points: points.map((p) => `${x(p.valence).toFixed(1)},${y(p.arousal).toFixed(1)}`).join(" ") });
  }
  for (const p of points) svg(root, "circle", { class: "window", cx: x(p.valence), cy: y(p.arousal), r: 2.5, fill: "#3b82f6", "fill-opacity": 0.6 });
  svg(root, "circle", { class: "song", cx: x(song.valence), cy: y(song.arousal), r: 7, fill: "#1d4ed8", stroke: "#fff", "stroke-width": 2 });
}

function drawTimeline(root, song) {
  const w = 480, h = 240, left = 36, right = 10, top = 10, bottom = 28;
  const points = song.timeline || [];
  const end = Math.max(song.seconds, points.length ? points[points.length - 1].time : 0, 1);
  const x = (t) => left + (t / end) * (w - left - right), y = (v) => top + ((1 - v) / 2) * (h - top - bottom);
  root.setAttribute("aria-label", `${song.path}: valence and arousal over ${minutes(song.seconds)}`);
  svg(root, "rect", { x: left, y: top, width: w - left - right, height: h - top - bottom, fill: "none", stroke: "#9ca3af" });
  svg(root, "line", { x1: left, y1: y(0), x2: w - right, y2: y(0), stroke: "#d1d5db" });
  const label = { "font-size": 11, fill: "#4b5563" };
  for (const v of [-1, 0, 1]) svg(root, "text", { ...label, x: left - 4, y: y(v) + 4, "text-anchor": "end" }, String(v));
  svg(root, "text", { ...label, x: left, y: h - 8 }, "0:00");
  svg(root, "text", { ...label, x: w - right, y: h - 8, "text-anchor": "end" }, minutes(end));
  const line = (key, colour, dash) => svg(root, "polyline", { class: key, fill: "none", stroke: colour, "stroke-width": 2,
    "stroke-dasharray": dash, points: points.map((p) => `${x(p.time).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ") });
  line("valence", "#1d4ed8", "none");
  line("arousal", "#c2410c", "6 3");
}

const COLUMNS = ["path", "valence", "arousal", "valence_1_9", "arousal_1_9", "quadrant", "mood", "seconds", "windows", "warning"];

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

// As the CSV tables of `moodscape predict --tags`: "MSD_musicnn: rock 0.61, pop 0.44; MTT_musicnn: guitar 0.70".
function tagText(tags) {
  const sources = new Map();
  for (const t of tags) {
    if (!sources.has(t.source)) sources.set(t.source, []);
    sources.get(t.source).push(`${t.tag} ${t.probability.toFixed(2)}`);
  }
  return [...sources].map(([source, items]) => `${source}: ${items.join(", ")}`).join("; ");
}

function csvCell(value) {
  const text = typeof value === "number" ? String(Math.round(value * 10000) / 10000) : String(value ?? "");
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvTable() {
  const columns = results.some((r) => r.tags) ? [...COLUMNS, "tags"] : COLUMNS;
  const cell = (r, c) => csvCell(c === "tags" ? tagText(r.tags || []) : r[c]);
  return [columns.join(","), ...results.map((r) => columns.map((c) => cell(r, c)).join(","))].join("\n") + "\n";
}

function setUp() {
  const drop = $("drop");
  $("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); addFiles(e.dataTransfer.files); });
  $("token-save").addEventListener("click", () => {
    token = $("token").value.trim();
    sessionStorage.setItem("moodscape-token", token);
    $("token-box").hidden = true;
    waitingForToken.splice(0).forEach((resume) => resume());
  });
  $("download-json").addEventListener("click", () =>
    download("moodscape.json", "application/json", JSON.stringify(results, null, 2)));
  $("download-csv").addEventListener("click", () =>
    download("moodscape.csv", "text/csv", csvTable()));
  $("clear").addEventListener("click", () => {
    results.length = 0;
    $("cards").querySelectorAll('[data-status="done"], [data-status="failed"]').forEach((c) => c.remove());
    $("empty").hidden = $("cards").children.length > 0;
    $("download-csv").disabled = $("download-json").disabled = true;
  });
  loadHealth();
}

setUp();
