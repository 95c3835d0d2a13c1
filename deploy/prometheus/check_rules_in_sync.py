"""Fails unless the PrometheusRule's spec.groups equals the groups of the Prometheus rules file,
so the rules shipped for the Prometheus Operator cannot drift from the ones promtool tests.

Usage: check_rules_in_sync.py [RULES_FILE PROMETHEUS_RULE]  (defaults: the repository's)
"""

import difflib
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def main(argv):
    rules_path = Path(argv[1]) if len(argv) > 1 else ROOT / "deploy/prometheus/alerts.yml"
    crd_path = Path(argv[2]) if len(argv) > 2 else ROOT / "deploy/k8s/optional/prometheusrule.yaml"
    rules = yaml.safe_load(rules_path.read_text())
    crd = yaml.safe_load(crd_path.read_text())
    if crd.get("apiVersion") != "monitoring.coreos.com/v1" or crd.get("kind") != "PrometheusRule":
        print(f"{crd_path}: not a monitoring.coreos.com/v1 PrometheusRule", file=sys.stderr)
        return 1
    expected = rules.get("groups")
    got = (crd.get("spec") or {}).get("groups")
    if not expected:
        print(f"{rules_path}: no groups", file=sys.stderr)
        return 1
    if got != expected:
        dump = lambda value: json.dumps(value, indent=2, sort_keys=True).splitlines()
        diff = difflib.unified_diff(
            dump(expected), dump(got), str(rules_path), f"{crd_path} spec.groups", lineterm=""
        )
        print("\n".join(diff), file=sys.stderr)
        print(f"{crd_path}: spec.groups differs from the groups of {rules_path}", file=sys.stderr)
        return 1
    alerts = sum(len(group.get("rules", [])) for group in expected)
    print(f"{crd_path}: spec.groups equals {rules_path.name} ({alerts} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
