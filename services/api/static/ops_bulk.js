// Guildhall ops dashboard, bulk actions and dead letters (loaded after ops.js, whose helpers it uses:
// $, el, api, canAct, time, jobLink, NEEDS_ADMIN). Select jobs in the Failed and Waiting tables and
// act on them at once, or on everything a filter matches (a dry run first says how many); list the
// dead letters (outbox rows given up, failed jobs, failed bulk records) and requeue or discard them.
// Admins act; an operator sees the same panels with the buttons disabled (the server refuses too).
"use strict";

const selected = new Set();
let letters = [];
let lettersCursor = null;

// Buttons that need an admin: who is signed in is known only after sign-in, so their state is
// set again at each redraw (syncButtons), not once when they are made.
function bulkButton(label, onclick) {
  const button = el("button", { type: "button", class: "needs-admin", onclick }, label);
  syncButton(button);
  return button;
}

function syncButton(button) {
  button.disabled = !canAct();
  button.title = canAct() ? "" : NEEDS_ADMIN;
}

function syncButtons() {
  for (const button of document.querySelectorAll("#bulk-panel .needs-admin, #dead-panel .needs-admin")) syncButton(button);
}

function summary(answer) {
  const head = `${answer.dry_run ? "would act on" : "acted on"} ${answer.dry_run ? answer.matched - answer.remaining : answer.acted}` +
    ` of ${answer.matched} matched` + (answer.capped ? `; ${answer.remaining} remain beyond the cap of ${answer.cap}: run it again` : "");
  const refused = answer.items.filter((i) => i.outcome !== "ok").map((i) => `${i.id}: ${i.outcome}${i.reason ? ` (${i.reason})` : ""}`);
  return refused.length ? `${head}; not acted on: ${refused.slice(0, 10).join(", ")}${refused.length > 10 ? " …" : ""}` : head;
}

async function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

// ---- select-and-act on the jobs tables ------------------------------------------------------

function addCheckboxes(tableId) {
  syncButtons();
  const target = $(tableId);
  const headRow = target.querySelector("thead tr");
  if (!headRow || headRow.dataset.selectable) return;
  headRow.dataset.selectable = "1";
  headRow.prepend(el("th", {}, ""));
  for (const row of target.querySelectorAll("tbody tr")) {
    const link = row.querySelector("[data-job]");
    if (!link) { row.firstChild && row.firstChild.setAttribute("colspan", String(headRow.children.length)); continue; }
    const id = link.dataset.job;
    const box = el("input", { type: "checkbox", "aria-label": `select ${id}` });
    box.checked = selected.has(id);
    box.addEventListener("change", () => { box.checked ? selected.add(id) : selected.delete(id); drawSelection(); });
    row.prepend(el("td", {}, box));
  }
}

function drawSelection() {
  $("bulk-selected").textContent = selected.size ? `${selected.size} selected` : "none selected";
}

async function actOnSelected(action) {
  if (!selected.size) return alert("Select jobs first (the boxes in Failed jobs and Waiting).");
  const ids = [...selected];
  try {
    const preview = await post("/ops/jobs/actions", { action, ids, dry_run: true });
    if (!confirm(`${action} ${ids.length} job(s)? The server says it ${summary(preview)}.`)) return;
    const answer = await post("/ops/jobs/actions", { action, ids });
    $("bulk-message").textContent = `${action}: ${summary(answer)}`;
    selected.clear();
    drawSelection();
  } catch (error) {
    $("bulk-message").textContent = `${action} failed: ${error.message}`;
  }
}

function jobFilter() {
  const filter = {};
  for (const name of ["function", "status", "queue"]) {
    const value = $(`bulk-${name}`).value.trim();
    if (value) filter[name] = value;
  }
  return filter;
}

async function actOnFilter(dryRun) {
  const action = $("bulk-action").value;
  try {
    const answer = await post("/ops/jobs/actions", { action, filter: jobFilter(), dry_run: dryRun });
    if (dryRun) { $("bulk-message").textContent = `${action} (preview): ${summary(answer)}`; return; }
    $("bulk-message").textContent = `${action}: ${summary(answer)}`;
  } catch (error) {
    $("bulk-message").textContent = `${action} failed: ${error.message}`;
  }
}

async function actOnFilterConfirmed() {
  const action = $("bulk-action").value;
  try {
    const preview = await post("/ops/jobs/actions", { action, filter: jobFilter(), dry_run: true });
    if (confirm(`${action} every matching job? The server says it ${summary(preview)}.`)) await actOnFilter(false);
  } catch (error) {
    $("bulk-message").textContent = `${action} failed: ${error.message}`;
  }
}

// ---- dead letters ---------------------------------------------------------------------------

function letterFilter() {
  const filter = {};
  const kind = $("dead-kind").value, fn = $("dead-function").value.trim();
  if (kind) filter.kind = kind;
  if (fn) filter.function = fn;
  return filter;
}

async function loadLetters(more = false) {
  if (!more) { letters = []; lettersCursor = null; }
  const params = new URLSearchParams({ limit: "50", ...letterFilter(), ...(more && lettersCursor ? { cursor: lettersCursor } : {}) });
  try {
    const page = await api(`/ops/dead-letters?${params}`);
    letters = letters.concat(page.items);
    lettersCursor = page.next_cursor;
    drawLetters();
    syncButtons();
  } catch (error) {
    $("dead-message").textContent = `dead letters: ${error.message}`;
  }
}

function drawLetters() {
  const rows = letters.map((d) => [d.kind, d.kind === "outbox" ? d.id : jobLink(d.id), d.function, d.error_type || "–",
    { wrap: d.error_message || "" }, time(d.given_up_at), d.tries,
    el("span", {}, bulkButton("Requeue", () => actOnLetter(d, "requeue")), " ", bulkButton("Discard", () => actOnLetter(d, "discard")))]);
  table("dead-letters", ["Kind", "Id", "Function / topic", "Error", "Message", "Given up", "#Tries", ""], rows, "no dead letters");
  $("dead-more").hidden = !lettersCursor;
}

async function actOnLetter(letter, action) {
  if (action === "discard" && !confirm(`Discard ${letter.kind} ${letter.id}? It will not run again.`)) return;
  try {
    await post(`/ops/dead-letters/${letter.kind}/${encodeURIComponent(letter.id)}/${action}`, {});
    $("dead-message").textContent = `${action}: ${letter.kind} ${letter.id} done`;
  } catch (error) {
    $("dead-message").textContent = `${action} of ${letter.kind} ${letter.id} failed: ${error.message}`;
  }
  loadLetters();
}

async function actOnLetters(action) {
  try {
    const preview = await post("/ops/dead-letters/actions", { action, filter: letterFilter(), dry_run: true });
    if (!confirm(`${action} every matching dead letter? The server says it ${summary(preview)}.`)) return;
    const answer = await post("/ops/dead-letters/actions", { action, filter: letterFilter() });
    $("dead-message").textContent = `${action}: ${summary(answer)}`;
  } catch (error) {
    $("dead-message").textContent = `${action} failed: ${error.message}`;
  }
  loadLetters();
}

// ---- the panels -----------------------------------------------------------------------------

function option(value, label = value) { return el("option", { value }, label); }

function buildPanels() {
  const board = $("board");
  const before = $("audit").closest("section");
  const bulk = el("section", { class: "panel", id: "bulk-panel" },
    el("h2", {}, "Bulk actions ", el("small", { class: "muted" }, "tick jobs in Failed jobs and Waiting, or act on a filter (1,000 at most per click)")),
    el("p", {}, el("span", { id: "bulk-selected" }, "none selected"), " ",
      bulkButton("Retry selected", () => actOnSelected("retry")), " ",
      bulkButton("Abort selected", () => actOnSelected("abort")), " ",
      bulkButton("Discard selected", () => actOnSelected("discard"))),
    el("p", {},
      el("select", { id: "bulk-action", "aria-label": "action" }, option("retry"), option("abort"), option("discard")), " ",
      el("input", { id: "bulk-function", placeholder: "function", "aria-label": "function" }), " ",
      el("select", { id: "bulk-status", "aria-label": "status" }, option("", "any status"), option("failed"), option("complete"),
        option("queued"), option("deferred"), option("in_progress")), " ",
      el("select", { id: "bulk-queue", "aria-label": "queue" }, option("", "any queue"), option("guildhall:short"), option("guildhall:bulk")), " ",
      el("button", { type: "button", onclick: () => actOnFilter(true) }, "Preview"), " ",
      bulkButton("Act on all matching", actOnFilterConfirmed)),
    el("p", { id: "bulk-message", role: "status" }));
  const dead = el("section", { class: "panel", id: "dead-panel" },
    el("h2", {}, "Dead letters ", el("small", { class: "muted" }, "outbox rows given up, failed jobs with no retry left, failed bulk records")),
    el("p", {},
      el("select", { id: "dead-kind", "aria-label": "kind" }, option("", "every kind"), option("outbox"), option("job"), option("record")), " ",
      el("input", { id: "dead-function", placeholder: "function or topic", "aria-label": "function or topic" }), " ",
      el("button", { type: "button", onclick: () => loadLetters() }, "Refresh"), " ",
      bulkButton("Requeue all matching", () => actOnLetters("requeue")), " ",
      bulkButton("Discard all matching", () => actOnLetters("discard"))),
    el("table", { id: "dead-letters" }),
    el("button", { id: "dead-more", type: "button", hidden: "", onclick: () => loadLetters(true) }, "More"),
    el("p", { id: "dead-message", role: "status" }));
  board.insertBefore(bulk, before);
  board.insertBefore(dead, before);
  for (const id of ["failed", "waiting"]) {
    new MutationObserver(() => addCheckboxes(id)).observe($(id), { childList: true });
  }
  // The board shows once signed in: read the dead letters then, and every 10 s while it shows.
  new MutationObserver(() => { if (!board.hidden) loadLetters(); }).observe(board, { attributes: true, attributeFilter: ["hidden"] });
  setInterval(() => { if (!board.hidden && !document.hidden) loadLetters(); }, 10000);
}

buildPanels();
