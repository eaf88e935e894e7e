// Guildhall ops dashboard, queue controls and crons (loaded after ops.js, whose helpers it uses:
// $, el, api, badge, time, ms, canAct, refresh, NEEDS_ADMIN). The Queues table's State column says
// whether each queue is paused (since when, by whom), with Pause / Resume for admins (an operator
// sees them disabled; the server refuses them too). The Crons panel lists each periodic job: its
// schedule, last run and outcome (a failure's error), and next run.
"use strict";

const CRONS_POLL_MS = 5000;

// ---- queue state (a cell of the Queues table, drawn by ops.js's render) ---------------------

function queueState(q) {
  const action = q.paused ? "resume" : "pause";
  const button = el("button", {
    type: "button", "data-queue-action": action, "data-queue": q.queue,
    disabled: canAct() ? null : "", title: canAct() ? null : NEEDS_ADMIN,
    onclick: () => controlQueue(q.queue, action),
  }, q.paused ? "Resume" : "Pause");
  if (!q.paused) return el("span", {}, badge("running"), " ", button);
  const who = q.paused_by ? ` by ${q.paused_by}` : "";
  return el("span", {}, badge("paused"), el("span", { class: "muted" }, ` since ${time(q.paused_at)}${who} `), button);
}

async function controlQueue(queue, action) {
  if (action === "pause" && !confirm(`Pause ${queue}? Its workers stop claiming jobs (running ones finish) and its crons stop until it is resumed.`)) return;
  try {
    const answer = await api(`/ops/queues/${encodeURIComponent(queue)}/${action}`, { method: "POST" });
    $("status").textContent = answer.detail;
  } catch (error) {
    $("status").textContent = `${action} ${queue}: ${error.message}`;
  }
  refresh();
  loadCrons();
}

// ---- crons ------------------------------------------------------------------------------------

async function loadCrons() {
  if ($("board").hidden || document.hidden) return;
  let view;
  try {
    view = await api("/ops/crons");
  } catch (error) {
    $("crons-error").textContent = `cannot read the crons: ${error.message}`;
    return;
  }
  $("crons-error").textContent = "";
  table("crons", ["Cron", "Queue", "Schedule", "Last run", "Outcome", "#Took", "Error", "Last complete", "Next run"],
    view.crons.map((c) => {
      const run = c.last_run;
      const error = run && run.error_type ? `${run.error_type}: ${run.error_message || ""}` : "";
      return [c.function, c.queue, c.schedule, run ? time(run.started_at) : "never (since Redis was emptied)",
        run ? badge(run.outcome) : "–", run ? ms(run.duration_ms) : "–", error ? { wrap: error } : "",
        time(c.last_complete_at), c.paused ? el("span", { class: "muted" }, "skipped: queue paused") : time(c.next_run_at)];
    }), "no periodic jobs");
}

{
  const board = $("board");
  new MutationObserver(() => { if (!board.hidden) loadCrons(); }).observe(board, { attributes: true, attributeFilter: ["hidden"] });
  setInterval(loadCrons, CRONS_POLL_MS);
}
