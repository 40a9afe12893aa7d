#!/usr/bin/env python3
"""Every variant of deploy/, rendered by kustomize itself, validated against
the Kubernetes and custom resource schemas, strictly (an unknown field is an
error, as `kubectl apply --validate=strict` makes it).

    validate_schemas.py [--root DIR]
    validate_schemas.py --self-test [--root DIR]
        the tree must pass, and each edit in BROKEN (one misspelt or
        mistyped field per schema source) must fail

- Rendering: `kustomize build`, else `kubectl kustomize` (kubectl has
  kustomize built in); the variants are check_manifests.py's: the base, the
  base with each component, each overlay.
- Built-in kinds: kubernetes-validate (PyPI), the OpenAPI schemas of each
  Kubernetes version in KUBE_VERSIONS, strict.
- ScaledObject (KEDA), ServiceMonitor and PrometheusRule (Prometheus
  Operator): the cloudcoil models (PyPI: cloudcoil-models-keda,
  cloudcoil-models-prometheus-operator), pydantic classes generated from the
  projects' CRDs, made strict here (extra fields forbidden).
- PrometheusRule expressions: `promtool check rules` (Debian's prometheus)
  on the rule groups, when promtool is installed.

The validators come from a virtual environment that scripts/deps makes
(tests/packaging/requirements.txt): this script runs itself again with that
environment's interpreter ($PROVFLOW_VENV, else build/venv under the root).
Without it, or without kustomize, it says so and exits 77 (CTest: skipped).
"""

import argparse
import copy
import importlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SKIP = 77

# The oldest Kubernetes the Deployment's fields need (topologySpread's
# matchLabelKeys: 1.27 beta; 1.28 is the oldest kubernetes-validate release
# line still patched when this was written) and the newest it knows.
KUBE_VERSIONS = ("1.28.0", "1.37.0")

# kind -> (module, class) of the cloudcoil models.
CUSTOM = {
    ("keda.sh", "ScaledObject"): ("cloudcoil.models.keda.v1alpha1",
                                  "ScaledObject"),
    ("monitoring.coreos.com", "ServiceMonitor"): (
        "cloudcoil.models.prometheus_operator.v1", "ServiceMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"): (
        "cloudcoil.models.prometheus_operator.v1", "PrometheusRule"),
}


def venv_dir(root):
    return os.environ.get("PROVFLOW_VENV") or os.path.join(root, "build",
                                                          "venv")


def ensure_validators(root):
    """Imports the validators, or runs this script again under the venv's
    interpreter; exits 77 when there is none."""
    try:
        import kubernetes_validate  # noqa: F401
        import pydantic  # noqa: F401
        import yaml  # noqa: F401
        importlib.import_module("cloudcoil.models.keda.v1alpha1")
        importlib.import_module("cloudcoil.models.prometheus_operator.v1")
        return
    except ImportError as e:
        missing = str(e)
    venv = venv_dir(root)
    py = os.path.join(venv, "bin", "python")
    # A venv's python is a link to the base interpreter: compare prefixes.
    if os.access(py, os.X_OK) and os.path.realpath(sys.prefix) != \
            os.path.realpath(venv):
        os.execv(py, [py] + sys.argv)
    print("SKIP: schema validators missing (%s); scripts/deps installs them "
          "into build/venv (tests/packaging/requirements.txt)" % missing)
    sys.exit(SKIP)


def kustomize_tool():
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def variant_dirs(root, tmp):
    """(label, kustomization directory) of every variant, as
    check_manifests.py names them."""
    out = [("base", os.path.join(root, "deploy", "base"))]
    comps = sorted(d for d in os.listdir(os.path.join(root, "deploy",
                                                      "components"))
                   if os.path.exists(os.path.join(root, "deploy",
                                                  "components", d,
                                                  "kustomization.yaml")))
    import yaml
    for c in comps:
        d = os.path.join(tmp, c)
        os.mkdir(d)
        with open(os.path.join(d, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(
                    os.path.join(root, "deploy", "base"), d)],
                "components": [os.path.relpath(
                    os.path.join(root, "deploy", "components", c), d)]}, f)
        out.append(("base+" + c, d))
    overlays = os.path.join(root, "deploy", "overlays")
    for o in sorted(os.listdir(overlays)):
        if os.path.exists(os.path.join(overlays, o, "kustomization.yaml")):
            out.append(("overlays/" + o, os.path.join(overlays, o)))
    return out


def strict_models():
    """The cloudcoil classes with extra fields forbidden. Their generated
    config leaves extras allowed (the API server prunes unknown fields,
    silently); a misspelt field must fail here instead. Every model class
    is rebuilt, twice, so that parents pick up their children's schema."""
    import pydantic
    for mod, _ in CUSTOM.values():
        importlib.import_module(mod)
    classes = set()
    for name, m in list(sys.modules.items()):
        if not name.startswith("cloudcoil") or m is None:
            continue
        for _, c in inspect.getmembers(m, inspect.isclass):
            if issubclass(c, pydantic.BaseModel) and \
                    c.__module__.startswith("cloudcoil"):
                classes.add(c)
    for c in classes:
        c.model_config["extra"] = "forbid"
    for _ in range(2):
        for c in classes:
            c.model_rebuild(force=True)
    return {k: getattr(sys.modules[m], cls) for k, (m, cls) in CUSTOM.items()}


def validate_object(obj, models):
    """[problem] of one rendered object."""
    import kubernetes_validate
    import pydantic
    api = obj.get("apiVersion", "")
    group = api.split("/")[0] if "/" in api else ""
    key = (group, obj.get("kind"))
    if key in models:
        try:
            models[key].model_validate(obj)
            return []
        except pydantic.ValidationError as e:
            return ["%s" % err for err in str(e).splitlines()[1:]]
    if "." in group and group != "networking.k8s.io" and \
            not group.endswith(".k8s.io"):
        return ["no schema for %s %s: teach validate_schemas.py" % key[::-1]]
    problems = []
    for v in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(copy.deepcopy(obj), v, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append("Kubernetes %s: %s: %s" % (
                v, "/".join(str(p) for p in e.path), e.message))
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append("Kubernetes %s: no schema: %s" % (v, e))
        except kubernetes_validate.InvalidSchemaError as e:
            problems.append("Kubernetes %s: %s" % (v, e))
    return problems


def check_rules(label, obj, report):
    promtool = shutil.which("promtool")
    if promtool is None:
        return "promtool not installed: rule expressions not parsed"
    import yaml
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump({"groups": obj["spec"]["groups"]}, f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name],
                           capture_output=True, text=True)
    if r.returncode != 0:
        report("%s: PrometheusRule %s: promtool: %s" % (
            label, obj["metadata"]["name"],
            (r.stdout + r.stderr).strip()[:1000]))
    return "promtool check rules ran"


# (file under deploy/, text, replacement): each must make validation fail.
BROKEN = (
    ("base/deployment.yaml", "terminationGracePeriodSeconds: 45",
     "terminationGracePeriodSecond: 45"),
    ("base/deployment.yaml", "maxSkew: 1", "maxSkew: one"),
    ("components/keda/scaledobject.yaml", "maxReplicaCount: 12",
     "maxReplicaCountt: 12"),
    ("components/servicemonitor/servicemonitor.yaml", "interval: 30s",
     "intervall: 30s"),
    ("components/prometheusrule/prometheusrule.yaml",
     "expr: provflow_ready == 0", "expr: provflow_ready == == 0"),
    ("components/networkpolicy/networkpolicy.yaml", "cidr: 192.0.2.0/24",
     "cidrs: 192.0.2.0/24"),
)


def self_test(root):
    findings, _ = validate_tree(root)
    if findings:
        for f in findings:
            print("FAIL %s" % f)
        print("self-test: the tree itself does not pass")
        return 1
    failed = 0
    for rel, old, new in BROKEN:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(root, "deploy"),
                            os.path.join(tmp, "deploy"))
            path = os.path.join(tmp, "deploy", rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                print("FAIL %s: %r not found (the case is out of date)" % (
                    rel, old))
                failed += 1
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            got, _ = validate_tree(tmp, quiet=True)
        if got:
            print("ok   %s: %r -> %s" % (rel, new, got[0][:200]))
        else:
            print("FAIL %s: %r passed validation" % (rel, new))
            failed += 1
    print("%d passed, %d failed" % (len(BROKEN) - failed, failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    ensure_validators(root)
    if kustomize_tool() is None:
        print("SKIP: neither kustomize nor kubectl is installed")
        return SKIP
    if a.self_test:
        return self_test(root)
    findings, objects = validate_tree(root)
    for f in findings:
        print("FAIL %s" % f)
    print("%d passed, %d failed" % (objects - min(len(findings), objects),
                                    len(findings)))
    return 1 if findings else 0


_models = None


def validate_tree(root, quiet=False):
    """([finding], objects checked) for every variant under root/deploy."""
    global _models
    import yaml
    tool = kustomize_tool()
    if _models is None:
        _models = strict_models()
    models = _models
    findings, objects, notes = [], 0, set()
    with tempfile.TemporaryDirectory() as tmp:
        for label, d in variant_dirs(root, tmp):
            r = subprocess.run(tool + [d], capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                findings.append("%s: %s: %s" % (label, " ".join(tool),
                                                 r.stderr.strip()[:500]))
                continue
            docs = [o for o in yaml.safe_load_all(r.stdout) if o]
            for obj in docs:
                objects += 1
                where = "%s: %s %s" % (label, obj.get("kind"),
                                       (obj.get("metadata") or {}).get(
                                           "name"))
                for p in validate_object(obj, models):
                    findings.append("%s: %s" % (where, p))
                if obj.get("kind") == "PrometheusRule":
                    notes.add(check_rules(label, obj, findings.append))
            if not quiet:
                print("ok   %s: %d objects rendered by %s" % (
                    label, len(docs), " ".join(tool)))
    for n in sorted(notes):
        if not quiet:
            print("note: %s" % n)
    return findings, objects


if __name__ == "__main__":
    sys.exit(main())
