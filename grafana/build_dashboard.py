#!/usr/bin/env python3
"""Builds grafana/dashboards/resetgate.json, the dashboard ops watch during an incident.

The JSON is generated so that layout, ids and the datasource wiring stay consistent by
construction; edit this file, run it, and commit both. `--check` exits 1 when the committed JSON
differs from what this script builds (CI runs it).

Every query selects `instance=~"$instance"` and uses `$__rate_interval`, so the dashboard works on
any scrape interval and for one replica or all of them. Values that every replica reports alike
(outbox and campaign state, read from the shared database) are combined with max(), not sum().
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "resetgate.json"
UID = "resetgate-overview"
# Grafana 12.1+ classic dashboard model; older servers migrate it forward on load.
SCHEMA_VERSION = 42
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
RI = "$__rate_interval"
# The error codes that mean "refused to protect itself" (src/error_code.rs ErrorCode::SHED) and
# "failed at its job"; the same sets as in deploy/prometheus/resetgate-rules.yml.
SHED = "hashing_overloaded|overloaded|timeout"
FAILURES = "internal_error|service_unavailable"
# Label matchers, named because f-string expressions cannot hold the quotes they need.
FAILURE_CODES = f'code=~"{FAILURES}"'
SHED_CODES = f'code=~"{SHED}"'
REFUSED_CODES = f'code=~"{SHED}|rate_limited"'
NOT_HASHED = 'outcome=~"shed|expired|abandoned"'
API_ROUTES = 'route!~"livez|readyz|metrics"'
COMPLETED = 'outcome="completed"'
# The lanes people wait in (the background lane rehashes; nobody waits for it).
PEOPLE_SERVED = 'outcome="completed",lane=~"login|confirm"'
MARKED = 'stage="marked"'
TOTAL = 'stage="total"'
SENT = 'status="sent"'


def sel(extra=""):
    return "{" + (extra + "," if extra else "") + SEL + "}"


def rate(metric, extra=""):
    return f"rate({metric}{sel(extra)}[{RI}])"


class Layout:
    """Places panels left to right on Grafana's 24-column grid, starting a new line when full."""

    def __init__(self):
        self.panels = []
        self.y = 0
        self.x = 0
        self.line_h = 0
        self.next_id = 1

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def _newline(self):
        self.y += self.line_h
        self.x = 0
        self.line_h = 0

    def panel(self, kind, title, description, targets, unit="short", w=8, h=8, **extra):
        if self.x + w > 24:
            self._newline()
        refs = "ABCDEFGH"
        panel = {
            "type": kind,
            "id": self._id(),
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
            "targets": [
                {"refId": refs[i], "datasource": DS, "expr": expr, "legendFormat": legend, "range": True}
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if kind == "timeseries":
            panel["fieldConfig"]["defaults"]["custom"] = {"fillOpacity": 10, "showPoints": "never"}
            panel["options"] = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        elif kind == "stat":
            panel["options"] = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value",
                "graphMode": "area",
                "textMode": "auto",
            }
        for key, value in extra.items():
            if key == "thresholds":
                panel["fieldConfig"]["defaults"]["thresholds"] = {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}]
                    + [{"color": c, "value": v} for v, c in value],
                }
            elif key in ("min", "max"):
                panel["fieldConfig"]["defaults"][key] = value
            else:
                panel[key] = value
        self.panels.append(panel)
        self.x += w
        self.line_h = max(self.line_h, h)


def quantiles(metric, by, legend_prefix):
    group = ", ".join(["le"] + by)
    label = "".join(f" {{{{{b}}}}}" for b in by)
    return [
        (
            f"histogram_quantile({q}, sum by ({group}) ({rate(metric + '_bucket')}))",
            f"{legend_prefix} p{int(q * 100)}{label}",
        )
        for q in (0.5, 0.99)
    ]


def build():
    d = Layout()

    d.row("Traffic")
    d.panel(
        "timeseries",
        "Requests by status class",
        "Public, ops and admin requests per second by status class. 503s here include honest "
        "shedding; see Admission for why requests were refused.",
        [(f"sum by (status_class) ({rate('resetgate_http_requests_total')})", "{{status_class}}")],
        unit="reqps",
    )
    d.panel(
        "timeseries",
        "Requests by route",
        "Requests per second by route (a fixed set of names; unknown paths count as unmatched).",
        [(f"sum by (route) ({rate('resetgate_http_requests_total')})", "{{route}}")],
        unit="reqps",
    )
    d.panel(
        "timeseries",
        "Latency p50 / p99 by route",
        "Time from the first byte of a request to its response, by route. Reset requests are padded "
        "to RESETGATE_RESET_FLOOR_MS on purpose (equal timing).",
        quantiles("resetgate_http_request_duration_seconds", ["route"], ""),
        unit="s",
    )
    d.panel(
        "stat",
        "Failure ratio (not shedding)",
        "Share of API requests (not probes or scrapes) answered internal_error or "
        "service_unavailable (database unreachable) over the rate window. Shedding is not a failure and is shown under Admission. Alert: "
        "ResetgateErrorRatioHigh.",
        [
            (
                f"sum({rate('resetgate_http_errors_total', FAILURE_CODES)}) / "
                f"clamp_min(sum({rate('resetgate_http_requests_total', API_ROUTES)}), 1e-9)",
                "failures",
            )
        ],
        unit="percentunit",
        w=6,
        thresholds=[(0.001, "orange"), (0.01, "red")],
    )
    d.panel(
        "stat",
        "Resets completed",
        "Passwords changed through a reset link, over the dashboard's time range.",
        [(f"sum(increase(resetgate_resets_completed_total{sel()}[$__range]))", "completed")],
        w=6,
    )
    d.panel(
        "timeseries",
        "Reset requests by outcome",
        "Reset requests per second: issued (known account) or unknown_account. Both are answered "
        "alike to the client.",
        [(f"sum by (outcome) ({rate('resetgate_reset_requests_total')})", "{{outcome}}")],
        unit="reqps",
        w=12,
    )

    d.row("Admission")
    d.panel(
        "timeseries",
        "Rate-limited by limiter",
        "Requests refused with 429 by each token bucket: global, ip (IPv6 by /64), email "
        "(per address per hour, shared across replicas).",
        [(f"sum by (limiter) ({rate('resetgate_rate_limited_total')})", "{{limiter}}")],
        unit="reqps",
    )
    d.panel(
        "timeseries",
        "Shed by lane and reason",
        "Hashing jobs not hashed, per second: shed (refused at admission, queue over budget), "
        "expired (waited past the deadline), abandoned (client went away).",
        [
            (
                f"sum by (lane, outcome) ({rate('resetgate_hash_jobs_total', NOT_HASHED)})",
                "{{lane}} {{outcome}}",
            )
        ],
        unit="ops",
    )
    d.panel(
        "timeseries",
        "Refused requests by reason",
        "Responses that refused work, per second, by error code: hashing_overloaded (pool over "
        "budget), overloaded (too many requests in flight), timeout, rate_limited.",
        [
            (
                f"sum by (code) ({rate('resetgate_http_errors_total', REFUSED_CODES)})",
                "{{code}}",
            )
        ],
        unit="reqps",
    )
    d.panel(
        "stat",
        "Shed ratio",
        "Share of requests refused to protect the service (hashing_overloaded, overloaded, "
        "timeout). Alert: ResetgateSustainedShedding.",
        [
            (
                f"sum({rate('resetgate_http_errors_total', SHED_CODES)}) / "
                f"clamp_min(sum({rate('resetgate_http_requests_total', API_ROUTES)}), 1e-9)",
                "shed",
            )
        ],
        unit="percentunit",
        w=6,
        thresholds=[(0.01, "orange"), (0.05, "red")],
    )
    d.panel(
        "timeseries",
        "Rate limiter keys",
        "Client keys each keyed limiter tracks (memory grows with distinct clients).",
        [(f"sum by (limiter) (resetgate_rate_limiter_keys{sel()})", "{{limiter}}")],
        w=6,
    )
    d.panel(
        "timeseries",
        "Hashing jobs offered by lane",
        "Hashing jobs per second by lane, hashed or not: confirm (reset confirmations), login, "
        "background (rehash on login). Compare with Shed by lane and reason.",
        [(f"sum by (lane) ({rate('resetgate_hash_jobs_total')})", "{{lane}}")],
        unit="ops",
        w=12,
    )

    d.row("Hashing pool")
    d.panel(
        "timeseries",
        "Queue depth by lane",
        "Jobs waiting for an argon2 worker. The queue is bounded by the budget: it cannot grow "
        "beyond what W workers hash within RESETGATE_HASH_QUEUE_BUDGET_MS.",
        [(f"sum by (lane) (resetgate_hash_queue_depth{sel()})", "{{lane}}")],
    )
    d.panel(
        "timeseries",
        "In flight vs workers",
        "Jobs hashing right now against W, the number of argon2 worker threads.",
        [
            (f"sum(resetgate_hash_in_flight{sel()})", "in flight"),
            (f"sum(resetgate_hash_workers{sel()})", "workers (W)"),
        ],
    )
    d.panel(
        "timeseries",
        "Queue wait p50 / p99 vs budget",
        "Time jobs waited for a worker, by lane, against the configured queue budget. p99 near the "
        "budget means shedding is imminent. Alert: ResetgateQueueWaitNearBudget.",
        quantiles("resetgate_hash_queue_wait_seconds", ["lane"], "wait")
        + [(f"max(resetgate_hash_queue_budget_seconds{sel()})", "budget")],
        unit="s",
    )
    d.panel(
        "timeseries",
        "Hash time p50 / p99",
        "argon2id time per hash by lane. Rising with constant load means CPU contention.",
        quantiles("resetgate_hash_duration_seconds", ["lane"], "hash"),
        unit="s",
    )
    d.panel(
        "timeseries",
        "Hashes vs capacity",
        "Hashes completed per second against capacity (W / measured hash time). Goodput at "
        "capacity with shedding above it is the design working.",
        [
            (f"sum({rate('resetgate_hash_jobs_total', COMPLETED)})", "completed"),
            (f"sum(resetgate_hash_capacity_per_second{sel()})", "capacity"),
        ],
        unit="ops",
    )
    d.panel(
        "timeseries",
        "Worker utilisation",
        "Share of worker time spent hashing (hash seconds per second / W).",
        [
            (
                f"sum({rate('resetgate_hash_duration_seconds_sum')}) / "
                f"clamp_min(sum(resetgate_hash_workers{sel()}), 1)",
                "utilisation",
            )
        ],
        unit="percentunit",
        min=0,
        max=1,
    )

    d.row("Waiting room")
    d.panel(
        "timeseries",
        "The line and how fast it moves",
        "Clients turned away and not yet served, by lane (summed over replicas), against the rate "
        "each lane is served. The line divided by that rate is the wait the shed answers announce. "
        "A long line: add hash workers or replicas (docs/waiting-room.md).",
        [
            (f"sum by (lane) (resetgate_waiting_clients{sel()})", "waiting {{lane}}"),
            (
                f"sum by (lane) ({rate('resetgate_hash_jobs_total', PEOPLE_SERVED)})",
                "served per second {{lane}}",
            ),
        ],
    )
    d.panel(
        "timeseries",
        "Minutes to clear the line",
        "Everyone now in line, over the rate the pool serves people: how long the last of them "
        "waits if nobody else arrives.",
        [
            (
                f"sum(resetgate_waiting_clients{sel()}) / clamp_min(sum("
                f"{rate('resetgate_hash_jobs_total', PEOPLE_SERVED)}), 0.001) / 60",
                "minutes",
            )
        ],
        unit="m",
        min=0,
    )
    d.panel(
        "timeseries",
        "Shed answers by announced wait",
        "Shed answers per second by their Retry-After bucket (seconds, cumulative: le=60 counts every "
        "answer of a minute or less). Mass in the high buckets is a long line.",
        [(f"sum by (le) ({rate('resetgate_waiting_retry_after_seconds_bucket')})", "≤ {{le}} s")],
        unit="ops",
    )
    d.panel(
        "timeseries",
        "Time in line when served",
        "Ticket holders served per second by how long they had been in line (seconds, cumulative).",
        [(f"sum by (le) ({rate('resetgate_waiting_ticket_age_seconds_bucket')})", "≤ {{le}} s")],
        unit="ops",
    )

    d.row("Database pool")
    d.panel(
        "timeseries",
        "Connections",
        "PostgreSQL connections: open, idle and the configured maximum (RESETGATE_DB_POOL_SIZE), "
        "summed over replicas.",
        [
            (f"sum(resetgate_db_pool_size{sel()})", "open"),
            (f"sum(resetgate_db_pool_available{sel()})", "idle"),
            (f"sum(resetgate_db_pool_max{sel()})", "max"),
        ],
    )
    d.panel(
        "timeseries",
        "Waiting for a connection",
        "Requests waiting for a pool connection. Sustained waiting with no idle connection is "
        "ResetgateDbPoolExhausted.",
        [(f"sum by (instance) (resetgate_db_pool_waiting{sel()})", "{{instance}}")],
    )
    d.panel(
        "timeseries",
        "Pool in use",
        "Share of the maximum connections in use, per replica.",
        [
            (
                f"(resetgate_db_pool_size{sel()} - resetgate_db_pool_available{sel()}) / "
                f"clamp_min(resetgate_db_pool_max{sel()}, 1)",
                "{{instance}}",
            )
        ],
        unit="percentunit",
        min=0,
        max=1,
    )

    d.row("Outbox and campaigns")
    d.panel(
        "timeseries",
        "Outbox backlog",
        "Messages not yet delivered (shared by all replicas), and by status: pending, held "
        "(paused campaign), dead (gave up; list them with GET /admin/v1/outbox). Alert: "
        "ResetgateOutboxBacklogGrowing.",
        [
            (f"max(resetgate_outbox_backlog{sel()})", "backlog"),
            (f"max by (status) (resetgate_outbox_messages{sel()})", "{{status}}"),
        ],
    )
    d.panel(
        "timeseries",
        "Send rate vs budget",
        "Messages delivered per second by kind, across replicas, against the shared send budget "
        "(RESETGATE_MAIL_RATE_PER_SEC).",
        [
            (f"sum by (kind) ({rate('resetgate_outbox_sent_total')})", "{{kind}}"),
            (f"max(resetgate_mail_send_budget_per_second{sel()})", "budget"),
        ],
        unit="ops",
    )
    d.panel(
        "timeseries",
        "Delivery failures",
        "Failed sends per second: retry (will try again with backoff) or dead.",
        [(f"sum by (outcome) ({rate('resetgate_outbox_failed_total')})", "{{outcome}}")],
        unit="ops",
    )
    d.panel(
        "bargauge",
        "Campaign progress",
        "Share of each campaign's accounts marked must-reset and notified (email sent).",
        [
            (
                f"max by (campaign) (resetgate_campaign_accounts{sel(MARKED)}) / "
                f"clamp_min(max by (campaign) (resetgate_campaign_accounts{sel(TOTAL)}), 1)",
                "#{{campaign}} marked",
            ),
            (
                f"max by (campaign) (resetgate_campaign_emails{sel(SENT)}) / "
                f"clamp_min(max by (campaign) (resetgate_campaign_accounts{sel(TOTAL)}), 1)",
                "#{{campaign}} notified",
            ),
        ],
        unit="percentunit",
        min=0,
        max=1,
    )
    d.panel(
        "timeseries",
        "Campaign send rate vs budget",
        "Each campaign's notices per second over the last minute, against the global budget. "
        "Transactional mail (reset links) goes first, so a campaign gets what is left.",
        [
            (f"max by (campaign) (resetgate_campaign_send_rate_per_second{sel()})", "#{{campaign}}"),
            (f"max(resetgate_mail_send_budget_per_second{sel()})", "budget"),
        ],
        unit="ops",
    )
    d.panel(
        "stat",
        "Campaign ETA",
        "Time until each campaign's last notice is sent at its current rate (0 when done, "
        "paused or stalled; see ResetgateCampaignStalled).",
        [(f"max by (campaign) (resetgate_campaign_eta_seconds{sel()})", "#{{campaign}}")],
        unit="s",
    )
    d.panel(
        "table",
        "Campaign phase",
        "The phase of the 20 most recent campaigns: marking, notifying, completed, paused, "
        "cancelled.",
        [(f"max by (campaign, phase) (resetgate_campaign_phase{sel()}) == 1", "")],
        w=24,
        h=6,
    )

    d.row("Process")
    d.panel(
        "timeseries",
        "Resident memory",
        "RSS per replica. Hashing memory is fixed at W × m_cost; growth beyond that is a leak or "
        "rate-limiter keys.",
        [(f"process_resident_memory_bytes{sel()}", "{{instance}}")],
        unit="bytes",
    )
    d.panel(
        "timeseries",
        "CPU",
        "CPU cores used per replica. Under a burst this should sit near W (the hashing workers).",
        [(f"rate(process_cpu_seconds_total{sel()}[{RI}])", "{{instance}}")],
    )
    d.panel(
        "timeseries",
        "Threads and open files",
        "OS threads (W hashing workers plus the runtime) and open file descriptors per replica.",
        [
            (f"process_threads{sel()}", "threads {{instance}}"),
            (f"process_open_fds{sel()}", "fds {{instance}}"),
        ],
    )

    return {
        "uid": UID,
        "title": "resetgate",
        "description": "Admission, hashing pool, database, outbox and campaigns of the resetgate "
        "password-reset gateway. Runbooks: docs/operations.md.",
        "tags": ["resetgate"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "utc",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                },
                {
                    "name": "instance",
                    "label": "Replica",
                    "type": "query",
                    "datasource": DS,
                    "definition": "label_values(resetgate_hash_workers, instance)",
                    "query": {
                        "query": "label_values(resetgate_hash_workers, instance)",
                        "refId": "instance",
                    },
                    # No custom "All" value: Grafana then sends the listed replicas, so "All"
                    # never matches other jobs' process_* series in a shared Prometheus.
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": ["All"], "value": ["$__all"]},
                    "refresh": 2,
                    "sort": 1,
                    "hide": 0,
                    "options": [],
                },
            ]
        },
        "panels": d.panels,
        "links": [],
    }


def main():
    text = json.dumps(build(), indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is not what {Path(__file__).name} builds; run it and commit", file=sys.stderr)
            return 1
        print(f"{OUT.name} is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
