// The web page: pick or drop images, OCR them now (POST batch-extract) or in the background
// (POST extract-text?mode=async, then poll results_url), and show text, confidence and the
// word boxes over the image. Plain JavaScript, no build step, nothing from a CDN.
"use strict";

const BATCH_FILES = 10; // files per batch request (the server's limit is MAX_BATCH_ITEMS)
const BATCH_BYTES = 24 * 1024 * 1024; // stay under the server's MAX_BATCH_BYTES
const POLL_MS = 1000;
const POLL_GIVE_UP_MS = 10 * 60 * 1000;

const $ = (selector, root = document) => root.querySelector(selector);
const form = $("#upload");
const input = $("#files");
const drop = $("#drop");
const button = $("#go");
const summary = $("#summary");
const results = $("#results");
let chosen = [];
$("#apikey").value = sessionStorage.getItem("ocr-api-key") || "";

function choose(files) {
  chosen = Array.from(files);
  button.disabled = chosen.length === 0;
  const size = chosen.reduce((sum, f) => sum + f.size, 0);
  summary.textContent = chosen.length
    ? `${chosen.length} file${chosen.length > 1 ? "s" : ""} chosen (${kib(size)}). ` +
      "Press Extract text."
    : "";
}

input.addEventListener("change", () => choose(input.files));
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  choose(event.dataTransfer.files);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chosen.length) return;
  const mode = new FormData(form).get("mode");
  const lang = $("#lang").value.trim();
  const query = lang ? `lang=${encodeURIComponent(lang)}` : "";
  const cards = chosen.map(makeCard);
  chosen = [];
  input.value = "";
  button.disabled = true;
  summary.textContent = "";
  if (mode === "async") {
    summary.textContent =
      `${cards.length} file${cards.length > 1 ? "s" : ""} sent for background OCR; ` +
      "each card shows its result when it is ready.";
    await Promise.all(cards.map((card) => background(card, query)));
  } else {
    for (const group of groups(cards)) await immediate(group, query);
  }
});

function groups(cards) {
  const out = [];
  let current = [];
  let bytes = 0;
  for (const card of cards) {
    if (current.length && (current.length >= BATCH_FILES || bytes + card.file.size > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(card);
    bytes += card.file.size;
  }
  if (current.length) out.push(current);
  return out;
}

async function immediate(group, query) {
  const body = new FormData();
  for (const card of group) {
    body.append("images", card.file, card.file.name);
    setState(card, "working", "Reading text…");
  }
  const answer = await call(`batch-extract${query ? "?" + query : ""}`, { method: "POST", body });
  if (!answer.ok) {
    for (const card of group) showError(card, answer.error);
    return;
  }
  const batch = answer.body;
  batch.results.forEach((item, i) =>
    item.success ? showResult(group[i], item) : showError(group[i], item.error),
  );
  summary.textContent =
    `${batch.count} file${batch.count > 1 ? "s" : ""} in ${seconds(batch.processing_time_ms)} ` +
    `(${batch.parallelism} at a time; ${batch.succeeded} read, ${batch.failed} failed).`;
}

async function background(card, query) {
  const body = new FormData();
  body.append("image", card.file, card.file.name);
  setState(card, "working", "Uploading…");
  const url = `extract-text?mode=async${query ? "&" + query : ""}`;
  const answer = await call(url, { method: "POST", body });
  if (!answer.ok) return showError(card, answer.error);
  const started = Date.now();
  const where = answer.body.results_url;
  card.el.dataset.object = answer.body.object;
  card.resultsUrl = where;
  while (Date.now() - started < POLL_GIVE_UP_MS) {
    setState(card, "pending", `Queued in the background · ${seconds(Date.now() - started)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const poll = await call(where, { cache: "no-store" });
    if (poll.status === 202) continue;
    if (!poll.ok) return showError(card, poll.error);
    return poll.body.status === "failed" ? showError(card, poll.body.error) : showResult(card, poll.body);
  }
  showError(card, { code: "timeout", message: "No result after 10 minutes; try again later" });
}

// Sent as X-API-Key when the service is configured with API keys (and kept for the session).
function withKey(options) {
  const key = $("#apikey").value.trim();
  sessionStorage.setItem("ocr-api-key", key);
  if (!key) return options;
  return { ...options, headers: { ...((options && options.headers) || {}), "X-API-Key": key } };
}

async function call(url, options) {
  try {
    const response = await fetch(url, withKey(options));
    const body = await response.json().catch(() => null);
    const error = (body && body.error) || {
      code: `http_${response.status}`,
      message: `The server answered ${response.status} ${response.statusText}`,
    };
    return { ok: response.ok, status: response.status, body, error };
  } catch (err) {
    return { ok: false, status: 0, error: { code: "network", message: String(err) } };
  }
}

function makeCard(file) {
  const el = $("#card").content.firstElementChild.cloneNode(true);
  const card = { file, el, text: "" };
  $(".name", el).textContent = file.name;
  const img = $("img", el);
  // Chromium and Firefox cannot show TIFF (Safari can): the boxes then go over a
  // placeholder of the picture's own size, once the result says what that size is.
  img.addEventListener(
    "error",
    () => {
      card.noPreview = true;
      if (card.doc) placeholder(card);
    },
    { once: true },
  );
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  $(".copy", el).addEventListener("click", () => copy(card));
  $(".download", el).addEventListener("click", () => download(card));
  for (const b of el.querySelectorAll(".file")) b.addEventListener("click", () => fetchFile(card, b));
  $(".toggle", el).addEventListener("change", (e) => el.classList.toggle("plain", !e.target.checked));
  results.prepend(el);
  setState(card, "waiting", "Waiting");
  return card;
}

function setState(card, state, label) {
  card.el.dataset.state = state;
  $(".status", card.el).textContent = label;
}

function showError(card, error) {
  setState(card, "failed", "Failed");
  const p = $(".error", card.el);
  p.hidden = false;
  p.textContent = `${error.message} (${error.code})`;
}

function placeholder(card) {
  // The picture's size, its words written where they were read, and why it is not shown.
  const page = (card.doc.pages || [])[0] || card.doc.image;
  const { width, height } = page;
  const esc = (t) => t.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const words = (page.blocks || []).flatMap((b) => b.lines.flatMap((l) => l.words));
  const text = words
    .map(({ box, text }) => {
      const size = Math.round(box.height * 0.8);
      return `<text x="${box.x}" y="${box.y + box.height * 0.85}" font-size="${size}" textLength="${box.width}">${esc(text)}</text>`;
    })
    .join("");
  const label = `${card.doc.image.format.toUpperCase()} ${width} × ${height}: this browser cannot show it`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="100%" height="100%" fill="#f2f3f5"/>` +
    `<g font-family="sans-serif" fill="#8c959f">${text}</g>` +
    `<text x="50%" y="${height - Math.max(8, height / 30)}" text-anchor="middle" font-family="sans-serif" ` +
    `fill="#57606a" font-size="${Math.max(10, Math.round(width / 50))}">${esc(label)}</text></svg>`;
  const img = $("img", card.el);
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  img.alt = `${card.file.name} (no preview: ${label})`;
  card.el.classList.add("no-preview");
}

function showResult(card, doc) {
  card.doc = doc;
  if (card.noPreview) placeholder(card);
  card.text = doc.text;
  setState(card, "done", doc.no_text_found ? "No text found" : "Done");
  $(".text", card.el).value = doc.text;
  $(".copy", card.el).disabled = $(".download", card.el).disabled = false;
  for (const b of card.el.querySelectorAll(".file")) b.disabled = false;
  const facts = {
    Confidence: `${Math.round(doc.confidence * 100)} %`,
    Words: doc.word_count,
    Language: doc.language || "–",
    Time: seconds(doc.processing_time_ms),
    Image: `${doc.image.width} × ${doc.image.height} ${doc.image.format}`,
    Engine: `${doc.engine.name} ${doc.engine.version}`,
  };
  const dl = $(".facts", card.el);
  dl.replaceChildren();
  for (const [key, value] of Object.entries(facts)) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = key;
    dd.textContent = value;
    dd.dataset.fact = key.toLowerCase();
    dl.append(dt, dd);
  }
  drawBoxes($(".boxes", card.el), doc);
}

function drawBoxes(svg, doc) {
  // Boxes are in pixels of the upright image; the browser shows the <img> upright too
  // (EXIF orientation applied), so one viewBox maps them onto the picture at any size.
  const page = (doc.pages || [])[0];
  if (!page) return;
  const ns = "http://www.w3.org/2000/svg";
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  svg.replaceChildren();
  for (const block of page.blocks)
    for (const line of block.lines)
      for (const word of line.words) {
        const rect = document.createElementNS(ns, "rect");
        const { x, y, width, height } = word.box;
        Object.entries({ x, y, width, height }).forEach(([k, v]) => rect.setAttribute(k, v));
        rect.setAttribute("class", word.confidence >= 0.85 ? "hi" : word.confidence >= 0.6 ? "mid" : "lo");
        rect.setAttribute("vector-effect", "non-scaling-stroke");
        const title = document.createElementNS(ns, "title");
        title.textContent = `${word.text} · ${Math.round(word.confidence * 100)} %`;
        rect.append(title);
        svg.append(rect);
      }
}

async function copy(card) {
  const button = $(".copy", card.el);
  try {
    await navigator.clipboard.writeText(card.text);
  } catch {
    const area = $(".text", card.el); // no clipboard API (plain http): the old way
    area.select();
    document.execCommand("copy");
  }
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = "Copy text"), 1500);
}

function download(card) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([card.text], { type: "text/plain;charset=utf-8" }));
  link.download = card.file.name.replace(/\.[^.]*$/, "") + ".txt";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// The searchable PDF, hOCR or ALTO (docs/formats.md): from the results function for a
// background upload, else the same image again with ?format= (answered from the cache).
async function fetchFile(card, button) {
  const format = button.dataset.format;
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Preparing…";
  let options = { cache: "no-store" };
  let url = card.resultsUrl && `${card.resultsUrl}?format=${format}`;
  if (!url) {
    const body = new FormData();
    body.append("image", card.file, card.file.name);
    const lang = $("#lang").value.trim();
    url = `extract-text?format=${format}${lang ? "&lang=" + encodeURIComponent(lang) : ""}`;
    options = { method: "POST", body };
  }
  try {
    const response = await fetch(url, withKey(options));
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      showError(card, (body && body.error) || { code: `http_${response.status}`, message: "Download failed" });
      return;
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = card.file.name + { pdf: ".pdf", hocr: ".hocr", alto: ".alto.xml" }[format];
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (err) {
    showError(card, { code: "network", message: String(err) });
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

const kib = (n) => (n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const seconds = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
