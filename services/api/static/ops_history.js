// Guildhall ops dashboard, job history and metric history (issue 22): a searchable, paged list of
// every try (GET /api/v1/ops/jobs), a job's timeline of tries (/ops/jobs/{id}/attempts) and a chart
// of per-minute metrics (/ops/metrics/history). Plain JS and SVG, no dependencies (works offline);
// uses ops.js's helpers (el, api, table, time, ms, badge). Read on demand, never polled.
"use strict";

(function () {
  const board = $("board");
  const section = el("section", { class: "panel", id: "history" },
    el("h2", {}, "Job history ", el("small", { class: "muted" }, "every try, newest first (kept JOB_HISTORY_DAYS)")),
    el("form", { id: "history-form" },
      el("input", { name: "function", placeholder: "function" }),
      el("select", { name: "status" }, ["", "complete", "failed", "retried"].map((s) => el("option", { value: s }, s || "any status"))),
      el("input", { name: "queue", placeholder: "queue" }),
      el("input", { name: "q", placeholder: "text in arguments or error (3+ chars)" }),
      el("button", { type: "submit" }, "Search")),
    el("p", { id: "history-error", class: "error", role: "alert" }),
    el("table", { id: "history-runs" }),
    el("div", {},
      el("button", { type: "button", id: "history-newer", disabled: "" }, "← Newer"),
      el("button", { type: "button", id: "history-older", disabled: "" }, "Older →")),
    el("h3", { id: "timeline-title", hidden: "" }, "Timeline"),
    el("div", { id: "timeline" }),
    el("table", { id: "timeline-tries" }));
  const metrics = el("section", { class: "panel", id: "metrics-history" },
    el("h2", {}, "Metric history ", el("small", { class: "muted" }, "per minute: run and wait time p50/p95/p99, throughput, failures")),
    el("form", { id: "metrics-form" },
      el("input", { name: "function", placeholder: "function (all)" }),
      el("input", { name: "queue", placeholder: "queue (all)" }),
      el("select", { name: "hours" }, [["1", "1 h"], ["6", "6 h"], ["24", "24 h"]].map(([v, t]) => el("option", { value: v }, t))),
      el("button", { type: "submit" }, "Show")),
    el("p", { id: "metrics-error", class: "error", role: "alert" }),
    el("div", { id: "metrics-chart", class: "chart" }));
  board.append(section, metrics);

  let cursors = [null]; // the cursor of each page shown so far (null: the first)
  let page = 0;
  let next = null;

  function query(form, extra) {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value && name !== "hours") params.set(name, value);
    for (const [name, value] of Object.entries(extra)) if (value) params.set(name, value);
    return params.toString();
  }

  async function loadRuns() {
    $("history-error").textContent = "";
    try {
      const body = await api(`/ops/jobs?${query($("history-form"), { cursor: cursors[page], limit: "25" })}`);
      next = body.next_cursor;
      table("history-runs", ["ended", "job", "function", "queue", "#try", "status", "#run", "#wait", "worker", "error"],
        body.items.map((r) => [time(r.ended_at), el("button", { class: "link", type: "button", onclick: () => loadTimeline(r.job_id) }, r.job_id),
          r.function, r.queue, r.attempt, badge(r.status), ms(r.duration_ms), ms(r.wait_ms), r.worker,
          { wrap: r.error_type ? `${r.error_type}: ${r.error_message || ""}` : "" }]),
        "no runs match");
      $("history-older").disabled = !next;
      $("history-newer").disabled = page === 0;
    } catch (error) {
      $("history-error").textContent = error.message;
    }
  }

  async function loadTimeline(jobId) {
    const body = await api(`/ops/jobs/${encodeURIComponent(jobId)}/attempts`);
    $("timeline-title").hidden = false;
    $("timeline-title").textContent = `Timeline of ${jobId}: ${body.items.length} tr${body.items.length === 1 ? "y" : "ies"}`;
    const tries = body.items;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    const width = 800, row = 18;
    svg.setAttribute("viewBox", `0 0 ${width} ${row * Math.max(1, tries.length) + 4}`);
    svg.setAttribute("width", "100%");
    if (tries.length) {
      const t0 = Math.min(...tries.map((t) => Date.parse(t.enqueued_at || t.started_at)));
      const t1 = Math.max(...tries.map((t) => Date.parse(t.ended_at)));
      const x = (iso) => 4 + ((Date.parse(iso) - t0) / Math.max(1, t1 - t0)) * (width - 8);
      tries.forEach((t, i) => {
        const bar = document.createElementNS(svg.namespaceURI, "rect");
        const start = x(t.started_at);
        bar.setAttribute("x", start);
        bar.setAttribute("y", 2 + i * row);
        bar.setAttribute("width", Math.max(2, x(t.ended_at) - start));
        bar.setAttribute("height", row - 4);
        bar.setAttribute("class", t.status === "complete" ? "ok" : t.status === "failed" ? "bad" : "warn");
        bar.setAttribute("fill", t.status === "complete" ? "#2a7" : t.status === "failed" ? "#c33" : "#d90");
        const title = document.createElementNS(svg.namespaceURI, "title");
        title.textContent = `try ${t.attempt}: ${t.status}, ${t.duration_ms} ms on ${t.worker}`;
        bar.append(title);
        svg.append(bar);
      });
    }
    $("timeline").replaceChildren(svg);
    table("timeline-tries", ["#try", "status", "started", "ended", "#run", "#wait", "worker", "error"],
      tries.map((t) => [t.attempt, badge(t.status), time(t.started_at), time(t.ended_at), ms(t.duration_ms), ms(t.wait_ms), t.worker,
        { wrap: t.error_type ? `${t.error_type}: ${t.error_message || ""}` : "" }]),
      "no try recorded (queued, running, or older than the history keeps)");
  }

  function line(svg, points, value, color, top, height, max) {
    const path = document.createElementNS(svg.namespaceURI, "polyline");
    const w = 800 / Math.max(1, points.length - 1);
    path.setAttribute("points", points.map((p, i) => `${i * w},${top + height - (value(p) === null ? 0 : (value(p) / max) * height)}`).join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", color);
    svg.append(path);
  }

  async function loadMetrics() {
    $("metrics-error").textContent = "";
    const form = $("metrics-form");
    const hours = Number(new FormData(form).get("hours"));
    const since = new Date(Date.now() - hours * 3600000).toISOString();
    try {
      const body = await api(`/ops/metrics/history?${query(form, { since, step: String(hours >= 24 ? 5 : 1) })}`);
      const points = body.points;
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 800 260");
      svg.setAttribute("width", "100%");
      const maxRun = Math.max(1, ...points.map((p) => p.run_ms.p99 || 0));
      const maxWait = Math.max(1, ...points.map((p) => p.wait_ms.p99 || 0));
      const maxThroughput = Math.max(1, ...points.map((p) => p.throughput_per_minute));
      line(svg, points, (p) => p.run_ms.p50, "#2a7", 0, 80, maxRun);
      line(svg, points, (p) => p.run_ms.p95, "#d90", 0, 80, maxRun);
      line(svg, points, (p) => p.run_ms.p99, "#c33", 0, 80, maxRun);
      line(svg, points, (p) => p.wait_ms.p50, "#2a7", 90, 80, maxWait);
      line(svg, points, (p) => p.wait_ms.p95, "#d90", 90, 80, maxWait);
      line(svg, points, (p) => p.wait_ms.p99, "#c33", 90, 80, maxWait);
      line(svg, points, (p) => p.throughput_per_minute, "#36c", 180, 60, maxThroughput);
      line(svg, points, (p) => (p.failure_rate || 0) * maxThroughput, "#c33", 180, 60, maxThroughput);
      const o = body.overall;
      $("metrics-chart").replaceChildren(svg, el("p", { class: "muted" },
        `run p50/p95/p99 ${ms(o.run_ms.p50)} / ${ms(o.run_ms.p95)} / ${ms(o.run_ms.p99)} (top band, max ${ms(maxRun)}); ` +
        `wait ${ms(o.wait_ms.p50)} / ${ms(o.wait_ms.p95)} / ${ms(o.wait_ms.p99)} (middle, max ${ms(maxWait)}); ` +
        `throughput ${o.throughput_per_minute.toFixed(1)}/min, failure rate ${o.failure_rate === null ? "–" : (o.failure_rate * 100).toFixed(1) + "%"} (bottom)`));
    } catch (error) {
      $("metrics-error").textContent = error.message;
    }
  }

  $("history-form").addEventListener("submit", (event) => { event.preventDefault(); cursors = [null]; page = 0; loadRuns(); });
  $("history-older").addEventListener("click", () => { cursors[page + 1] = next; page += 1; loadRuns(); });
  $("history-newer").addEventListener("click", () => { page = Math.max(0, page - 1); loadRuns(); });
  $("metrics-form").addEventListener("submit", (event) => { event.preventDefault(); loadMetrics(); });
  // Once signed in (the board shown): the first page and the last hour, then on demand.
  new MutationObserver(() => { if (!board.hidden && cursors.length === 1 && next === null) { loadRuns(); loadMetrics(); } })
    .observe(board, { attributes: true, attributeFilter: ["hidden"] });
})();
