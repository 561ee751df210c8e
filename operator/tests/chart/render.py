"""Drives Helm's own engine (helm-python-sdk), kubernetes-validate and checkov
for operator/tests/chart.rs, which owns the inputs and the assertions.

    render.py render CHART VALUES_JSON     -> {"manifests": {path: yaml}, "crds": [yaml]}
    render.py lint CHART VALUES_JSON       -> Helm's lint report (strict mode)
    render.py validate VERSION FILE...     -> {"checked": [...], "errors": [...]}
    render.py checkov FILE...              -> {"passed": n, "failed": [...], "skipped": [...]}

Every command prints one JSON document on stdout. A render Helm refuses
(schema, `fail`) exits 1 with Helm's message on stderr; a missing package
exits 3 naming it.
"""

import json
import os
import subprocess
import sys
import tempfile

RELEASE = "aegis-operator"
NAMESPACE = "aegis-system"
HERE = os.path.dirname(os.path.abspath(__file__))
# The minimal monitoring.coreos.com/v1 CRDs the monitors are checked against.
MONITORING_CRDS = os.path.join(HERE, "monitoring-crds.yaml")

# checkov checks skipped for the whole run, each with why. They depend on
# values (image.digest, image.pullPolicy), not on the chart. The two other
# skips are annotations on the one object they concern, with their reason
# (checkov.io/skip in deployment.yaml and tests/test-readyz.yaml); the chart
# fixes everything else.
CHECKOV_SKIPS = {
    # "Image should use digest": the chart pins by tag (the appVersion) by
    # default, and image.digest / engineImage.digest pin by digest; a digest
    # cannot be known when the chart is written, before the image is built.
    "CKV_K8S_43": "tags by default; image.digest pins",
    # "Image Pull Policy should be Always": the tag is fixed (never latest),
    # so IfNotPresent pulls each version once, and clusters that load images
    # locally (kind, air-gapped) need it; image.pullPolicy can say Always.
    "CKV_K8S_15": "fixed tags; image.pullPolicy can be Always",
}


def need(module):
    """Imports `module` or exits 3 naming the package that provides it."""
    packages = {
        "helm_python": "helm-python-sdk",
        "kubernetes_validate": "kubernetes-validate",
        "yaml": "PyYAML",
        "jsonschema": "jsonschema",
    }
    try:
        return __import__(module)
    except ImportError as e:
        sys.stderr.write(
            f"missing Python package {packages.get(module, module)} ({e}); "
            "install tests/requirements.txt into the Python AEGIS_PYTHON names\n"
        )
        sys.exit(3)


def render(chart_dir, values):
    helm = need("helm_python")
    with helm.Chart.load(chart_dir) as chart:
        try:
            manifests = chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
        except helm.HelmError as e:
            sys.stderr.write(f"{type(e).__name__}: {e}\n")
            sys.exit(1)
        crds = [c["data"] for c in chart.crds]
    return {"manifests": manifests, "crds": crds}


def lint(chart_dir, values):
    helm = need("helm_python")
    return helm.lint(
        chart_dir, values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0"
    )


def monitoring_schemas():
    """kind -> a JSON schema of the object from the minimal CRDs, with
    additionalProperties false wherever properties are listed, so a
    misspelled field is an error rather than silently pruned."""
    yaml = need("yaml")

    def closed(node):
        if isinstance(node, dict):
            node = {k: closed(v) for k, v in node.items()}
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [closed(v) for v in node]
        return node

    schemas = {}
    with open(MONITORING_CRDS) as f:
        for crd in yaml.safe_load_all(f):
            if not crd:
                continue
            for version in crd["spec"]["versions"]:
                schema = closed(version["schema"]["openAPIV3Schema"])
                # apiVersion, kind and metadata are the API server's (a CRD
                # schema may not constrain metadata beyond name/generateName).
                schema["properties"].update(
                    {
                        "apiVersion": {"const": f"{crd['spec']['group']}/{version['name']}"},
                        "kind": {"const": crd["spec"]["names"]["kind"]},
                        "metadata": {"type": "object"},
                    }
                )
                schemas[crd["spec"]["names"]["kind"]] = schema
    return schemas


def validate(version, files):
    """Every object of `files` against the Kubernetes `version` schemas
    (strict: unknown fields are errors).

    kubernetes-validate has no schema for monitoring.coreos.com kinds (they
    are CRDs, not Kubernetes). The closest right check is the one the API
    server makes once prometheus-operator's CRDs are installed: the object
    against its CRD's openAPIV3Schema. monitoring-crds.yaml carries those
    schemas for the fields the chart uses (types and patterns as upstream);
    here they are closed (additionalProperties false) so a misspelled field
    fails instead of being pruned."""
    yaml = need("yaml")
    kv = need("kubernetes_validate")
    jsonschema = need("jsonschema")
    monitoring = None
    checked, errors = [], []
    for path in files:
        with open(path) as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        for obj in objects:
            name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            try:
                if obj.get("apiVersion", "").startswith("monitoring.coreos.com/"):
                    if monitoring is None:
                        monitoring = monitoring_schemas()
                    schema = monitoring.get(obj["kind"])
                    if schema is None:
                        raise LookupError(f"no minimal CRD for {obj['kind']}")
                    jsonschema.Draft7Validator(schema).validate(obj)
                    checked.append({"object": name, "against": "monitoring-crds.yaml"})
                else:
                    used = kv.validate(obj, version, strict=True)
                    checked.append({"object": name, "against": used})
            except kv.ValidationError as e:
                where = ".".join(str(p) for p in e.path)
                errors.append(f"{path}: {name}: {where}: {e.message}")
            except jsonschema.ValidationError as e:
                where = ".".join(str(p) for p in e.path)
                errors.append(f"{path}: {name}: {where}: {e.message}")
            except (kv.SchemaNotFoundError, kv.InvalidSchemaError) as e:
                errors.append(f"{path}: {name}: {e.message}")
            except LookupError as e:
                errors.append(f"{path}: {name}: {e}")
    return {"checked": checked, "errors": errors}


def checkov(files):
    """checkov's Kubernetes checks over `files` in one run (it is slow to
    start), minus CHECKOV_SKIPS."""
    with tempfile.TemporaryDirectory() as out:
        args = [
            sys.executable, "-m", "checkov.main",
            "--framework", "kubernetes",
            "--compact", "--output", "json",
            "--skip-download", "--skip-check", ",".join(CHECKOV_SKIPS),
        ]
        for path in files:
            args += ["--file", path]
        env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=out)
    if "No module named checkov" in done.stderr:
        sys.stderr.write("missing Python package checkov; install tests/requirements.txt\n")
        sys.exit(3)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(f"checkov printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}\n")
        sys.exit(1)
    reports = report if isinstance(report, list) else [report]
    passed, failed, skipped = 0, [], []
    for r in reports:
        results = r.get("results", {})
        passed += len(results.get("passed_checks", []))
        for c in results.get("failed_checks", []):
            failed.append(f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})")
        for c in results.get("skipped_checks", []):
            skipped.append(f"{c['check_id']}: {c['resource']}")
    return {"passed": passed, "failed": failed, "skipped": skipped, "skips": CHECKOV_SKIPS}


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    command, rest = argv[1], argv[2:]
    if command in ("render", "lint") and len(rest) == 2:
        values = json.loads(rest[1])
        result = render(rest[0], values) if command == "render" else lint(rest[0], values)
    elif command == "validate" and len(rest) >= 2:
        result = validate(rest[0], rest[1:])
    elif command == "checkov" and rest:
        result = checkov(rest)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
