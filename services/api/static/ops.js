// Guildhall ops dashboard: plain JS, no dependencies (works offline). Polls the JSON API with the
// bearer token of an admin or an operator (kept in sessionStorage for this tab only) and redraws. An
// operator gets the same board read-only: the actions are disabled here, and refused by the server.
"use strict";

const API = "/api/v1";
const POLL_MS = 2000;
const TOKEN_KEY = "guildhall.ops.token";
const $ = (id) => document.getElementById(id);

let timer = null;
let openJobId = null;
let lastOk = null;
// Who is signed in ({username, role} from /users/me), read once per sign-in. Until it is known,
// nothing is offered: the page offers actions to admins only (the server is the guard either way).
let viewer = null;
const NEEDS_ADMIN = "needs an admin: you are signed in read-only";
const canAct = () => viewer !== null && viewer.role === "admin";

// ---- helpers --------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "onclick") node.addEventListener("click", value);
    else if (name === "class") node.className = value;
    else if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function ms(value) {
  return value === null || value === undefined ? "–" : seconds(value / 1000);
}

function time(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour12: false }) + (Date.now() - date > 86400000 ? ` ${date.toLocaleDateString()}` : "");
}

function badge(text) {
  return el("span", { class: `badge ${text}` }, text);
}

function table(id, headers, rows, empty) {
  const target = $(id);
  const head = el("tr", {}, headers.map((h) => el("th", { class: h.startsWith("#") ? "num" : "" }, h.replace(/^#/, ""))));
  const body = rows.length
    ? rows.map((cells) => el("tr", {}, cells.map((c, i) =>
        el("td", { class: headers[i].startsWith("#") ? "num" : (c && c.wrap ? "wrap" : "") }, c && c.wrap ? c.wrap : c))))
    : [el("tr", { class: "empty" }, el("td", { colspan: headers.length }, empty))];
  target.replaceChildren(el("thead", {}, head), el("tbody", {}, body));
}

function jobLink(id) {
  return el("button", { class: "link", type: "button", "data-job": id, onclick: () => openJob(id) }, id);
}

// ---- API ------------------------------------------------------------------------------------

class Unauthorized extends Error {}
class Forbidden extends Error {}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(API + path, {
    ...options,
    headers: { Accept: "application/json", Authorization: `Bearer ${token}`, ...(options.headers || {}) },
  });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json().catch(() => ({}));
  if (response.status === 403) throw new Forbidden(body.detail || "forbidden");
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

// ---- sign-in --------------------------------------------------------------------------------

function showLogin(message) {
  clearTimeout(timer);
  viewer = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("board").hidden = true;
  $("not-admin").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("status").textContent = "not signed in";
  $("login-error").textContent = message || "";
}

function signedIn(token) {
  viewer = null;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("not-admin").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = false;
  refresh();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch(`${API}/auth/token`, { method: "POST", body: new URLSearchParams(form) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) return showLogin(body.detail || "sign-in failed");
  signedIn(body.access_token);
});

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signedIn(new FormData(event.target).get("token").trim());
});

// Signing out revokes the token on the server (it would otherwise stay valid until it expires),
// then forgets it here whatever the answer: a token that is already invalid is signed out too.
async function signOut() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    await fetch(`${API}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
  showLogin("signed out");
}

$("logout").addEventListener("click", signOut);
$("not-admin-logout").addEventListener("click", signOut);

// A valid token that is neither an admin's nor an operator's (the ops API answers 403): say so, and who it is, instead of
// an empty board, and stop polling (the answer would not change until someone changes the role).
async function showNotAdmin() {
  clearTimeout(timer);
  $("board").hidden = true;
  $("login").hidden = true;
  $("not-admin").hidden = false;
  $("logout").hidden = false;
  $("status").textContent = "signed in, not an admin or an operator";
  try {
    const me = await api("/users/me");
    $("not-admin-user").textContent = `${me.username} (${me.role})`;
  } catch (error) {
    if (error instanceof Unauthorized) showLogin("your session expired");
  }
}

// An operator's board: the line saying it is read-only, and no action to click.
function showViewer() {
  $("read-only").hidden = canAct();
  $("read-only-user").textContent = `${viewer.username} (${viewer.role})`;
  $("purge").disabled = !canAct();
  $("purge").title = canAct() ? "" : NEEDS_ADMIN;
}

// ---- polling --------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(timer);
  try {
    if (viewer === null) {
      viewer = await api("/users/me");
      showViewer();
    }
    const summary = await api("/ops/queues");
    lastOk = Date.now();
    render(summary);
    const mode = canAct() ? "" : " · read-only";
    $("status").textContent = `live${mode} · updated ${new Date(lastOk).toLocaleTimeString([], { hour12: false })}`;
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin("your session expired or the token is not valid");
    if (error instanceof Forbidden) return showNotAdmin();
    $("status").textContent = `cannot refresh: ${error.message}` + (lastOk ? ` (last data ${seconds((Date.now() - lastOk) / 1000)} old)` : "");
  }
  timer = setTimeout(refresh, POLL_MS);
}

// ---- rendering ------------------------------------------------------------------------------

function render(s) {
  const t = s.totals;
  const latencyClass = t.oldest_ready_age_seconds > 60 ? "bad" : t.oldest_ready_age_seconds > 5 ? "warn" : "";
  const cards = [
    ["Ready", t.ready, ""],
    ["Deferred", t.deferred, ""],
    ["Running", t.running, ""],
    ["Oldest wait", seconds(t.oldest_ready_age_seconds), latencyClass],
    ["Done (1 h)", t.complete_last_hour, ""],
    ["Failed (1 h)", t.failed_last_hour, t.failed_last_hour ? "bad" : ""],
    ["Retried (1 h)", t.retried_last_hour, t.retried_last_hour ? "warn" : ""],
    // Cron runs (the sweepers, every few seconds) are routine, not work: counted here, not in Done.
    ["Sweeps (1 h)", t.sweeps_failed_last_hour ? `${t.sweeps_last_hour} · ${t.sweeps_failed_last_hour} failed` : t.sweeps_last_hour,
      t.sweeps_failed_last_hour ? "bad" : ""],
    ["Workers up", t.workers_running, t.workers_running ? "" : "bad"],
    ["Workers down", t.workers_down, t.workers_down ? "bad" : ""],
    ["Workers stalled", t.workers_stalled, t.workers_stalled ? "bad" : ""],
    ["Outbox waiting", s.outbox ? s.outbox.waiting : "–", s.outbox && s.outbox.oldest_age_seconds > 60 ? "bad" : ""],
    ["Outbox dead", s.outbox ? s.outbox.dead : "–", s.outbox && s.outbox.dead ? "bad" : ""],
    // Accepted bulk jobs (durable records) not yet finished; queued for minutes with none running is trouble.
    ["Bulk unfinished", s.jobs ? s.jobs.queued + s.jobs.in_progress : "–",
      s.jobs && !s.jobs.in_progress && s.jobs.oldest_age_seconds > 300 ? "bad" : ""],
  ];
  $("cards").replaceChildren(...cards.map(([label, value, cls]) =>
    el("div", { class: `card ${cls}`, "data-card": label }, el("div", { class: "value" }, value), el("div", { class: "label" }, label))));

  drawChart(s.throughput);

  // State: paused or running, with Pause / Resume (ops_control.js).
  table("queues", ["Queue", "State", "#Ready", "#Deferred", "#Running", "#Oldest wait"],
    s.queues.map((q) => [q.queue, typeof queueState === "function" ? queueState(q) : (q.paused ? badge("paused") : "running"),
      q.ready, q.deferred, q.running, seconds(q.oldest_ready_age_seconds)]), "no queues");

  table("failed", ["Job", "Function", "Error", "Message", "Finished", "#Duration", "#Try", ""],
    s.failed.map((j) => [jobLink(j.id), j.function, j.error_type, { wrap: j.error_message || "" }, time(j.finished_at),
      ms(j.duration_ms), j.tries,
      j.retried_as ? el("span", { class: "muted" }, "retried as ", jobLink(j.retried_as))
                   : el("button", { type: "button", "data-retry": j.id, onclick: () => retry(j.id),
                       disabled: canAct() ? null : "", title: canAct() ? null : NEEDS_ADMIN }, "Retry")]),
    "no failed jobs");

  table("running", ["Job", "Function", "Queue", "Started", "#Running", "#Try", "Progress", "Worker"],
    s.running.map((j) => [jobLink(j.id), j.function, j.queue, time(j.started_at), seconds(j.running_seconds), j.tries,
      j.progress ? `${j.progress.done} / ${j.progress.total}` : "–", j.worker]), "nothing running");

  const pending = s.queues.flatMap((q) => [...q.waiting.map((j) => ["queued", j]), ...q.next_deferred.map((j) => ["deferred", j])]);
  table("waiting", ["Job", "State", "Function", "Queue", "Enqueued", "Due"],
    pending.map(([state, j]) => [jobLink(j.id), badge(state), j.function, j.queue, time(j.enqueued_at), time(j.run_at)]),
    "no waiting jobs");

  table("recent", ["Job", "Status", "Function", "Queue", "Finished", "#Duration", "#Try"],
    s.recent.map((j) => [jobLink(j.id), badge(j.status), j.function, j.queue, time(j.finished_at), ms(j.duration_ms), j.tries]),
    "nothing finished recently");

  table("functions", ["Function", "Queue", "#Complete", "#Failed", "#Retried", "#Mean", "#p95 ≤"],
    s.functions.map((f) => [f.function, f.queue, f.complete, f.failed, f.retried, ms(f.mean_ms), percentile(f, 0.95)]),
    "no jobs have run");

  table("workers", ["Worker", "Queue", "State", "#Heartbeat", "#Done", "#Failed", "#Retried", "#Sweeps", "#Ongoing"],
    s.workers.map((w) => [w.name, w.queue, badge(w.state), `${seconds(w.heartbeat_age_seconds)} ago`, w.complete, w.failed,
      w.retried, w.sweeps, w.ongoing]), "no workers have reported");

  table("audit", ["When", "Who", "Action", "Job", "Detail"],
    s.audit.map((a) => [time(a.at), a.user, a.action, a.job_id ? jobLink(a.job_id) : "–", { wrap: JSON.stringify(a.detail) }]),
    "no admin actions yet");

  if (openJobId) openJob(openJobId, true);
}

function percentile(stats, q) {
  const total = stats.duration_count;
  if (!total) return "–";
  const bucket = stats.buckets.find((b) => b.count >= q * total);
  return bucket && bucket.le_ms !== null ? ms(bucket.le_ms) : "> 10 min";
}

// Work (complete, retried, failed) stacked on its own scale; below it, in a lane of its own with its
// own scale, the sweeps (cron runs). Two sweepers every 5 s would otherwise set the scale and bury
// the work under 24 routine bars a minute.
function drawChart(points) {
  const width = 720, height = 190, left = 40;
  const workTop = 14, workBase = 132, laneTop = 142, laneBase = 166;
  const max = Math.max(1, ...points.map((p) => p.complete + p.retried + p.failed));
  const maxSweeps = Math.max(1, ...points.map((p) => p.sweeps || 0));
  const barWidth = (width - left) / points.length;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "jobs per minute over the last hour, and sweeps per minute below");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  const label = { "font-size": 10, fill: "#6b7380" };
  add("line", { x1: left, x2: width, y1: workBase, y2: workBase, stroke: "#ccc" });
  add("line", { x1: left, x2: width, y1: laneBase, y2: laneBase, stroke: "#ccc" });
  add("text", { x: 0, y: workTop - 2, ...label }, String(max));
  add("text", { x: 0, y: laneBase - 4, ...label }, "sweeps");
  add("text", { x: left, y: height - 6, ...label }, "−60 min");
  add("text", { x: width - 30, y: height - 6, ...label }, "now");
  // One stack of bars per minute from `base` upwards, `scale` pixels per unit; each bar says what it is.
  const stack = (i, base, scale, series, title) => {
    for (const [name, value, color] of series) {
      if (!value) continue;
      const h = Math.max(1, value * scale);
      const rect = add("rect", { x: left + i * barWidth + 1, y: base - h, width: Math.max(1, barWidth - 2), height: h,
        fill: color, "data-series": name });
      const tip = document.createElementNS(ns, "title");
      tip.textContent = title;
      rect.append(tip);
      base -= h;
    }
  };
  points.forEach((p, i) => {
    stack(i, workBase, (workBase - workTop) / max,
      [["complete", p.complete, "#2f9e66"], ["retried", p.retried, "#d99a1e"], ["failed", p.failed, "#d64545"]],
      `${time(p.minute)}: ${p.complete} complete, ${p.retried} retried, ${p.failed} failed`);
    const sweeps = p.sweeps || 0, sweepsFailed = p.sweeps_failed || 0;
    stack(i, laneBase, (laneBase - laneTop) / maxSweeps,
      [["sweeps", sweeps - sweepsFailed, "#9aa3b0"], ["sweeps-failed", sweepsFailed, "#d64545"]],
      `${time(p.minute)}: ${sweeps} sweeps` + (sweepsFailed ? `, ${sweepsFailed} failed` : ""));
  });
  $("chart").replaceChildren(svg);
}

// ---- job detail and actions -----------------------------------------------------------------

async function openJob(id, quiet = false) {
  openJobId = id;
  const dialog = $("job-dialog");
  if (!quiet) $("job-message").textContent = "";
  let job;
  try {
    job = await api(`/ops/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin();
    $("job-title").textContent = `Job ${id}`;
    $("job-fields").replaceChildren(el("dt", {}, "error"), el("dd", {}, error.message));
    if (!dialog.open) dialog.showModal();
    return;
  }
  $("job-title").textContent = `${job.function || "job"} · ${job.id}`;
  const fields = [
    ["status", badge(job.status)], ["queue", job.queue], ["try", job.tries], ["enqueued", time(job.enqueued_at)],
    ["due", time(job.run_at)], ["started", time(job.started_at)], ["finished", time(job.finished_at)],
    ["duration", ms(job.duration_ms)], ["worker", job.worker],
    ["progress", job.progress ? `${job.progress.done} / ${job.progress.total}` : null],
    ["retry of", job.retry_of ? jobLink(job.retry_of) : null], ["retried as", job.retried_as ? jobLink(job.retried_as) : null],
    ["abort", job.abort_requested ? "requested" : null],
    ["error", job.error ? `${job.error.type}: ${job.error.message}` : null],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "–");
  $("job-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("job-error-title").hidden = $("job-traceback").hidden = !job.error;
  $("job-traceback").textContent = job.error ? job.error.traceback || "(no traceback recorded)" : "";
  // The server leaves a job's arguments and result out for an operator (they are domain data).
  const adminsOnly = canAct() ? null : "(shown to admins only)";
  $("job-args").textContent = job.args_preview || adminsOnly || "–";
  const result = job.result_preview || (job.status === "complete" ? adminsOnly : null);
  $("job-result-title").hidden = $("job-result").hidden = !result;
  $("job-result").textContent = result || "";
  $("job-retry").hidden = !(job.status === "failed" && !job.retried_as);
  $("job-abort").hidden = !["queued", "deferred", "in_progress"].includes(job.status);
  for (const button of [$("job-retry"), $("job-abort")]) {
    button.disabled = !canAct();
    button.title = canAct() ? "" : NEEDS_ADMIN;
  }
  if (!dialog.open) dialog.showModal();
}

async function retry(id) {
  if (!canAct()) return;
  try {
    const accepted = await api(`/ops/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" });
    $("job-message").textContent = `retried as ${accepted.new_job_id}`;
    $("status").textContent = `job ${id} retried as ${accepted.new_job_id}`;
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin();
    $("job-message").textContent = `retry failed: ${error.message}`;
    alert(`Retry failed: ${error.message}`);
  }
  refresh();
}

async function abort(id) {
  if (!canAct()) return;
  if (!confirm(`Abort job ${id}?`)) return;
  try {
    const requested = await api(`/ops/jobs/${encodeURIComponent(id)}/abort`, { method: "POST" });
    $("job-message").textContent = `abort requested (was ${requested.status})`;
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin();
    $("job-message").textContent = `abort failed: ${error.message}`;
  }
  refresh();
}

$("job-retry").addEventListener("click", () => retry(openJobId));
$("job-abort").addEventListener("click", () => abort(openJobId));
$("job-close").addEventListener("click", () => $("job-dialog").close());
$("job-dialog").addEventListener("close", () => { openJobId = null; });

$("purge").addEventListener("click", async () => {
  if (!canAct()) return;
  const status = prompt("Purge which finished results? all, complete or failed", "complete");
  if (!status) return;
  try {
    const result = await api("/ops/results/purge", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status: status.trim() }),
    });
    $("status").textContent = `purged ${result.purged} ${result.status} results`;
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin();
    alert(`Purge failed: ${error.message}`);
  }
  refresh();
});

// ---- start ----------------------------------------------------------------------------------

if (sessionStorage.getItem(TOKEN_KEY)) signedIn(sessionStorage.getItem(TOKEN_KEY));
else showLogin();
