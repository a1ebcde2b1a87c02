#!/usr/bin/env python3
"""Cross-file checks of deploy/ that no schema can make, run by .ci/check-deploy.

The schemas say each file is well formed; this says the files agree with each other and with the
gateway:

- shutdown: every supervisor (Kubernetes, systemd, Docker) waits longer than the gateway can take
  to stop, i.e. preStop sleep + RESETGATE_SHUTDOWN_DELAY_MS + RESETGATE_DRAIN_TIMEOUT_MS + margin;
- sizing: CPU request == RESETGATE_HASH_WORKERS (W), memory >= W x RESETGATE_ARGON2_M_KIB + headroom;
- wiring: ports, probes, names, selectors, secrets and mounts that refer to each other exist;
- with --binary: the real `resetgate check-config --mode serve` accepts the configuration each
  artefact gives it, knows every RESETGATE_* variable set there, and refuses the Secret's
  CHANGE-ME placeholders.

Usage: check_deploy_consistency.py [--binary target/debug/resetgate]   (from the repository root)
Needs PyYAML. Prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DEPLOY = Path("deploy")
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
HAPROXY = DEPLOY / "haproxy.cfg"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
UNIT = DEPLOY / "systemd" / "resetgate.service"
ENV_FILE = DEPLOY / "systemd" / "resetgate.env"

# The gateway's defaults for the settings whose arithmetic is checked here, used when an artefact
# leaves one unset. With --binary (as CI runs it) they are read from the gateway itself
# (`check-config --mode demo` with nothing set), so they cannot drift from its declarations; these
# values are only the fallback for a run without a binary.
DEFAULTS = {
    "RESETGATE_SHUTDOWN_DELAY_MS": 0,
    "RESETGATE_DRAIN_TIMEOUT_MS": 30000,
    "RESETGATE_ARGON2_M_KIB": 19456,
}


def load_defaults(binary: str) -> None:
    """Replaces DEFAULTS with what the gateway itself says, failing loudly if it cannot."""
    out = subprocess.run(
        [binary, "check-config", "--mode", "demo"],
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{binary} check-config --mode demo failed: {out.stderr.strip()}")
    shown = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line and not line.startswith("#"))
    for key in DEFAULTS:
        if key not in shown:
            raise SystemExit(f"{binary} check-config does not print {key}")
        DEFAULTS[key] = int(shown[key])
# Memory beyond the argon2 blocks: runtime, blocklist, connections, request bodies. With W = 2 the
# gateway's resident set is about 68 MiB under load (docs/perf.md), 38 MiB of it argon2 blocks, so
# this leaves room for a burst of in-flight requests and database connections.
HEADROOM_MIB = 128
# The process needs a moment to exit after the drain ends; a supervisor that waits exactly
# delay + drain would SIGKILL a gateway that is finishing on time.
MIN_MARGIN_S = 1
# Files the monitoring work provides (deploy/prometheus/resetgate-rules.yml, grafana/...): the
# compose file must mount exactly these paths. Every other bind-mount source must exist.
AGREED_MOUNTS = {
    "./prometheus/resetgate-rules.yml": "/etc/prometheus/resetgate-rules.yml",
    "../grafana/provisioning": "/etc/grafana/provisioning",
    "../grafana/dashboards": "/var/lib/grafana/dashboards",
}

failures: list[str] = []


def check(ok: bool, what: str, detail: str = "") -> bool:
    if ok:
        print(f"ok    {what}")
    else:
        print(f"FAIL  {what}{': ' + detail if detail else ''}")
        failures.append(what)
    return ok


# --- parsing helpers -----------------------------------------------------------------------------


def k8s_cpu(q) -> float:
    s = str(q)
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)


def k8s_bytes(q) -> int:
    s = str(q)
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "k": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
    }
    for suffix in sorted(units, key=len, reverse=True):
        if s.endswith(suffix):
            return int(float(s[: -len(suffix)]) * units[suffix])
    return int(s)


def docker_bytes(q) -> int:
    """Compose/Docker byte values: b, k, m, g are binary multiples."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(q).strip().lower())
    if not m:
        raise ValueError(f"not a byte value: {q!r}")
    return int(float(m[1]) * {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m[2]])


def go_duration_s(d) -> float:
    """Compose durations, Go style: 45s, 1m30s, 500ms, 1h."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", str(d))
    if not parts or "".join(n + u for n, u in parts) != str(d):
        raise ValueError(f"not a duration: {d!r}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def systemd_time_s(v: str) -> float:
    """systemd time spans: a bare number is seconds; else e.g. 45s, 1min 30s, 2m, 500ms."""
    v = v.strip()
    if re.fullmatch(r"\d+(\.\d+)?", v):
        return float(v)
    scale = {
        "us": 1e-6,
        "ms": 1e-3,
        "s": 1,
        "sec": 1,
        "second": 1,
        "seconds": 1,
        "m": 60,
        "min": 60,
        "minute": 60,
        "minutes": 60,
        "h": 3600,
        "hr": 3600,
        "hour": 3600,
        "hours": 3600,
    }
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", v)
    if not parts or any(u not in scale for _, u in parts):
        raise ValueError(f"not a systemd time span: {v!r}")
    return sum(float(n) * scale[u] for n, u in parts)


def interpolate(value) -> str:
    """Compose ${VAR:-default} / ${VAR-default} / ${VAR}, resolved to the defaults (what a plain
    `docker compose up` without a .env file gets)."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m[2] or "", str(value))


def parse_unit(path: Path) -> dict[str, list[str]]:
    """systemd unit as section.key -> values (keys may repeat, so not configparser)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def parse_env_file(path: Path) -> dict[str, str]:
    """systemd EnvironmentFile: KEY=VALUE lines, optional surrounding quotes, # comments."""
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def ms(env: dict, key: str) -> int:
    return int(env.get(key, DEFAULTS[key]))


def stop_budget_s(env: dict) -> float:
    return (ms(env, "RESETGATE_SHUTDOWN_DELAY_MS") + ms(env, "RESETGATE_DRAIN_TIMEOUT_MS")) / 1000


def min_memory_bytes(workers: int, m_kib: int) -> int:
    return workers * m_kib * 1024 + HEADROOM_MIB * 2**20


# --- Kubernetes ----------------------------------------------------------------------------------


def load_k8s() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def check_k8s(docs) -> dict[str, str]:
    print("== Kubernetes (deploy/k8s)")
    needed = [
        ("ConfigMap", "resetgate"),
        ("Secret", "resetgate"),
        ("Deployment", "resetgate"),
        ("Service", "resetgate"),
        ("PodDisruptionBudget", "resetgate"),
        ("HorizontalPodAutoscaler", "resetgate"),
        ("ConfigMap", "prometheus-adapter"),
    ]
    for key in needed:
        check(key in docs, f"k8s: {key[0]}/{key[1]} exists")
    if any(k not in docs for k in needed):
        return {}
    cm = {k: str(v) for k, v in docs[("ConfigMap", "resetgate")]["data"].items()}
    secret = docs[("Secret", "resetgate")]
    dep = docs[("Deployment", "resetgate")]
    pod = dep["spec"]["template"]["spec"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    (c,) = [c for c in pod["containers"] if c["name"] == "resetgate"]

    # Shutdown budget.
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    need = pre_stop + stop_budget_s(cm) + MIN_MARGIN_S
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(
        grace >= need,
        "k8s: terminationGracePeriodSeconds >= preStop sleep + SHUTDOWN_DELAY + DRAIN + margin",
        f"{grace} < {pre_stop} + {stop_budget_s(cm)} + {MIN_MARGIN_S}",
    )

    # Sizing.
    w = int(cm.get("RESETGATE_HASH_WORKERS", 0))
    check(
        w > 0,
        "k8s: ConfigMap sets RESETGATE_HASH_WORKERS (its default follows the CPU limit, not the request)",
    )
    req = c["resources"]["requests"]
    lim = c["resources"].get("limits", {})
    check(k8s_cpu(req["cpu"]) == w, "k8s: cpu request == RESETGATE_HASH_WORKERS", f"{req['cpu']} vs W={w}")
    m_kib = int(cm.get("RESETGATE_ARGON2_M_KIB", DEFAULTS["RESETGATE_ARGON2_M_KIB"]))
    floor = min_memory_bytes(w, m_kib)
    check(
        k8s_bytes(req["memory"]) >= floor,
        f"k8s: memory request >= W x ARGON2_M_KIB + {HEADROOM_MIB} MiB",
        f"{req['memory']} < {floor / 2**20:.0f} MiB",
    )
    if "memory" in lim:
        check(k8s_bytes(lim["memory"]) >= k8s_bytes(req["memory"]), "k8s: memory limit >= request")
    if "cpu" in lim:
        check(k8s_cpu(lim["cpu"]) >= w, "k8s: cpu limit >= W")

    # Rollout and replicas.
    ru = dep["spec"]["strategy"].get("rollingUpdate", {})
    check(
        dep["spec"]["strategy"]["type"] == "RollingUpdate"
        and ru.get("maxUnavailable") == 0
        and ru.get("maxSurge") == 1,
        "k8s: RollingUpdate with maxUnavailable 0, maxSurge 1",
    )
    hpa = docs[("HorizontalPodAutoscaler", "resetgate")]
    check(
        hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
        and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment",
        "k8s: HPA targets the Deployment",
    )
    check(
        hpa["spec"]["minReplicas"] <= dep["spec"]["replicas"] <= hpa["spec"]["maxReplicas"],
        "k8s: Deployment replicas within the HPA's range",
    )

    # Ports and probes.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("http") == port_of(cm["RESETGATE_LISTEN"]), "k8s: port `http` == RESETGATE_LISTEN's port")
    check(
        ports.get("ops") == port_of(cm["RESETGATE_OPS_LISTEN"]),
        "k8s: port `ops` == RESETGATE_OPS_LISTEN's port",
    )
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        check(
            get.get("path") == path and get.get("port") == "ops", f"k8s: {probe} GETs {path} on the ops port"
        )
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    check(
        ann.get("prometheus.io/port") == str(ports.get("ops")),
        "k8s: prometheus.io/port annotation == ops port",
    )

    # Security context.
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(
        psc.get("runAsNonRoot") is True and isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] != 0,
        "k8s: runAsNonRoot with a numeric non-root runAsUser",
    )
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "k8s: seccomp RuntimeDefault")
    check(
        csc.get("readOnlyRootFilesystem") is True
        and csc.get("allowPrivilegeEscalation") is False
        and csc.get("capabilities", {}).get("drop") == ["ALL"],
        "k8s: read-only root, no privilege escalation, all capabilities dropped",
    )

    # Secrets: referenced keys exist, files land where the ConfigMap says.
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            check(
                ref["name"] == secret["metadata"]["name"] and ref["key"] in secret_keys,
                f"k8s: env {e['name']} refers to an existing Secret key ({ref['key']})",
            )
    check(
        [r["configMapRef"]["name"] for r in c.get("envFrom", [])]
        == [docs[("ConfigMap", "resetgate")]["metadata"]["name"]],
        "k8s: envFrom loads the ConfigMap",
    )
    mounted = {}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for vm in c.get("volumeMounts", []):
        sec = volumes[vm["name"]].get("secret")
        if sec:
            for item in sec.get("items", []):
                check(item["key"] in secret_keys, f"k8s: mounted Secret key {item['key']} exists")
                mounted[f"{vm['mountPath'].rstrip('/')}/{item['path']}"] = item["key"]
    for var in ("RESETGATE_PEPPER_FILE", "RESETGATE_SMTP_PASSWORD_FILE"):
        if var in cm:
            check(cm[var] in mounted, f"k8s: {var} ({cm[var]}) is a mounted Secret file")
    check("RESETGATE_PEPPER" not in cm, "k8s: no pepper in the ConfigMap")
    for key, value in secret.get("stringData", {}).items():
        check("CHANGE-ME" in value, f"k8s: Secret {key} is a CHANGE-ME placeholder, not a real secret")

    # Service, PDB: public port only, selectors match the pods.
    svc = docs[("Service", "resetgate")]
    check(
        all(p["targetPort"] in ("http", ports["http"]) for p in svc["spec"]["ports"]),
        "k8s: Service exposes the public port only (no ops, no admin)",
    )
    for kind in ("Service", "PodDisruptionBudget"):
        spec = docs[(kind, "resetgate")]["spec"]
        sel = spec["selector"].get("matchLabels", spec["selector"])
        check(sel.items() <= labels.items(), f"k8s: {kind} selector matches the Deployment's pods")

    # HPA metric == the prometheus-adapter rule's output name.
    adapter = yaml.safe_load(docs[("ConfigMap", "prometheus-adapter")]["data"]["config.yaml"])
    served = {r["name"]["as"] for r in adapter["rules"]}
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "Pods":
            check(
                m["pods"]["metric"]["name"] in served,
                f"k8s: HPA metric {m['pods']['metric']['name']} is served by the prometheus-adapter rule",
            )

    job = docs.get(("Job", "resetgate-migrate"))
    if job:
        check(
            job["spec"]["template"]["spec"]["containers"][0]["image"] == c["image"],
            "k8s: migrate Job uses the Deployment's image",
        )

    # The environment the pod gets, for the check-config run.
    env = dict(cm)
    env["RESETGATE_DATABASE_URL"] = secret["stringData"]["database-url"]
    env["RESETGATE_ADMIN_TOKEN_SHA256"] = secret["stringData"]["admin-token-sha256"]
    return env


# --- systemd -------------------------------------------------------------------------------------


def check_systemd() -> tuple[dict, dict]:
    print("== systemd (deploy/systemd)")
    unit = parse_unit(UNIT)
    env = parse_env_file(ENV_FILE)
    one = lambda k: unit.get(f"Service.{k}", [""])[-1]  # noqa: E731
    check(
        one("Type") == "notify" and one("NotifyAccess") == "main", "systemd: Type=notify, NotifyAccess=main"
    )
    check(
        one("ExecStart").split() == ["/usr/local/bin/resetgate", "serve"],
        "systemd: ExecStart runs `resetgate serve`",
    )
    check(
        one("EnvironmentFile") == "/etc/resetgate/resetgate.env",
        "systemd: EnvironmentFile=/etc/resetgate/resetgate.env",
    )
    creds = [v.split(":", 1)[0] for v in unit.get("Service.LoadCredential", [])]
    check(
        "pepper" in creds and "RESETGATE_PEPPER_FILE=%d/pepper" in unit.get("Service.Environment", []),
        "systemd: pepper is a credential, RESETGATE_PEPPER_FILE=%d/pepper",
    )
    check(
        not {"RESETGATE_PEPPER", "RESETGATE_PEPPER_FILE"} & env.keys(),
        "systemd: the env file leaves the pepper to the credential",
    )
    stop = systemd_time_s(one("TimeoutStopSec") or "90")
    need = stop_budget_s(env) + MIN_MARGIN_S
    check(
        stop >= need,
        "systemd: TimeoutStopSec >= env file's SHUTDOWN_DELAY + DRAIN + margin",
        f"{stop} < {need}",
    )
    unit_env = dict(v.split("=", 1) for v in unit.get("Service.Environment", []))
    return env, unit_env


# --- Docker: Dockerfile, compose, HAProxy, Prometheus --------------------------------------------


def check_docker() -> dict:
    print("== Docker (deploy/Dockerfile, docker-compose.yml, haproxy.cfg, prometheus.yml)")
    ins = dockerfile_instructions(DOCKERFILE)
    runtime = ins[max(i for i, (w, _) in enumerate(ins) if w == "FROM") :]
    image_env = {}
    for word, rest in runtime:
        if word == "ENV":
            image_env.update(re.findall(r"(\w+)=(\S+)", rest))
    exposed = {int(p) for w, r in runtime if w == "EXPOSE" for p in r.split()}
    check(
        {port_of(image_env["RESETGATE_LISTEN"]), port_of(image_env["RESETGATE_OPS_LISTEN"])} == exposed,
        "Dockerfile: EXPOSE == the ports of RESETGATE_LISTEN and RESETGATE_OPS_LISTEN",
    )
    user = [r for w, r in runtime if w == "USER"]
    check(
        bool(user) and re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]) is not None,
        "Dockerfile: runs as a numeric non-root USER",
    )
    check(
        (
            '["/usr/local/bin/resetgate", "healthcheck"]'
            in " ".join(r for w, r in runtime if w == "HEALTHCHECK")
        ),
        "Dockerfile: HEALTHCHECK runs `resetgate healthcheck`",
    )
    check(
        ("ENTRYPOINT", '["/usr/local/bin/resetgate"]') in runtime and ("CMD", '["serve"]') in runtime,
        "Dockerfile: ENTRYPOINT resetgate, CMD serve",
    )

    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    gw = services["gateway"]
    env = {k: interpolate(v) for k, v in gw["environment"].items()}
    full_env = {**image_env, **env}

    # Shutdown and sizing, as for Kubernetes.
    grace = go_duration_s(gw.get("stop_grace_period", "10s"))
    need = stop_budget_s(env) + MIN_MARGIN_S
    check(
        grace >= need,
        "compose: gateway stop_grace_period >= SHUTDOWN_DELAY + DRAIN + margin",
        f"{grace} < {need}",
    )
    w = int(env.get("RESETGATE_HASH_WORKERS", 0))
    check(w > 0, "compose: gateway sets RESETGATE_HASH_WORKERS explicitly")
    res = gw.get("deploy", {}).get("resources", {})
    check(float(res.get("reservations", {}).get("cpus", -1)) == w, "compose: gateway cpus reservation == W")
    m_kib = int(env.get("RESETGATE_ARGON2_M_KIB", DEFAULTS["RESETGATE_ARGON2_M_KIB"]))
    mem = res.get("limits", {}).get("memory")
    check(
        mem is not None and docker_bytes(mem) >= min_memory_bytes(w, m_kib),
        f"compose: gateway memory limit >= W x ARGON2_M_KIB + {HEADROOM_MIB} MiB",
        str(mem),
    )

    # Start order.
    deps = gw.get("depends_on", {})
    check(
        deps.get("postgres", {}).get("condition") == "service_healthy"
        and deps.get("migrate", {}).get("condition") == "service_completed_successfully",
        "compose: gateway waits for postgres healthy and migrate completed",
    )
    check(
        "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"]),
        "compose: postgres healthcheck uses pg_isready",
    )
    check(
        services["migrate"].get("command") == ["migrate"], "compose: migrate service runs `resetgate migrate`"
    )

    # References resolve; bind mounts exist (or are the agreed paths of the monitoring work).
    dangling = []
    for name, svc in services.items():
        dangling += [f"{name}.depends_on {d}" for d in svc.get("depends_on", {}) if d not in services]
        dangling += [
            f"{name}.networks {n}" for n in svc.get("networks", []) if n not in compose.get("networks", {})
        ]
        for sec in svc.get("secrets", []):
            sec = sec if isinstance(sec, str) else sec["source"]
            if sec not in compose.get("secrets", {}):
                dangling.append(f"{name}.secrets {sec}")
        for vol in svc.get("volumes", []):
            src, dst = vol.split(":")[:2]
            if src.startswith("."):
                if src in AGREED_MOUNTS:
                    check(AGREED_MOUNTS[src] == dst, f"compose: {name} mounts {src} at the agreed {dst}")
                else:
                    check((DEPLOY / src).exists(), f"compose: {name} bind-mount source {src} exists")
            elif src not in compose.get("volumes", {}):
                dangling.append(f"{name}.volumes {src}")
    check(
        not dangling,
        "compose: every depends_on, network, secret and named volume is defined",
        ", ".join(dangling),
    )
    for name, sec in compose.get("secrets", {}).items():
        path = interpolate(sec["file"])
        if name == "pepper":
            # Made by the operator (docs/operations.md) and git-ignored: no pepper ships.
            check(
                path.startswith("./secrets/") and f"/deploy/{path[2:]}" in Path(".gitignore").read_text(),
                f"compose: the pepper file {path} is the operator's own, git-ignored",
            )
            continue
        check(
            (DEPLOY / path).is_file(),
            f"compose: secret {name} file {path} exists",
        )

    # Load balancer: the trusted proxy is HAProxy's fixed address, inside the edge subnet; every
    # replica has a server slot; health checks use the ops port.
    lb = services["lb"]
    lb_net, lb_cfg = next(iter(lb["networks"].items()))
    lb_ip = ipaddress.ip_address(lb_cfg["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"][lb_net]["ipam"]["config"][0]["subnet"])
    check(
        lb_ip in subnet and lb_net in gw["networks"],
        "compose: HAProxy's fixed address is on a network shared with the gateway",
    )
    trusted = []
    for cidr in filter(None, map(str.strip, env.get("RESETGATE_TRUSTED_PROXIES", "").split(","))):
        try:
            trusted.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            pass  # reported by the gateway's own check-config below, with its message
    check(any(lb_ip in n for n in trusted), "compose: RESETGATE_TRUSTED_PROXIES covers HAProxy's address")
    cfg = HAPROXY.read_text()
    m = re.search(r"^\s*server-template\s+\S+\s+(\d+)\s+(\S+):(\d+)", cfg, re.M)
    check(
        m is not None and m[2] == "gateway" and int(m[3]) == port_of(full_env["RESETGATE_LISTEN"]),
        "haproxy: server-template targets gateway on the public port",
    )
    check(
        m is not None and gw["deploy"]["replicas"] <= int(m[1]) and gw["deploy"]["replicas"] >= 2,
        "haproxy: a server slot for each of the (>= 2) gateway replicas",
    )
    check(
        re.search(rf"check port {port_of(full_env['RESETGATE_OPS_LISTEN'])}\b", cfg) is not None
        and re.search(r"option httpchk GET /readyz", cfg) is not None,
        "haproxy: health-checks /readyz on the ops port",
    )
    check(
        re.search(r"http-request set-header X-Forwarded-For %\[src\]", cfg) is not None,
        "haproxy: sets X-Forwarded-For to the client address",
    )
    check(
        env.get("RESETGATE_CLIENT_IP_HEADER", "x-forwarded-for").lower() == "x-forwarded-for",
        "compose: gateway reads the header HAProxy sets",
    )

    # Prometheus scrapes every replica's ops port and loads the mounted rules.
    prom = yaml.safe_load(PROMETHEUS.read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "resetgate"]
    sd = job["dns_sd_configs"][0]
    check(
        sd["names"] == ["gateway"]
        and sd["type"] == "A"
        and sd["port"] == port_of(full_env["RESETGATE_OPS_LISTEN"]),
        "prometheus: DNS-SD (A) on the gateway service, ops port",
    )
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    check(
        all(r in mounted for r in prom.get("rule_files", [])) and prom.get("rule_files"),
        "prometheus: every rule file is mounted by compose",
    )
    check(
        bool(set(gw["networks"]) & set(services["prometheus"]["networks"])),
        "compose: Prometheus shares a network with the gateway",
    )

    pepper_src = DEPLOY / interpolate(compose["secrets"]["pepper"]["file"])
    full_env["RESETGATE_PEPPER_FILE"] = str(pepper_src)  # /run/secrets/pepper in the container
    return full_env


# --- the real binary -----------------------------------------------------------------------------


def run_check_config(binary: str, env: dict) -> tuple[int, str]:
    p = subprocess.run(
        [binary, "check-config", "--mode", "serve"],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return p.returncode, p.stdout + p.stderr


def check_binary(binary: str, k8s_env: dict, sd_env: dict, sd_unit_env: dict, compose_env: dict) -> None:
    print(f"== the gateway's own validation ({binary} check-config --mode serve)")
    with tempfile.TemporaryDirectory() as tmp:
        good_pepper = Path(tmp, "pepper")
        good_pepper.write_text("0123456789abcdef" * 4 + "\n")
        good_pw = Path(tmp, "smtp-password")
        good_pw.write_text("password\n")

        def accepted(label: str, env: dict) -> None:
            code, out = run_check_config(binary, env)
            if not check(
                code == 0,
                f"{label}: accepted by check-config",
                out.strip().splitlines()[-1] if out.strip() else f"exit {code}",
            ):
                return
            # check-config prints every setting it read; X_FILE shows up as X.
            known = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
            ours = sorted(k for k in env if k.startswith("RESETGATE_"))
            # Only these secrets have a _FILE variant (src/config/); the gateway refuses any other
            # X_FILE as an unknown setting.
            file_variants = {"RESETGATE_PEPPER_FILE", "RESETGATE_SMTP_PASSWORD_FILE"}
            unknown = [v for v in ours if v not in known and v not in file_variants]
            check(
                not unknown,
                f"{label}: all {len(ours)} RESETGATE_* variables set are settings the gateway knows",
                "unknown: " + ", ".join(unknown),
            )

        # Kubernetes: files mounted from the Secret stand in as temp files. First the placeholders
        # as committed, which must be refused, then working values.
        env = dict(k8s_env)
        placeholder = Path(tmp, "placeholder")
        placeholder.write_text("CHANGE-ME")
        env["RESETGATE_PEPPER_FILE"], env["RESETGATE_SMTP_PASSWORD_FILE"] = str(placeholder), str(good_pw)
        env.pop("RESETGATE_ADMIN_TOKEN_SHA256")
        code, out = run_check_config(binary, env)
        check(
            code == 64 and "RESETGATE_PEPPER" in out,
            "k8s: the CHANGE-ME pepper is refused (exit 64)",
            f"exit {code}",
        )
        env["RESETGATE_PEPPER_FILE"] = str(good_pepper)
        env["RESETGATE_ADMIN_TOKEN_SHA256"] = k8s_env["RESETGATE_ADMIN_TOKEN_SHA256"]
        code, out = run_check_config(binary, env)
        check(
            code == 64 and "RESETGATE_ADMIN_TOKEN_SHA256" in out,
            "k8s: the CHANGE-ME admin digest is refused (exit 64)",
            f"exit {code}",
        )
        env["RESETGATE_ADMIN_TOKEN_SHA256"] = "0" * 64
        accepted("k8s", env)

        # systemd: the env file plus the unit's Environment=, with %d (the credentials directory)
        # pointing at a temp pepper.
        env = {**sd_env, **{k: v.replace("%d", tmp) for k, v in sd_unit_env.items()}}
        accepted("systemd", env)

        # compose: the gateway's environment over the image's ENV. The pepper is the operator's own
        # file (git-ignored), here a temp one; the demo value that once shipped is refused.
        env = dict(compose_env)
        demo = Path(tmp, "demo-pepper")
        demo.write_text("demo-only-pepper-CHANGE-ME-never-use-outside-a-laptop-0123456789abcdef\n")
        env["RESETGATE_PEPPER_FILE"] = str(demo)
        code, out = run_check_config(binary, env)
        check(
            code == 64 and "RESETGATE_PEPPER" in out,
            "compose: the old demo pepper is refused (exit 64)",
            f"exit {code}",
        )
        env["RESETGATE_PEPPER_FILE"] = str(good_pepper)
        accepted("compose", env)


def section(name: str, run):
    """Runs one group of checks; a file too broken to read fails the group instead of crashing."""
    try:
        return run()
    except Exception as e:  # noqa: BLE001 (any exception here means a malformed artefact)
        check(False, f"{name}: artefacts parse and have the expected structure", f"{type(e).__name__}: {e}")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--binary", help="a built resetgate, to run `check-config` on each artefact's settings"
    )
    args = parser.parse_args()
    if not DEPLOY.is_dir():
        print("run from the repository root", file=sys.stderr)
        return 2
    if args.binary:
        load_defaults(args.binary)
    k8s_env = section("Kubernetes", lambda: check_k8s(load_k8s()))
    sd_env, sd_unit_env = section("systemd", check_systemd) or ({}, {})
    compose_env = section("Docker", check_docker)
    if args.binary:
        if k8s_env and sd_env and compose_env:
            section(
                "check-config", lambda: check_binary(args.binary, k8s_env, sd_env, sd_unit_env, compose_env)
            )
        else:
            check(False, "check-config runs (needs the sections above to parse)")
    else:
        print("== check-config not run (no --binary given)")
    if failures:
        print(f"\n{len(failures)} deploy consistency check(s) failed", file=sys.stderr)
        return 1
    print("\nall deploy consistency checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
