#!/usr/bin/env python3
"""Static checks of grafana/ and deploy/prometheus/ that no external tool makes.

- The committed dashboard is what grafana/build_dashboard.py builds.
- The dashboard is provisioning-ready: no `__inputs`, the stable uid, a current schemaVersion, the
  datasource chosen by a `datasource` template variable that every panel and query uses.
- Every row the issue asks for is there; panel ids are unique; no two panels overlap.
- The provisioning YAML points Grafana at the dashboards directory and at Prometheus.
- Every alert has a runbook annotation whose anchor is a heading in docs/operations.md.
- Every metric a dashboard query, a rule or a rule test names is one the gateway exports, as
  docs/metrics.md (generated from src/metrics.rs) lists them: a renamed or removed metric cannot
  leave a panel or an alert silently empty.
- Writes every dashboard query, with Grafana's variables substituted, as a recording rule into
  the file named by argv[1], so that `promtool check rules` parses each one (.ci/check-monitoring).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "grafana" / "dashboards" / "resetgate.json"
RULES = ROOT / "deploy" / "prometheus" / "resetgate-rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "resetgate-rules.test.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
METRICS_DOC = ROOT / "docs" / "metrics.md"
ROWS = ["Traffic", "Admission", "Hashing pool", "Waiting room", "Database pool", "Outbox and campaigns", "Process"]
MIN_SCHEMA_VERSION = 41

# What Grafana substitutes before a query reaches Prometheus. The values only need to make the
# query valid; tests/api/dashboard.rs runs them against a real Prometheus with its own.
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s", "$instance": ".+"}

errors = []


def check(ok, message):
    if not ok:
        errors.append(message)


def substitute(expr):
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    return expr


def walk_keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from walk_keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_keys(v)


def dashboard_queries(dash):
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["refId"], target["expr"]


def check_dashboard(dash):
    built = subprocess.run(
        [sys.executable, str(ROOT / "grafana" / "build_dashboard.py"), "--check"],
        capture_output=True,
        text=True,
    )
    check(built.returncode == 0, built.stderr.strip() or "build_dashboard.py --check failed")

    check("__inputs" not in set(walk_keys(dash)), "the dashboard has __inputs (an export, not provisioning-ready)")
    check(dash.get("uid") == "resetgate-overview", f"uid must stay resetgate-overview, is {dash.get('uid')!r}")
    check(dash.get("id") is None, "a provisioned dashboard must not carry a database id")
    check(
        isinstance(dash.get("schemaVersion"), int) and dash["schemaVersion"] >= MIN_SCHEMA_VERSION,
        f"schemaVersion {dash.get('schemaVersion')} is older than {MIN_SCHEMA_VERSION}",
    )
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables.get("datasource", {})
    check(ds.get("type") == "datasource" and ds.get("query") == "prometheus", "no Prometheus datasource variable")

    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    check(rows == ROWS, f"rows are {rows}, expected {ROWS}")

    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), "panel ids are not unique")
    cells = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        check(g["x"] + g["w"] <= 24, f"panel {p['title']!r} is wider than the grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                other = cells.setdefault((x, y), p["title"])
                check(other == p["title"], f"panels {other!r} and {p['title']!r} overlap")

    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        check(p.get("datasource", {}).get("uid") == "${datasource}", f"panel {p['title']!r} has a fixed datasource")
        check(p.get("targets"), f"panel {p['title']!r} has no query")
        check(p.get("description"), f"panel {p['title']!r} has no description")
        for t in p.get("targets", []):
            check(t.get("datasource", {}).get("uid") == "${datasource}", f"{p['title']!r}/{t['refId']} has a fixed datasource")
            check('instance=~"$instance"' in t["expr"], f"{p['title']!r}/{t['refId']} ignores the instance variable")


def check_provisioning():
    ds = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    check(ds.get("apiVersion") == 1, "datasource provisioning: apiVersion must be 1")
    sources = ds.get("datasources") or []
    check(any(s.get("type") == "prometheus" and s.get("url") for s in sources), "no Prometheus datasource with a url")
    dashboards = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/resetgate.yml").read_text())
    check(dashboards.get("apiVersion") == 1, "dashboard provisioning: apiVersion must be 1")
    providers = dashboards.get("providers") or []
    check(
        any(p.get("type") == "file" and p.get("options", {}).get("path") for p in providers),
        "no file dashboard provider with a path",
    )


def anchor(heading):
    """GitHub's anchor for a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_runbooks():
    rules = yaml.safe_load(RULES.read_text())
    anchors = set()
    if OPERATIONS.exists():
        for line in OPERATIONS.read_text().splitlines():
            if line.startswith("#"):
                anchors.add(anchor(line.lstrip("#")))
    else:
        errors.append(f"{OPERATIONS.relative_to(ROOT)} is missing")
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    check(alerts, "no alerts in the rules file")
    for r in alerts:
        runbook = r.get("annotations", {}).get("runbook", "")
        check(runbook.startswith("docs/operations.md#"), f"{r['alert']}: runbook must point into docs/operations.md")
        check(runbook.split("#", 1)[-1] in anchors, f"{r['alert']}: {runbook} has no heading in docs/operations.md")


def exported_metrics():
    """Family name -> type, from the tables of docs/metrics.md."""
    families = {}
    for line in METRICS_DOC.read_text().splitlines():
        m = re.match(r"\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram) \|", line)
        if m:
            families[m.group(1)] = m.group(2)
    return families


def named_metrics(expr):
    # Ours and the process collector's; recording rules (resetgate:...) and `up` are not exports.
    return set(re.findall(r"\b(?:resetgate|process)_[a-z0-9_]+\b", expr))


def check_metric_names(dash):
    if not METRICS_DOC.exists():
        errors.append(f"{METRICS_DOC.relative_to(ROOT)} is missing")
        return
    families = exported_metrics()
    check(families, f"no metric families found in {METRICS_DOC.relative_to(ROOT)}")

    def exported(name):
        if name in families:
            return True
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
                return True
        return False

    uses = [(f"dashboard {title}/{ref}", expr) for title, ref, expr in dashboard_queries(dash)]
    for g in yaml.safe_load(RULES.read_text())["groups"]:
        for r in g["rules"]:
            uses.append((f"rule {r.get('record') or r.get('alert')}", r["expr"]))
    for t in yaml.safe_load(RULES_TEST.read_text()).get("tests", []):
        for s in t.get("input_series", []):
            uses.append((f"{RULES_TEST.name} input", s["series"]))
    missing = {(where, name) for where, expr in uses for name in named_metrics(expr) if not exported(name)}
    for where, name in sorted(missing):
        errors.append(f"{where}: {name} is not exported (not in docs/metrics.md)")


def write_queries_as_rules(path):
    dash = json.loads(DASHBOARD.read_text())
    rules = []
    for i, (title, ref, expr) in enumerate(dashboard_queries(dash)):
        rules.append({"record": f"dashboard_query_{i}", "expr": substitute(expr), "labels": {"panel": f"{title}/{ref}"}})
    Path(path).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
    return len(rules)


def main():
    dash = json.loads(DASHBOARD.read_text())
    check_dashboard(dash)
    check_provisioning()
    check_runbooks()
    check_metric_names(dash)
    if len(sys.argv) > 1:
        n = write_queries_as_rules(sys.argv[1])
        print(f"wrote {n} dashboard queries to {sys.argv[1]} for promtool")
    if errors:
        for e in errors:
            print(f"check_grafana: {e}", file=sys.stderr)
        return 1
    print("check_grafana: dashboard, provisioning, runbook links and metric names are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
