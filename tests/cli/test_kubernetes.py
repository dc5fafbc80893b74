"""deploy/kubernetes: every resource valid against the Kubernetes schemas (kubernetes-validate,
offline), the properties replicas need, the config and specs slogate itself accepts, and the
PrometheusRule exactly what `slogate generate --format prometheus-operator` makes, which
promtool accepts."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from slogate.cli.main import main
from slogate.config import parse_config
from slogate.evaluation.specfiles import load_specs
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"
CRDS = {"ServiceMonitor", "PrometheusRule"}  # no published schema offline: checked below


def resources() -> dict[str, dict[str, Any]]:
    """Each file's one resource, by file name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == 1, path
        found[path.name] = docs[0]
    return found


ALL = resources()


def resource(file: str) -> dict[str, Any]:
    return copy.deepcopy(ALL[file])


@pytest.mark.parametrize("file", sorted(f for f, r in ALL.items() if r["kind"] not in CRDS))
def test_valid_against_the_kubernetes_schema(file: str) -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(resource(file), version, strict=True)


def test_the_schemas_catch_a_mistake() -> None:
    broken = resource("deployment.yaml")
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_kustomization_lists_every_resource() -> None:
    listed = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(ALL)


def test_replicas_spread_guarded_and_locked_down() -> None:
    deployment = resource("deployment.yaml")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 3
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["labelSelector"]["matchLabels"] == labels
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secrets == {
        "SLOGATE_STORE_PASSWORD": "slogate-store",
        "SLOGATE_ADMIN_TOKEN": "slogate-admin",
    }
    budget = resource("poddisruptionbudget.yaml")["spec"]
    assert budget["selector"]["matchLabels"] == labels
    assert 1 <= budget["minAvailable"] < spec["replicas"]
    service = resource("service.yaml")["spec"]
    assert service["selector"] == labels
    monitor = resource("servicemonitor.yaml")["spec"]
    assert monitor["selector"]["matchLabels"] == resource("service.yaml")["metadata"]["labels"]
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["ports"]}
    assert monitor["endpoints"][0]["path"] == "/metrics"


def test_config_and_specs_are_what_slogate_accepts(tmp_path: Path) -> None:
    config = parse_config(
        resource("configmap-config.yaml")["data"]["slogate.yaml"], "configmap-config.yaml"
    )
    assert config.store.url.startswith("postgresql://") and config.specs.path == "/specs"
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    assert mounts["specs"] == config.specs.path
    specs = _write_specs(tmp_path)
    loaded = load_specs(specs)
    assert loaded.ok and len(loaded.slos) == 1


def _container() -> dict[str, Any]:
    container: dict[str, Any] = resource("deployment.yaml")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def _write_specs(tmp_path: Path) -> Path:
    specs_map = yaml.safe_load((DEPLOY / "configmap-specs.yaml").read_text())
    target = tmp_path / "specs"
    target.mkdir()
    for name, text in specs_map["data"].items():
        (target / name).write_text(text)
    return target


def test_prometheus_rule_is_generated_from_the_specs(tmp_path: Path) -> None:
    specs = _write_specs(tmp_path)
    out = tmp_path / "rule.yaml"
    [spec] = specs.iterdir()
    assert (
        main(["generate", "-i", str(spec), "--format", "prometheus-operator", "-o", str(out)]) == 0
    )
    assert out.read_text() == (DEPLOY / "prometheusrule.yaml").read_text()
    rule = resource("prometheusrule.yaml")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    checked = subprocess.run(
        ["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
