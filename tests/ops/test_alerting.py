"""The shipped alerting: deploy/prometheus/alerts.yml (checked and unit-tested by Debian's promtool,
never skipped: `.ci/run` installs the prometheus package), and deploy/grafana/guildhall.json.

Every metric either file names must be one the app exposes: a real scrape of the app (uvicorn on a
free port, the test database and Redis index, after the production worker ran jobs that completed and
failed, so the job, duration and heartbeat series exist) is compared with the names parsed out of
every alert expression, panel query and template variable query. A made-up name fails the check
(the self-check below), as does a runbook link to a section docs/ops.md does not have.
"""

import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML (schemathesis's dependency) ships no type hints
from arq import ArqRedis
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.engine import URL

from tests.conftest import ROOT, redis_url_for_tests
from tests.ops.conftest import OpsWorker
from tests.support.queues import enqueue
from tests.support.serving import serve_app

PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
BOARD = ROOT / "deploy" / "grafana" / "guildhall.json"
OPS_DOC = ROOT / "docs" / "ops.md"
TOKEN = "alerting-test-metrics-token-0123456789"

# Series Prometheus makes itself for each target, not the app.
PROMETHEUS_SERIES = {"up"}
# PromQL's keywords and aggregation operators: words that are not metric names (functions are known by
# the "(" after them; an aggregation may have `by (...)` between its name and its "(").
PROMQL_WORDS = {
    *("and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"),
    *("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"),
    *("quantile", "limitk", "limit_ratio", "inf", "nan"),
}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__all"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(binary).exists(), "promtool is missing: apt-get install prometheus (.ci/run does)"
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers used bare or before `{` or `[`, once
    strings, label matchers, ranges and label lists are taken out, minus functions and keywords.
    `label_values(metric, label)` (a Grafana variable query) reads its metric."""
    if values := re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", expr, re.DOTALL):
        expr = values.group(1)
    expr = _VARIABLE.sub("1", _STRING.sub('""', expr))
    expr = re.sub(r"\[[^\]]*\]", "[]", re.sub(r"\{[^}]*\}", "{}", expr))
    expr = _LABEL_LIST.sub(r"\1 ()", expr)
    return {m.group(1) for m in _NAME.finditer(expr) if not m.group(2) and m.group(1) not in PROMQL_WORDS}


def exposed_series(scrape: str) -> dict[str, str]:
    """Each series name a scrape offers, to its family: a counter's `_total`, a histogram's `_bucket`,
    `_sum` and `_count` (so a family counts even before its first sample), a gauge's own name."""
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(scrape):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        names |= {family.name + suffix: family.name for suffix in suffixes}
        names |= {sample.name: family.name for sample in family.samples if not sample.name.endswith("_created")}
    return names


def unknown_names(exprs: list[str], exposed: dict[str, str]) -> dict[str, list[str]]:
    """Names the expressions read that neither the app nor Prometheus itself exposes, with where."""
    unknown: dict[str, list[str]] = {}
    for expr in exprs:
        for name in sorted(metric_names(expr) - exposed.keys() - PROMETHEUS_SERIES):
            unknown.setdefault(name, []).append(expr)
    return unknown


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def board() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(BOARD.read_text())
    return loaded


def board_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included; rows themselves are not panels of data."""
    for panel in panels:
        if panel.get("type") == "row":
            yield from board_panels(panel.get("panels", []))
        else:
            yield panel


def board_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in board_panels(dashboard["panels"]) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def doc_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a document's headings: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


# --- promtool -----------------------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    checked = promtool("check", "rules", ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    tested = promtool("test", "rules", ALERT_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_example_prometheus_config_loads_the_rules() -> None:
    checked = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    # The job name the target-down alert matches on.
    assert [job["job_name"] for job in config["scrape_configs"]] == ["guildhall"]
    assert 'up{job="guildhall"}' in next(r["expr"] for r in alert_rules() if r["alert"] == "GuildhallMetricsTargetDown")


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel query, as a recording rule (Grafana's variables given values)."""
    values = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "queue": "guildhall:short"}
    rules = [
        {
            "record": f"guildhall_dashboard:query_{n}",
            "expr": _VARIABLE.sub(lambda m: values[next(filter(None, m.groups()))], expr),
        }
        for n, expr in enumerate(board_exprs(board()))
        if not expr.startswith("label_values(")
    ]
    path = tmp_path / "board.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = promtool("check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- the rules' shape ---------------------------------------------------------------------------------


def test_each_alert_has_a_for_a_severity_its_annotations_and_a_runbook_section_in_docs_ops() -> None:
    anchors = doc_anchors(OPS_DOC.read_text())
    assert "alerts" in anchors
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), name
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= annotations.keys(), name
        doc, _, anchor = annotations["runbook"].partition("#")
        assert doc == "docs/ops.md" and anchor == name.lower() and anchor in anchors, (name, annotations["runbook"])


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    assert {case["alertname"] for case in cases} == names  # none untested, none misspelt (it would pass)
    for name in names:
        fired = [alert for case in cases if case["alertname"] == name for alert in case["exp_alerts"]]
        quiet = [case for case in cases if case["alertname"] == name and case["exp_alerts"] == []]
        assert fired and quiet, name
        for alert in fired:  # the exact labels and every annotation, rendered
            assert "severity" in alert["exp_labels"], name
            assert alert["exp_annotations"].keys() == {"summary", "description", "runbook"}, name


# --- the names, against a real scrape -------------------------------------------------------------------


@pytest.fixture
async def scrape(database_url: URL, job_pool: ArqRedis, ops_worker: OpsWorker) -> AsyncIterator[str]:
    """A real /metrics scrape, after jobs completed and failed on the production worker (its
    heartbeat, per-function counts and durations) and after a few HTTP requests."""
    await enqueue(job_pool, "ops_ok", 1)
    await enqueue(job_pool, "ops_fail", "alerting")
    await ops_worker.run(jobs=2)
    await enqueue(job_pool, "ops_ok", 2, _defer_by=600)
    async with (
        serve_app(database_url, redis_url_for_tests(), metrics_token=SecretStr(TOKEN)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/v1/no-such-route")).status_code == 404
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    yield response.text


async def test_every_metric_the_alerts_and_the_dashboard_read_is_one_the_app_exposes(scrape: str) -> None:
    exposed = exposed_series(scrape)
    alert_exprs = [rule["expr"] for rule in alert_rules()]
    panel_exprs = board_exprs(board())
    assert unknown_names(alert_exprs, exposed) == {}
    assert unknown_names(panel_exprs, exposed) == {}
    # And this scrape had series for each of them, not only their families' declarations.
    sampled = {sample.name for family in text_string_to_metric_families(scrape) for sample in family.samples}
    used = set().union(*map(metric_names, alert_exprs + panel_exprs)) - PROMETHEUS_SERIES
    assert used - sampled == set()
    assert {"guildhall_jobs_total", "guildhall_job_duration_seconds_bucket", "guildhall_job_records"} <= used
    assert {"guildhall_worker_heartbeat_age_seconds", "guildhall_http_request_duration_seconds_bucket"} <= used


async def test_heartbeats_name_their_queue_as_the_queue_gauges_do(scrape: str) -> None:
    """GuildhallWorkersDown matches heartbeats to queues `on (queue)`: the labels must agree."""
    queues: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            queues.setdefault(sample.name, set()).add(sample.labels.get("queue", ""))
    assert queues["guildhall_worker_heartbeat_age_seconds"] == {"guildhall:short"}  # the test's worker
    assert queues["guildhall_queue_jobs"] == {"guildhall:short", "guildhall:bulk"}  # every queue, even idle


async def test_a_made_up_metric_name_fails_the_check(scrape: str) -> None:
    exposed = exposed_series(scrape)
    fake = 'sum(rate(guildhall_made_up_total{queue="guildhall:short"}[5m])) / guildhall_queue_jobs'
    assert unknown_names([fake], exposed) == {"guildhall_made_up_total": [fake]}
    dashboard = board()
    dashboard["panels"].append({"type": "timeseries", "targets": [{"expr": "max(guildhall_no_such_gauge)"}]})
    assert unknown_names(board_exprs(dashboard), exposed).keys() == {"guildhall_no_such_gauge"}
    alerts = [*(rule["expr"] for rule in alert_rules()), "histogram_quantile(0.9, rate(guildhall_nope_bucket[5m]))"]
    assert unknown_names(alerts, exposed).keys() == {"guildhall_nope_bucket"}


def test_the_name_parser_reads_metrics_and_nothing_else() -> None:
    expr = """
      histogram_quantile(0.99, sum by (le, route) (rate(http_latency_bucket{le=~"0.5|1"}[5m] offset 1h)))
      > on (route) group_left (team) max without (instance) (slo_seconds) * 2e3
      and absent(up{job="x"}) or vector(1) unless bare_gauge + count_values("v", other:recorded[1h:5m])
      or topk($n, sum by (function) (rate(jobs_total{queue=~"$queue"}[$__rate_interval])))
    """
    assert metric_names(expr) == {
        "http_latency_bucket",
        "slo_seconds",
        "up",
        "bare_gauge",
        "other:recorded",
        "jobs_total",
    }
    assert metric_names("label_values(guildhall_queue_jobs, queue)") == {"guildhall_queue_jobs"}
    assert exposed_series("# TYPE h histogram\n# TYPE c_total counter\nc_total 1\n# TYPE g gauge\ng 0\n") == {
        "h_bucket": "h",
        "h_sum": "h",
        "h_count": "h",
        "c_total": "c",
        "g": "g",
    }


# --- the dashboard's shape ----------------------------------------------------------------------------


def test_every_panel_has_a_title_a_datasource_and_a_query() -> None:
    dashboard = board()
    assert 36 <= dashboard["schemaVersion"] <= 41 and dashboard["uid"] and dashboard["title"]
    panels = list(board_panels(dashboard["panels"]))
    assert len(panels) >= 12
    for panel in panels:
        assert panel.get("title"), panel
        assert panel.get("datasource") == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel.get("targets") and all(target.get("expr", "").strip() for target in panel["targets"]), panel[
            "title"
        ]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"]), panel["title"]
    titles = [panel["title"] for panel in panels]
    assert len(set(titles)) == len(titles)


def test_every_variable_a_query_uses_is_defined() -> None:
    dashboard = board()
    defined = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"DS_PROMETHEUS", "queue"} <= defined
    source = next(v for v in dashboard["templating"]["list"] if v["name"] == "DS_PROMETHEUS")
    assert source["type"] == "datasource" and source["query"] == "prometheus"
    queue = next(v for v in dashboard["templating"]["list"] if v["name"] == "queue")
    assert queue["query"]["query"] == "label_values(guildhall_queue_jobs, queue)" and queue["includeAll"]
    used = {
        next(filter(None, match.groups()))
        for text in [*board_exprs(dashboard), json.dumps(dashboard["panels"])]
        for match in _VARIABLE.finditer(text)
    }
    assert used - GRAFANA_BUILTINS <= defined, used - GRAFANA_BUILTINS - defined
    assert "queue" in used  # the queue variable filters the queue panels
