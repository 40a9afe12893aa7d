#!/usr/bin/env python3
"""Static checks of provflow's packaging: deploy/ (Kubernetes, kustomize),
docker/compose.yaml and docker/Dockerfile, against the service itself.

    check_manifests.py [--root DIR]            every check; exit 1 on a finding
    check_manifests.py --self-test [--root DIR]
        the tree must pass, and every case in fixtures/*.yaml (an edit that
        breaks one thing) must make its named check fail
    check_manifests.py --runtime-libs BIN...   the libraries BIN links
        directly must come from the Dockerfile's runtime packages (dpkg)

What the service reads comes from its sources, not from a copy here: the
settings table in service/config.c (names, defaults, which are secrets), the
simulator's default credential in tools/graphsim/gs_config.c.

kustomize is not needed: a small renderer below builds each variant (the
base, the base with each component, each overlay) with kustomize's rules
for what these manifests use (resources, components, patches, images,
namespace); an unknown kustomization key is an error, not ignored. When
`kustomize` or `kubectl` is on PATH, the renderer's output is compared with
theirs.
"""

import argparse
import base64
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    # scripts/deps installs Debian's python3-yaml, which only Debian's own
    # interpreter sees; a python3 earlier on PATH (pyenv, a venv) may lack it.
    debian = "/usr/bin/python3"
    if os.path.exists(debian) and os.path.realpath(sys.executable) != \
            os.path.realpath(debian):
        os.execv(debian, [debian] + sys.argv)
    sys.exit("check_manifests: PyYAML missing (Debian: python3-yaml; "
             "scripts/deps installs it)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# Check ids: every finding names one; fixtures name the one they break.
CHECKS = {
    "env": "every variable set for provflow is one it reads",
    "secret-inline": "no secret as a literal value in the manifests",
    "refs": "names referenced (ConfigMaps, Secrets, keys, volumes, "
            "ServiceAccount, selectors, port names, scale target) exist",
    "probes": "liveness /healthz, readiness /readyz, on the admin port",
    "admin-port": "ports agree with the service's admin port",
    "grace": "termination grace above the shutdown grace",
    "keda": "ScaledObject: cap at the partition count, same Kafka "
            "settings as provflow",
    "files": "file settings point into mounted volumes, at existing keys",
    "security": "non-root, read-only, no privilege, seccomp",
    "resources": "requests and a memory limit",
    "placeholders": "example Secrets hold placeholders only",
    "identity": "workload identity label matches the credential in use",
    "pdb": "PodDisruptionBudget lets one pod go at a time",
    "dockerfile": "Dockerfile: files, scripts, user, port, healthcheck, "
                  "entrypoint",
    "compose": "compose.yaml: wiring of Kafka, simulator and provflow",
    "kustomize": "the manifests render (and agree with kustomize)",
    "replicas": "no replicas in a Deployment that a ScaledObject scales",
    "scrape": "one scrape path per variant: pod annotations or a "
              "ServiceMonitor",
    "spread": "topologySpreadConstraints across nodes and zones (zones "
              "ScheduleAnyway)",
    "alerts": "alert rules use only metrics provflow exports",
    "netpol": "NetworkPolicy: the pods, admin port from monitoring only, "
              "egress DNS, Kafka and 443 only",
}

SECRET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PLACEHOLDER = "REPLACE_ME"
WI_LABEL = "azure.workload.identity/use"
PARTITIONS_ANNOTATION = "provflow/input-topic-partitions"


class Finding(Exception):
    pass


# ---------------------------------------------------------------- the tree


class Tree:
    """The repository's files, with in-memory edits for the self-test."""

    def __init__(self, root, edits=None):
        self.root = root
        self.edits = dict(edits or {})  # rel -> text, or None: deleted

    def path(self, rel):
        return os.path.join(self.root, rel)

    def exists(self, rel):
        rel = os.path.normpath(rel)
        if rel in self.edits:
            return self.edits[rel] is not None
        return os.path.exists(self.path(rel))

    def isdir(self, rel):
        rel = os.path.normpath(rel)
        if os.path.isdir(self.path(rel)):
            return True
        return any(k.startswith(rel + os.sep) and v is not None
                   for k, v in self.edits.items())

    def executable(self, rel):
        return os.access(self.path(rel), os.X_OK)

    def read(self, rel):
        rel = os.path.normpath(rel)
        if rel in self.edits:
            if self.edits[rel] is None:
                raise FileNotFoundError(rel)
            return self.edits[rel]
        with open(self.path(rel), encoding="utf-8") as f:
            return f.read()

    def files(self, rel):
        """Files under rel (recursive), repository-relative, sorted."""
        out = set()
        base = self.path(rel)
        for d, _, names in os.walk(base):
            for n in names:
                out.add(os.path.relpath(os.path.join(d, n), self.root))
        for k, v in self.edits.items():
            if k.startswith(os.path.normpath(rel) + os.sep):
                if v is None:
                    out.discard(k)
                else:
                    out.add(k)
        return sorted(out)

    def yaml_docs(self, rel):
        text = self.read(rel)
        if text not in _parsed:
            try:
                docs = list(yaml.load_all(text, Loader=_Loader))
            except yaml.YAMLError as e:
                raise Finding("%s: not valid YAML: %s" % (rel, e))
            _parsed[text] = [d for d in docs if d is not None]
        return copy.deepcopy(_parsed[text])


# Parsed YAML by text: the self-test renders the same files many times.
_parsed = {}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ------------------------------------------------------- what provflow reads


class Service:
    """provflow's settings, parsed from service/config.c's table."""

    def __init__(self, tree):
        src = tree.read("service/config.c")
        m = re.search(r"static const setting settings\[\] = \{(.*?)\n\};",
                      src, re.S)
        if not m:
            raise Finding("service/config.c: settings table not found")
        table = m.group(1)
        entry = re.compile(
            r'\{\s*"([a-z0-9-]+)",\s*(NULL|"([A-Z0-9_]+)"),\s*'
            r'(STR|INT|BOOL|CHOICE),\s*([A-Z0-9_| ]+),\s*[^,]+,\s*'
            r'AT\(\w+\),\s*(NULL|"([^"]*)"|DEF\(\w+\))')
        self.by_name = {}
        self.env = {}
        for e in entry.finditer(table):
            name, env, kind, flags, default = (e.group(1), e.group(3),
                                               e.group(4), e.group(5),
                                               e.group(7))
            s = {"name": name, "env": env, "kind": kind,
                 "secret": "SECRET" in flags, "default": default}
            self.by_name[name] = s
            if env:
                self.env[env] = s
        if len(self.by_name) < 20 or table.count('{"') != len(self.by_name):
            raise Finding("service/config.c: parsed %d of %d settings; the "
                          "table's shape changed, update check_manifests.py"
                          % (len(self.by_name), table.count('{"')))
        for need in ("admin-listen", "shutdown-grace-ms", "brokers",
                     "group-id", "input-topic", "results-topic",
                     "dead-letter-topic"):
            if need not in self.by_name:
                raise Finding("service/config.c: no setting %s" % need)
        self.getenv = set(re.findall(r'getenv\("([A-Z0-9_]+)"\)', src))
        m = re.search(r'prefix\[\] = "(PROVFLOW_KAFKA_)"', src)
        self.kafka_prefix = m.group(1) if m else None

    def known(self, var):
        """None if provflow reads var, else why not."""
        if var in self.env or var in self.getenv:
            return None
        if var.endswith("_FILE") and var[:-5] in self.env:
            if self.env[var[:-5]]["secret"]:
                return None
            return "%s is not a secret; %s takes no _FILE variant" % (
                var[:-5], var[:-5])
        if self.kafka_prefix and var.startswith(self.kafka_prefix):
            if re.fullmatch(r"[A-Z0-9_]+", var[len(self.kafka_prefix):]):
                return None
            return "bad librdkafka pass-through name"
        return "provflow reads no such variable (service/config.c)"

    def default(self, name):
        return self.by_name[name]["default"]

    def effective(self, env, name):
        """The value a setting takes from env (a dict) or its default."""
        s = self.by_name[name]
        if s["env"] in env:
            return env[s["env"]]
        return s["default"]

    def admin_port(self, env):
        return port_of(self.effective(env, "admin-listen"))

    def grace_ms(self, env):
        return int(self.effective(env, "shutdown-grace-ms"))


def port_of(addr):
    m = re.search(r":(\d+)$", str(addr))
    if not m:
        raise Finding("no port in %r" % addr)
    return int(m.group(1))


def simulator_defaults(tree):
    src = tree.read("tools/graphsim/gs_config.c")
    out = {}
    for key, pat in (("tenant", r'tenants\[0\]\.id = strdup\("([^"]+)"\)'),
                     ("client", r'clients\[0\]\.id = strdup\("([^"]+)"\)'),
                     ("secret",
                      r'clients\[0\]\.secret = strdup\("([^"]+)"\)')):
        m = re.search(pat, src)
        if m:
            out[key] = m.group(1)
    return out


# ------------------------------------------------------ a kustomize subset

BUILTIN_GROUPS = {"", "apps", "policy", "batch", "autoscaling",
                  "networking.k8s.io", "rbac.authorization.k8s.io"}
# Strategic-merge keys of the list fields these manifests patch.
MERGE_KEYS = {"containers": "name", "initContainers": "name",
              "env": "name", "volumes": "name", "volumeMounts": "mountPath",
              "imagePullSecrets": "name"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass"}


def group_of(obj):
    api = obj.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


def list_key(field, items):
    if field == "ports":
        return "containerPort" if any(
            "containerPort" in i for i in items if isinstance(i, dict)) \
            else "port"
    return MERGE_KEYS.get(field)


def smp(base, patch, field=None):
    """Strategic merge patch (the subset kustomize applies to built-in
    kinds): maps merge, null deletes, keyed lists merge by key,
    `$patch: delete` removes an item, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if k == "$patch":
                raise Finding("$patch: %s in a map is not supported" % v)
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = smp(out[k], v, k)
            else:
                out[k] = strip_directives(v)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        key = list_key(field, base + patch)
        if key is None:
            return strip_directives(patch)
        out = [copy.deepcopy(i) for i in base]
        for item in patch:
            idx = [n for n, b in enumerate(out)
                   if isinstance(b, dict) and b.get(key) == item.get(key)]
            if item.get("$patch") == "delete":
                out = [b for n, b in enumerate(out) if n not in idx]
            elif idx:
                out[idx[0]] = smp(out[idx[0]], item, None)
            else:
                out.append(strip_directives(item))
        return out
    return strip_directives(patch)


def json_merge(base, patch):
    """RFC 7386, what kustomize applies to custom resources."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge(out.get(k), v)
    return out


def strip_directives(v):
    if isinstance(v, dict):
        return {k: strip_directives(x) for k, x in v.items()
                if k != "$patch"}
    if isinstance(v, list):
        return [strip_directives(x) for x in v]
    return v


def obj_id(obj):
    return (obj.get("kind"), (obj.get("metadata") or {}).get("name"))


KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "components",
                      "patches", "namespace", "images"}


def render(tree, d, components=(), component=False, depth=0):
    """Objects of kustomization directory d (repository-relative), plus the
    extra component directories given (as if listed last)."""
    if depth > 10:
        raise Finding("%s: kustomization nesting too deep" % d)
    kpath = os.path.join(d, "kustomization.yaml")
    if not tree.exists(kpath):
        raise Finding("%s: no kustomization.yaml" % d)
    k = tree.yaml_docs(kpath)[0]
    unknown = set(k) - KUSTOMIZATION_KEYS
    if unknown:
        raise Finding("%s: kustomization keys %s are not modelled by "
                      "check_manifests.py (teach it, or use the supported "
                      "ones)" % (kpath, ", ".join(sorted(unknown))))
    if (k.get("kind") == "Component") != component:
        raise Finding("%s: kind %s used as a %s" % (
            kpath, k.get("kind"), "component" if component else
            "kustomization"))
    objs = []
    for r in k.get("resources") or []:
        p = os.path.normpath(os.path.join(d, r))
        if tree.isdir(p):
            objs += render(tree, p, depth=depth + 1)
        elif tree.exists(p):
            objs += tree.yaml_docs(p)
        else:
            raise Finding("%s: resource %s does not exist" % (kpath, r))
    comps = [os.path.normpath(os.path.join(d, c))
             for c in k.get("components") or []] + list(components)
    for c in comps:
        objs = apply_component(tree, c, objs, depth)
    apply_patches(tree, d, k, objs)
    for img in k.get("images") or []:
        for o in objs:
            for c in containers_of(o):
                name, _, tag = c.get("image", "").partition(":")
                if name == img["name"]:
                    c["image"] = "%s:%s" % (img.get("newName", name),
                                            img.get("newTag", tag))
    if k.get("namespace"):
        for o in objs:
            if o.get("kind") not in CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = k["namespace"]
    seen = set()
    for o in objs:
        if obj_id(o) in seen:
            raise Finding("%s: %s %s defined twice" % ((d,) + obj_id(o)))
        seen.add(obj_id(o))
    return objs


def apply_component(tree, d, objs, depth):
    kpath = os.path.join(d, "kustomization.yaml")
    if not tree.exists(kpath):
        raise Finding("component %s: no kustomization.yaml" % d)
    k = tree.yaml_docs(kpath)[0]
    if k.get("kind") != "Component":
        raise Finding("%s: not a Component" % kpath)
    added = []
    for r in k.get("resources") or []:
        p = os.path.normpath(os.path.join(d, r))
        if not tree.exists(p):
            raise Finding("%s: resource %s does not exist" % (kpath, r))
        added += tree.yaml_docs(p)
    unknown = set(k) - KUSTOMIZATION_KEYS
    if unknown:
        raise Finding("%s: kustomization keys %s are not modelled" % (
            kpath, ", ".join(sorted(unknown))))
    objs = objs + added
    apply_patches(tree, d, k, objs)
    return objs


def apply_patches(tree, d, k, objs):
    kpath = os.path.join(d, "kustomization.yaml")
    for p in k.get("patches") or []:
        if "path" in p:
            docs = tree.yaml_docs(os.path.normpath(os.path.join(d,
                                                                p["path"])))
        elif "patch" in p:
            docs = [d_ for d_ in yaml.safe_load_all(p["patch"]) if d_]
        else:
            raise Finding("%s: a patch without path or patch" % kpath)
        for doc in docs:
            target = p.get("target") or {}
            kind = target.get("kind", doc.get("kind"))
            name = target.get("name", (doc.get("metadata") or {}).get(
                "name"))
            hit = [n for n, o in enumerate(objs)
                   if o.get("kind") == kind and
                   (o.get("metadata") or {}).get("name") == name]
            if not hit:
                raise Finding("%s: patch %s finds no %s %s" % (
                    kpath, p.get("path", "(inline)"), kind, name))
            for n in hit:
                if doc.get("$patch") == "delete":
                    # Removed from the output: the object is created
                    # outside the manifests (a real Secret). References
                    # to it stay valid; its keys are unknown.
                    objs[n] = {"kind": kind, "metadata": {"name": name},
                               "__external": True}
                elif group_of(objs[n]) in BUILTIN_GROUPS:
                    objs[n] = smp(objs[n], doc)
                else:
                    objs[n] = json_merge(objs[n], doc)


def containers_of(obj):
    spec = pod_spec(obj)
    return (spec.get("containers") or []) if spec else []


def pod_spec(obj):
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return None


def variants(tree):
    """(label, objects) of every deployable combination under deploy/."""
    out = []
    base = "deploy/base"
    out.append(("base", render(tree, base)))
    comps = sorted({os.path.dirname(f) for f in tree.files("deploy/components")
                    if f.endswith("kustomization.yaml")})
    for c in comps:
        out.append(("base+" + os.path.basename(c),
                    render(tree, base, components=[c])))
    overlays = sorted({os.path.dirname(f)
                       for f in tree.files("deploy/overlays")
                       if f.endswith("kustomization.yaml")})
    for o in overlays:
        out.append((os.path.relpath(o, "deploy"), render(tree, o)))
    return out, comps, overlays


def kustomize_tool():
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def normalise(v, field=None):
    if isinstance(v, dict):
        return {k: normalise(x, k) for k, x in v.items()}
    if isinstance(v, list):
        items = [normalise(x) for x in v]
        key = list_key(field, v)
        if key and all(isinstance(i, dict) for i in items):
            items.sort(key=lambda i: str(i.get(key)))
        return items
    return v


def crosscheck(tree, comps, overlays, rendered):
    """Compare the renderer with kustomize itself, when it is installed."""
    tool = kustomize_tool()
    if tool is None:
        return "kustomize/kubectl not installed: renderer not cross-checked"
    root = os.path.abspath(tree.root)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {"base": os.path.join(root, "deploy/base")}
        for c in comps:
            d = os.path.join(tmp, os.path.basename(c))
            os.mkdir(d)
            with open(os.path.join(d, "kustomization.yaml"), "w") as f:
                yaml.safe_dump({"apiVersion":
                                "kustomize.config.k8s.io/v1beta1",
                                "kind": "Kustomization",
                                "resources": [os.path.relpath(
                                    os.path.join(root, "deploy/base"), d)],
                                "components": [os.path.relpath(
                                    os.path.join(root, c), d)]}, f)
            dirs["base+" + os.path.basename(c)] = d
        for o in overlays:
            dirs[os.path.relpath(o, "deploy")] = os.path.join(root, o)
        for label, objs in rendered:
            r = subprocess.run(tool + [dirs[label]], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0:
                raise Finding("%s: %s failed: %s" % (
                    label, " ".join(tool), r.stderr.strip()[:500]))
            theirs = {obj_id(o): normalise(o)
                      for o in yaml.safe_load_all(r.stdout) if o}
            ours = {obj_id(o): normalise(o) for o in objs
                    if not o.get("__external")}
            if theirs != ours:
                diff = sorted(set(theirs) ^ set(ours)) or [
                    i for i in ours if ours[i] != theirs.get(i)]
                raise Finding("%s: check_manifests.py's rendering differs "
                              "from %s's in %s" % (label, tool[0], diff))
    return "renderer agrees with %s" % " ".join(tool)


# ------------------------------------------------------- Kubernetes checks


def find(objs, kind, name=None):
    return [o for o in objs if o.get("kind") == kind and
            (name is None or (o.get("metadata") or {}).get("name") == name)]


def one(objs, kind, name):
    hit = find(objs, kind, name)
    return hit[0] if hit else None


def keys_of(obj):
    """A Secret's or ConfigMap's keys; None when it is made outside the
    manifests (deleted from the output by a `$patch: delete`)."""
    if obj.get("__external"):
        return None
    return set(obj.get("data") or {}) | set(
        obj.get("stringData") or obj.get("binaryData") or {})


def container_env(c, objs, report, where):
    """provflow's environment from envFrom and env, env winning."""
    env, source = {}, {}
    for ef in c.get("envFrom") or []:
        if "configMapRef" in ef:
            name = ef["configMapRef"].get("name")
            cm = one(objs, "ConfigMap", name)
            if cm is None:
                report("refs", "%s: envFrom configMapRef %s: no such "
                       "ConfigMap" % (where, name))
                continue
            for k, v in (cm.get("data") or {}).items():
                env[k], source[k] = str(v), "ConfigMap %s" % name
        elif "secretRef" in ef:
            name = ef["secretRef"].get("name")
            s = one(objs, "Secret", name)
            if s is None:
                report("refs", "%s: envFrom secretRef %s: no such Secret"
                       % (where, name))
                continue
            for k in keys_of(s) or ():
                env[k], source[k] = "<secret>", "Secret %s" % name
    for e in c.get("env") or []:
        name = e.get("name")
        if "value" in e:
            env[name], source[name] = str(e["value"]), "env"
        elif "valueFrom" in e:
            vf = e["valueFrom"]
            for kind, ref in (("ConfigMap", "configMapKeyRef"),
                              ("Secret", "secretKeyRef")):
                if ref in vf:
                    r = vf[ref]
                    o = one(objs, kind, r.get("name"))
                    if o is None:
                        report("refs", "%s: env %s: %s %s: no such %s" % (
                            where, name, ref, r.get("name"), kind))
                    elif keys_of(o) is not None and \
                            r.get("key") not in keys_of(o):
                        report("refs", "%s: env %s: %s %s has no key %s" % (
                            where, name, kind, r.get("name"), r.get("key")))
                    env[name] = ("<secret>" if kind == "Secret" else str(
                        ((o or {}).get("data") or {}).get(r.get("key"))))
                    source[name] = "env %s" % ref
            if name not in env:
                env[name], source[name] = "<field>", "env valueFrom"
        else:
            env[name], source[name] = "", "env"
    return env, source


def check_variant(label, objs, svc, docker_uid, report, metrics=None):
    deps = find(objs, "Deployment")
    if not deps:
        report("refs", "%s: no Deployment" % label)
        return
    for dep in deps:
        check_deployment(label, dep, objs, svc, docker_uid, report)
        check_replicas(label, dep, objs, report)
        check_scrape(label, dep, objs, report)
        check_spread(label, dep, report)
        for np in find(objs, "NetworkPolicy"):
            check_netpol(label, dep, np, svc, report)
    for s in find(objs, "Secret"):
        if not s.get("__external"):
            check_placeholders(label, s, report)
    if metrics is not None:
        check_alerts(label, objs, metrics, report)


def check_replicas(label, dep, objs, report):
    """KEDA's HPA owns the count: a replicas field would be re-applied by
    every kubectl apply and fight it. Without KEDA the count is needed."""
    name = dep["metadata"]["name"]
    scaled = [so for so in find(objs, "ScaledObject")
              if ((so.get("spec") or {}).get("scaleTargetRef") or {}).get(
                  "name") == name]
    has = "replicas" in (dep.get("spec") or {})
    if scaled and has:
        report("replicas", "%s: Deployment %s sets replicas (%s) but "
               "ScaledObject %s scales it" % (
                   label, name, dep["spec"]["replicas"],
                   scaled[0]["metadata"]["name"]))
    if not scaled and not has:
        report("replicas", "%s: Deployment %s has no replicas and no "
               "ScaledObject: it would run one pod" % (label, name))


def check_scrape(label, dep, objs, report):
    """Pod annotations or a ServiceMonitor, exactly one: both would have
    Prometheus scrape each pod twice; neither, not at all."""
    tmpl = (dep.get("spec") or {}).get("template") or {}
    pod_labels = (tmpl.get("metadata") or {}).get("labels") or {}
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    paths = []
    if str(ann.get("prometheus.io/scrape", "")).lower() == "true":
        paths.append("pod annotations")
    for svc in find(objs, "Service"):
        a = (svc.get("metadata") or {}).get("annotations") or {}
        if str(a.get("prometheus.io/scrape", "")).lower() == "true":
            paths.append("Service %s annotations" % svc["metadata"]["name"])
    services = [o for o in find(objs, "Service")
                if labels_match((o.get("spec") or {}).get("selector"),
                                pod_labels)]
    for sm in find(objs, "ServiceMonitor"):
        sel = ((sm.get("spec") or {}).get("selector") or {}).get(
            "matchLabels")
        hit = [o for o in services
               if labels_match(sel, (o.get("metadata") or {}).get("labels")
                               or {})]
        if not hit:
            report("scrape", "%s: ServiceMonitor %s selects no Service of "
                   "the pods (%s)" % (label, sm["metadata"]["name"], sel))
            continue
        ports = {p.get("name") for o in hit
                 for p in (o.get("spec") or {}).get("ports") or []}
        for ep in (sm.get("spec") or {}).get("endpoints") or []:
            if ep.get("port") not in ports:
                report("scrape", "%s: ServiceMonitor %s port %s: no such "
                       "Service port" % (label, sm["metadata"]["name"],
                                         ep.get("port")))
        paths.append("ServiceMonitor %s" % sm["metadata"]["name"])
    if len(paths) != 1:
        report("scrape", "%s: %s: want exactly one scrape path, got %s" % (
            label, dep["metadata"]["name"],
            ", ".join(paths) if paths else "none"))


def check_spread(label, dep, report):
    tmpl = (dep.get("spec") or {}).get("template") or {}
    pod_labels = (tmpl.get("metadata") or {}).get("labels") or {}
    tsc = (tmpl.get("spec") or {}).get("topologySpreadConstraints") or []
    by_key = {c.get("topologyKey"): c for c in tsc}
    where = "%s: Deployment %s" % (label, dep["metadata"]["name"])
    for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone"):
        c = by_key.get(key)
        if c is None:
            report("spread", "%s: no topologySpreadConstraint on %s" % (
                where, key))
            continue
        sel = (c.get("labelSelector") or {}).get("matchLabels")
        if not sel or not labels_match(sel, pod_labels):
            report("spread", "%s: the %s constraint selects %s, not the "
                   "pods" % (where, key, sel))
    zone = by_key.get("topology.kubernetes.io/zone") or {}
    if zone and zone.get("whenUnsatisfiable") != "ScheduleAnyway":
        report("spread", "%s: zones whenUnsatisfiable %s: a cluster with "
               "one zone, or a full one, would leave pods pending; want "
               "ScheduleAnyway" % (where, zone.get("whenUnsatisfiable")))


def check_netpol(label, dep, np, svc, report):
    where = "%s: NetworkPolicy %s" % (label, np["metadata"]["name"])
    spec = np.get("spec") or {}
    tmpl = (dep.get("spec") or {}).get("template") or {}
    pod_labels = (tmpl.get("metadata") or {}).get("labels") or {}
    sel = (spec.get("podSelector") or {}).get("matchLabels")
    if not sel or not labels_match(sel, pod_labels):
        report("netpol", "%s: podSelector %s is not provflow's pods" % (
            where, sel))
    if set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}:
        report("netpol", "%s: policyTypes %s, want Ingress and Egress" % (
            where, spec.get("policyTypes")))
    for rule in spec.get("ingress") or []:
        peers = rule.get("from") or []
        ok = peers and all(
            set(p) == {"namespaceSelector"} and
            ((p["namespaceSelector"] or {}).get("matchLabels") or {}) ==
            {"kubernetes.io/metadata.name": "monitoring"} for p in peers)
        ports = [p.get("port") for p in rule.get("ports") or []]
        if not ok or ports not in (["admin"], [svc_admin(svc)]):
            report("netpol", "%s: ingress from %s to ports %s; want the "
                   "admin port from the monitoring namespace only" % (
                       where, peers or "anywhere", ports or "all"))
    kinds = {"dns": False, "kafka": False, "https": False}
    for rule in spec.get("egress") or []:
        ports = {(p.get("protocol", "TCP"), p.get("port"))
                 for p in rule.get("ports") or []}
        if not ports:
            report("netpol", "%s: an egress rule to every port" % where)
        elif ports <= {("UDP", 53), ("TCP", 53)}:
            kinds["dns"] = True
        elif ports == {("TCP", 443)}:
            kinds["https"] = True
        elif rule.get("to"):
            kinds["kafka"] = True
        else:
            report("netpol", "%s: egress to ports %s of any address" % (
                where, sorted(ports, key=str)))
    for k, seen in kinds.items():
        if not seen:
            report("netpol", "%s: no egress rule for %s" % (where, k))


def svc_admin(svc):
    return svc.admin_port({})


# Metric names in PromQL: provflow's and the process_* family.
METRIC_RE = re.compile(r"\b((?:provflow|process)_[a-z0-9_]+)\b")


def exported_metrics(tree):
    """The names on /metrics, from the registrations in service/stats.c
    and service/metrics.c (histograms with their three series)."""
    names = set()
    for f in ("service/stats.c", "service/metrics.c"):
        src = tree.read(f)
        for kind, name in re.findall(
                r'pf_metrics_(counter|gauge|histogram|build_info)\(\s*'
                r'm,\s*"([a-z0-9_]+)"', src):
            names.add(name)
            if kind == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
    if len(names) < 20:
        raise Finding("service/stats.c: found %d metric registrations; the "
                      "code's shape changed, update check_manifests.py"
                      % len(names))
    return names


def check_alerts(label, objs, metrics, report):
    for pr in find(objs, "PrometheusRule"):
        for g in (pr.get("spec") or {}).get("groups") or []:
            for r in g.get("rules") or []:
                for m in METRIC_RE.findall(str(r.get("expr", ""))):
                    if m not in metrics:
                        report("alerts", "%s: PrometheusRule %s, %s: %s is "
                               "no metric provflow exports" % (
                                   label, pr["metadata"]["name"],
                                   r.get("alert") or r.get("record"), m))


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_deployment(label, dep, objs, svc, docker_uid, report):
    name = dep["metadata"]["name"]
    where = "%s: Deployment %s" % (label, name)
    spec = dep.get("spec") or {}
    tmpl = spec.get("template") or {}
    pod_labels = (tmpl.get("metadata") or {}).get("labels") or {}
    pod = tmpl.get("spec") or {}
    sel = (spec.get("selector") or {}).get("matchLabels")
    if not sel or not labels_match(sel, pod_labels):
        report("refs", "%s: selector %s does not match the pod labels %s"
               % (where, sel, pod_labels))
    cs = [c for c in pod.get("containers") or []
          if c.get("name") == "provflow"]
    if len(cs) != 1:
        report("refs", "%s: no container named provflow" % where)
        return
    c = cs[0]
    cwhere = where + " container provflow"
    env, source = container_env(c, objs, report, cwhere)

    # env: every variable is one provflow reads.
    for var in sorted(env):
        why = svc.known(var)
        if why:
            report("env", "%s: %s (from %s): %s" % (cwhere, var,
                                                    source[var], why))
    check_secret_env(cwhere, c, env, source, objs, report)

    # refs: ServiceAccount, volumes, mounts.
    sa = pod.get("serviceAccountName")
    sa_obj = one(objs, "ServiceAccount", sa) if sa else None
    if sa and sa_obj is None:
        report("refs", "%s: serviceAccountName %s: no such ServiceAccount"
               % (where, sa))
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for v in volumes.values():
        for kind, field, namekey in (("Secret", "secret", "secretName"),
                                     ("ConfigMap", "configMap", "name")):
            if field in v:
                ref = v[field].get(namekey)
                o = one(objs, kind, ref)
                if o is None:
                    report("refs", "%s: volume %s: no %s %s" % (
                        where, v["name"], kind, ref))
                    continue
                keys = keys_of(o)
                for item in v[field].get("items") or []:
                    if keys is not None and item.get("key") not in keys:
                        report("refs", "%s: volume %s: %s %s has no key %s"
                               % (where, v["name"], kind, ref,
                                  item.get("key")))
    mounts = c.get("volumeMounts") or []
    for m in mounts:
        if m.get("name") not in volumes:
            report("refs", "%s: volumeMount %s: no such volume" % (
                cwhere, m.get("name")))
        elif not m.get("readOnly") and any(
                k in volumes[m["name"]] for k in ("secret", "configMap",
                                                  "projected")):
            report("security", "%s: volumeMount %s of a Secret/ConfigMap "
                   "is not readOnly" % (cwhere, m.get("name")))

    # Ports and probes.
    admin = svc.admin_port(env)
    ports = {p.get("name"): p.get("containerPort")
             for p in c.get("ports") or []}
    if ports.get("admin") != admin:
        report("admin-port", "%s: container port \"admin\" is %s; provflow "
               "listens on %s (PROVFLOW_ADMIN_LISTEN or config.c's default)"
               % (cwhere, ports.get("admin"), admin))
    for probe, path in (("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz"),
                        ("startupProbe", "/healthz")):
        p = c.get(probe)
        if p is None:
            if probe != "startupProbe":
                report("probes", "%s: no %s" % (cwhere, probe))
            continue
        g = p.get("httpGet") or {}
        if g.get("path") != path:
            report("probes", "%s: %s path %s, want %s" % (
                cwhere, probe, g.get("path"), path))
        port = g.get("port")
        num = ports.get(port) if isinstance(port, str) else port
        if isinstance(port, str) and port not in ports:
            report("refs", "%s: %s port %s: no container port of that name"
                   % (cwhere, probe, port))
        if num != admin or (isinstance(port, str) and port != "admin"):
            report("probes", "%s: %s on port %s, not the admin port %s" % (
                cwhere, probe, port, admin))
    a = (tmpl.get("metadata") or {}).get("annotations") or {}
    if "prometheus.io/port" in a and str(a["prometheus.io/port"]) != \
            str(admin):
        report("admin-port", "%s: pod template prometheus.io/port %s, admin "
               "port %s" % (where, a["prometheus.io/port"], admin))

    # Grace.
    grace = svc.grace_ms(env)
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if tgps * 1000 <= grace:
        report("grace", "%s: terminationGracePeriodSeconds %s is not above "
               "the shutdown grace %d ms" % (where, tgps, grace))

    check_security(where, pod, c, docker_uid, report)
    res = c.get("resources") or {}
    if not (res.get("limits") or {}).get("memory") or not (
            res.get("requests") or {}).get("memory"):
        report("resources", "%s: needs a memory request and limit" % cwhere)
    if not (res.get("requests") or {}).get("cpu"):
        report("resources", "%s: needs a cpu request" % cwhere)

    check_files(cwhere, env, mounts, volumes, objs, report)
    check_identity(where, pod_labels, env, sa_obj, report)

    # Objects that select the pods.
    for kind in ("PodDisruptionBudget", "Service"):
        for o in find(objs, kind):
            s = o.get("spec") or {}
            selector = (s.get("selector") or {}).get("matchLabels") \
                if kind == "PodDisruptionBudget" else s.get("selector")
            if not selector or not labels_match(selector, pod_labels):
                report("refs", "%s: %s %s selector %s matches no provflow "
                       "pod (labels %s)" % (label, kind,
                                            o["metadata"]["name"], selector,
                                            pod_labels))
            if kind == "Service":
                for p in s.get("ports") or []:
                    t = p.get("targetPort", p.get("port"))
                    if isinstance(t, str) and t not in ports:
                        report("refs", "%s: Service %s targetPort %s: no "
                               "container port of that name" % (
                                   label, o["metadata"]["name"], t))
                    elif (ports.get(t) if isinstance(t, str) else t) != \
                            admin:
                        report("admin-port", "%s: Service %s targets %s, "
                               "not the admin port %s" % (
                                   label, o["metadata"]["name"], t, admin))
                a = (o.get("metadata") or {}).get("annotations") or {}
                if "prometheus.io/port" in a and str(
                        a["prometheus.io/port"]) != str(admin):
                    report("admin-port", "%s: Service %s prometheus.io/port"
                           " %s, admin port %s" % (
                               label, o["metadata"]["name"],
                               a["prometheus.io/port"], admin))
            if kind == "PodDisruptionBudget":
                mu = s.get("maxUnavailable")
                if mu != 1:
                    report("pdb", "%s: PodDisruptionBudget %s: "
                           "maxUnavailable %s, want 1" % (
                               label, o["metadata"]["name"], mu))
    if not find(objs, "PodDisruptionBudget"):
        report("pdb", "%s: no PodDisruptionBudget" % label)

    check_keda(label, dep, objs, svc, env, report)


def check_secret_env(where, c, env, source, objs, report):
    for e in c.get("env") or []:
        n = e.get("name", "")
        if re.search(r"SECRET|PASSWORD|TOKEN", n) and not n.endswith(
                ("_FILE", "_DIR", "_PATH")) and "value" in e:
            report("secret-inline", "%s: %s is a literal value; use a "
                   "mounted file (%s_FILE) or a secretKeyRef" % (
                       where, n, n))
    for var, src in source.items():
        if src.startswith("ConfigMap") and re.search(
                r"SECRET|PASSWORD", var) and not var.endswith(
                ("_FILE", "_DIR", "_PATH")):
            report("secret-inline", "%s: %s comes from a ConfigMap; "
                   "secrets belong in a Secret" % (where, var))
    if "AZURE_CLIENT_SECRET" in env and "AZURE_CLIENT_SECRET_FILE" in env:
        report("env", "%s: both AZURE_CLIENT_SECRET and "
               "AZURE_CLIENT_SECRET_FILE are set (the variable wins)"
               % where)


FILE_SETTINGS = ("AZURE_CLIENT_CERTIFICATE_PATH", "PROVFLOW_CA_FILE",
                 "PROVFLOW_CREDENTIALS_FILE", "PROVFLOW_CONFIG",
                 "AZURE_FEDERATED_TOKEN_FILE")


def mount_for(path, mounts):
    best = None
    for m in mounts:
        mp = m.get("mountPath", "").rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    return best


def check_files(where, env, mounts, volumes, objs, report):
    files = [v for v in env if v.endswith("_FILE") or v in FILE_SETTINGS]
    for var in files + (["PROVFLOW_SECRETS_DIR"]
                        if "PROVFLOW_SECRETS_DIR" in env else []):
        path = env[var]
        if path.startswith("<"):
            continue
        m = mount_for(path, mounts)
        if m is None:
            report("files", "%s: %s=%s is in no mounted volume (the root "
                   "file system is read-only and holds no secrets)" % (
                       where, var, path))
            continue
        vol = volumes.get(m.get("name")) or {}
        rest = path[len(m["mountPath"].rstrip("/")):].lstrip("/")
        for kind, field, namekey in (("Secret", "secret", "secretName"),
                                     ("ConfigMap", "configMap", "name")):
            if field not in vol:
                continue
            o = one(objs, kind, vol[field].get(namekey))
            if o is None:
                continue
            keys = keys_of(o)
            items = vol[field].get("items")
            if items:
                keys = {i.get("path") for i in items}
            if var == "PROVFLOW_SECRETS_DIR":
                if rest:
                    report("files", "%s: PROVFLOW_SECRETS_DIR=%s is not "
                           "the mount point %s" % (where, path,
                                                   m["mountPath"]))
                for k in sorted(keys or ()):
                    if not SECRET_NAME_RE.match(k):
                        report("files", "%s: %s %s key %r is not a valid "
                               "secret name [a-z0-9][a-z0-9._-]{0,63}: no "
                               "event can name it" % (
                                   where, kind, o["metadata"]["name"], k))
            elif keys is not None and rest not in keys:
                report("files", "%s: %s=%s: %s %s has no key %r (keys: %s)"
                       % (where, var, path, kind, o["metadata"]["name"],
                          rest, ", ".join(sorted(keys))))


def check_security(where, pod, c, docker_uid, report):
    psc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}

    def eff(key):
        return csc.get(key, psc.get(key))
    if eff("runAsNonRoot") is not True:
        report("security", "%s: runAsNonRoot is not true" % where)
    uid = eff("runAsUser")
    if uid in (None, 0) or (docker_uid is not None and uid != docker_uid):
        report("security", "%s: runAsUser %s, the image's user is %s" % (
            where, uid, docker_uid))
    if csc.get("readOnlyRootFilesystem") is not True:
        report("security", "%s: readOnlyRootFilesystem is not true" % where)
    if csc.get("allowPrivilegeEscalation") is not False:
        report("security", "%s: allowPrivilegeEscalation is not false"
               % where)
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        report("security", "%s: capabilities do not drop ALL" % where)
    if (csc.get("capabilities") or {}).get("add"):
        report("security", "%s: capabilities added" % where)
    if csc.get("privileged"):
        report("security", "%s: privileged" % where)
    sp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {})
    if sp.get("type") != "RuntimeDefault":
        report("security", "%s: seccompProfile is not RuntimeDefault"
               % where)


def check_identity(where, pod_labels, env, sa, report):
    use = str(pod_labels.get(WI_LABEL, "false")).lower() == "true"
    other = [v for v in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_SECRET_FILE",
                         "AZURE_CLIENT_CERTIFICATE_PATH") if v in env]
    if use and other:
        report("identity", "%s: label %s=true with %s: the webhook's "
               "AZURE_CLIENT_ID would override the configured one, and the "
               "federated token would go unused" % (where, WI_LABEL,
                                                    ", ".join(other)))
    if not use and not other:
        report("identity", "%s: no credential: neither workload identity "
               "(label %s) nor a client secret or certificate" % (
                   where, WI_LABEL))
    if use:
        ann = ((sa or {}).get("metadata") or {}).get("annotations") or {}
        if "azure.workload.identity/client-id" not in ann:
            report("identity", "%s: workload identity without a "
                   "ServiceAccount annotated azure.workload.identity/"
                   "client-id" % where)


def check_placeholders(label, s, report):
    name = s["metadata"]["name"]
    vals = dict(s.get("stringData") or {})
    for k, v in (s.get("data") or {}).items():
        try:
            vals[k] = base64.b64decode(str(v)).decode("utf-8", "replace")
        except ValueError:
            vals[k] = str(v)
    for k, v in vals.items():
        if PLACEHOLDER not in str(v):
            report("placeholders", "%s: Secret %s key %s holds a value, not "
                   "the placeholder %s: real secrets stay out of git" % (
                       label, name, k, PLACEHOLDER))


def check_keda(label, dep, objs, svc, env, report):
    sos = find(objs, "ScaledObject")
    if not sos:
        return
    replicas = (dep.get("spec") or {}).get("replicas", 1)
    for so in sos:
        n = so["metadata"]["name"]
        where = "%s: ScaledObject %s" % (label, n)
        spec = so.get("spec") or {}
        t = spec.get("scaleTargetRef") or {}
        if t.get("kind", "Deployment") != "Deployment" or \
                one(objs, "Deployment", t.get("name")) is None:
            report("refs", "%s: scaleTargetRef %s: no such Deployment" % (
                where, t.get("name")))
        ann = (so.get("metadata") or {}).get("annotations") or {}
        try:
            parts = int(ann[PARTITIONS_ANNOTATION])
        except (KeyError, ValueError):
            report("keda", "%s: no annotation %s stating the input topic's "
                   "partition count" % (where, PARTITIONS_ANNOTATION))
            parts = None
        mx = spec.get("maxReplicaCount", 100)
        mn = spec.get("minReplicaCount", 0)
        if parts is not None and mx > parts:
            report("keda", "%s: maxReplicaCount %s above the %d partitions "
                   "(idle members)" % (where, mx, parts))
        if parts is not None and replicas > parts:
            report("keda", "%s: the Deployment's %d replicas exceed the %d "
                   "partitions" % (where, replicas, parts))
        if mn > mx:
            report("keda", "%s: minReplicaCount %s > maxReplicaCount %s" % (
                where, mn, mx))
        trig = [x for x in spec.get("triggers") or []
                if x.get("type") == "kafka"]
        if not trig:
            report("keda", "%s: no kafka trigger" % where)
        for x in trig:
            md = x.get("metadata") or {}
            for key, setting in (("bootstrapServers", "brokers"),
                                 ("consumerGroup", "group-id"),
                                 ("topic", "input-topic")):
                want = svc.effective(env, setting)
                if str(md.get(key)) != str(want):
                    report("keda", "%s: trigger %s=%s but provflow's %s is "
                           "%s" % (where, key, md.get(key),
                                   svc.by_name[setting]["env"], want))
            if str(md.get("allowIdleConsumers", "false")).lower() == "true":
                report("keda", "%s: allowIdleConsumers lets replicas exceed "
                       "the partitions" % where)
            if "lagThreshold" not in md:
                report("keda", "%s: no lagThreshold" % where)


# ------------------------------------------------------------- Dockerfile


def dockerfile(tree, rel="docker/Dockerfile"):
    """Stages: [{name, from, instr: [(INSTR, args)]}]."""
    text = re.sub(r"\\\n", " ", tree.read(rel))
    stages = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        instr, _, args = s.partition(" ")
        instr = instr.upper()
        args = args.strip()
        if instr == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            stages.append({"from": m.group(1), "name": m.group(2),
                           "instr": []})
        elif stages:
            stages[-1]["instr"].append((instr, args))
    return stages


def exec_form(args):
    try:
        v = yaml.safe_load(args)
    except yaml.YAMLError:
        return None
    return v if isinstance(v, list) else None


def runtime_packages(stages):
    pk = set()
    for st in stages:
        if st["from"].startswith("debian:12-slim"):
            for instr, args in st["instr"]:
                if instr == "RUN":
                    for m in re.finditer(r"apt-get install ([^&;|]*)", args):
                        pk |= {w for w in m.group(1).split()
                               if not w.startswith("-")}
    return pk


def check_dockerfile(tree, svc, report):
    rel = "docker/Dockerfile"
    if not tree.exists(rel):
        report("dockerfile", "%s is missing" % rel)
        return {}, None
    stages = dockerfile(tree, rel)
    names = {s["name"]: s for s in stages if s["name"]}

    def lineage(st):
        out = [st]
        while out[-1]["from"] in names and len(out) < 10:
            out.append(names[out[-1]["from"]])
        return out

    for st in stages:
        for instr, args in st["instr"]:
            if instr in ("COPY", "ADD"):
                words = [w for w in args.split() if not w.startswith("--")]
                if "--from=" in args:
                    src = re.search(r"--from=(\S+)", args).group(1)
                    if src not in names:
                        report("dockerfile", "%s: COPY --from=%s: no such "
                               "stage" % (rel, src))
                    continue
                for w in words[:-1]:
                    if w != "." and not tree.exists(w):
                        report("dockerfile", "%s: %s %s: no such file in "
                               "the build context (the repository root)"
                               % (rel, instr, w))
            if instr == "RUN":
                for w in re.findall(r"(?<![\w/])(scripts/[\w.-]+)", args):
                    if not tree.exists(w):
                        report("dockerfile", "%s: RUN %s: no such script"
                               % (rel, w))
                    elif not tree.executable(w):
                        report("dockerfile", "%s: RUN %s: not executable"
                               % (rel, w))
    build = [s for s in stages if s["name"] == "build"]
    if not build or not build[0]["from"].startswith("debian:12"):
        report("dockerfile", "%s: no build stage FROM debian:12" % rel)
    else:
        runs = " ".join(a for i, a in build[0]["instr"] if i == "RUN")
        for s in ("scripts/deps", "scripts/build-release"):
            if s not in runs:
                report("dockerfile", "%s: the build stage does not run %s"
                       % (rel, s))
    final = stages[-1] if stages else None
    uid = None
    if final is None:
        return names, None
    chain = lineage(final)
    if not chain[-1]["from"].startswith("debian:12-slim"):
        report("dockerfile", "%s: the runtime image is not debian:12-slim"
               % rel)

    def last(instr, st_chain):
        for st in st_chain:
            for i, a in reversed(st["instr"]):
                if i == instr:
                    return a
        return None
    user = last("USER", chain)
    if user is None or not re.match(r"^\d+(:\d+)?$", user) or \
            user.split(":")[0] == "0":
        report("dockerfile", "%s: USER %s: want a numeric non-root uid "
               "(Kubernetes' runAsNonRoot can only verify a number)" % (
                   rel, user))
    else:
        uid = int(user.split(":")[0])
    admin = svc.admin_port({})
    exposed = last("EXPOSE", chain)
    if exposed is None or str(admin) not in re.findall(r"\d+", exposed):
        report("dockerfile", "%s: EXPOSE %s, the admin port is %s" % (
            rel, exposed, admin))
    if (last("STOPSIGNAL", chain) or "SIGTERM") != "SIGTERM":
        report("dockerfile", "%s: STOPSIGNAL is not SIGTERM" % rel)
    if exec_form(last("ENTRYPOINT", chain) or "") != ["provflow"]:
        report("dockerfile", "%s: ENTRYPOINT is not [\"provflow\"]" % rel)
    if exec_form(last("CMD", chain) or "") != ["run"]:
        report("dockerfile", "%s: CMD is not [\"run\"]" % rel)
    hc = last("HEALTHCHECK", chain)
    if not hc or hc.strip().upper() == "NONE":
        report("dockerfile", "%s: no HEALTHCHECK" % rel)
    else:
        check_healthcheck(tree, rel, hc, stages, admin, report)
    # The ignore file: build/ never enters the context.
    ign = "docker/Dockerfile.dockerignore"
    if not tree.exists(ign):
        report("dockerfile", "%s is missing" % ign)
    else:
        pats = {ln.strip().rstrip("/") for ln in tree.read(ign).splitlines()
                if ln.strip() and not ln.startswith("#")}
        if not pats & {"build", "/build", "**/build"}:
            report("dockerfile", "%s does not exclude build/" % ign)
    return names, uid


def check_healthcheck(tree, rel, hc, stages, admin, report):
    """The HEALTHCHECK asks /healthz on the admin port, with a helper that
    the image really contains."""
    if "/healthz" in hc:
        return
    cmd = re.sub(r"^(--\S+\s+)*CMD\s+", "", hc.strip())
    argv = exec_form(cmd) or cmd.split()
    if not argv:
        report("dockerfile", "%s: empty HEALTHCHECK" % rel)
        return
    prog = argv[0]
    src = None
    for st in stages:
        for i, a in st["instr"]:
            if i == "COPY" and "--from" not in a:
                w = a.split()
                if os.path.basename(w[-1]) == prog or w[-1] == prog:
                    src = w[-2]
    if src is None or not tree.exists(src):
        report("dockerfile", "%s: HEALTHCHECK runs %s, which no COPY puts "
               "in the image" % (rel, prog))
        return
    script = tree.read(src)
    path = argv[2] if len(argv) > 2 else None
    if path is None:
        m = re.search(r"path=\$\{2:-([^}]+)\}", script)
        path = m.group(1) if m else None
    port = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else None
    if port is None:
        m = re.search(r"PROVFLOW_ADMIN_LISTEN:-[^}]*:(\d+)\}", script)
        port = int(m.group(1)) if m else None
    if path != "/healthz" or port != admin:
        report("dockerfile", "%s: HEALTHCHECK (%s) asks %s on port %s; "
               "want /healthz on %s" % (rel, src, path, port, admin))


# -------------------------------------------------------------- compose


def duration_s(v):
    if isinstance(v, (int, float)):
        return v
    total, n = 0.0, 0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(v)):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001,
                               "us": 1e-6}[unit]
        n += 1
    if not n:
        raise Finding("bad duration %r" % v)
    return total


def env_dict(e):
    if isinstance(e, list):
        out = {}
        for item in e:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out
    return {k: ("" if v is None else str(v)) for k, v in (e or {}).items()}


def published(ports):
    """container port -> host binding, of compose's short syntax."""
    out = {}
    for p in ports or []:
        if isinstance(p, dict):
            out[int(p["target"])] = p.get("published")
            continue
        parts = str(p).split("/")[0].split(":")
        out[int(parts[-1])] = ":".join(parts[:-1])
    return out


def check_compose(tree, svc, stage_list, report):
    rel = "docker/compose.yaml"
    if not tree.exists(rel):
        report("compose", "%s is missing" % rel)
        return
    doc = tree.yaml_docs(rel)[0]
    services = doc.get("services") or {}
    docker_dir = os.path.dirname(rel)
    stages = {st["name"] for st in stage_list if st["name"]}

    def built_stage(s):
        b = s.get("build")
        if not b:
            return None
        if isinstance(b, str):
            b = {"context": b}
        ctx = os.path.normpath(os.path.join(docker_dir, b.get("context",
                                                              ".")))
        df = os.path.normpath(os.path.join(ctx, b.get("dockerfile",
                                                      "Dockerfile")))
        if ctx.startswith("..") or not (ctx == "." or tree.isdir(ctx)):
            report("compose", "%s: build context %s is not a directory of "
                   "the repository" % (rel, b.get("context")))
        if not tree.exists(df):
            report("compose", "%s: dockerfile %s does not exist" % (
                rel, df))
            return None
        if df != "docker/Dockerfile":
            return None
        target = b.get("target")
        if target is None:
            return "__final__"
        if target not in stages:
            report("compose", "%s: build target %s: no such stage in %s" % (
                rel, target, df))
            return None
        return target

    pf = services.get("provflow")
    if pf is None:
        report("compose", "%s: no service provflow" % rel)
        return
    stage_of = {n: built_stage(s) for n, s in services.items()}
    if stage_of.get("provflow") not in ("provflow", "__final__"):
        report("compose", "%s: provflow is not built from "
               "docker/Dockerfile's provflow stage" % rel)
    env = env_dict(pf.get("environment"))
    for var in sorted(env):
        why = svc.known(var)
        if why:
            report("env", "%s: provflow: %s: %s" % (rel, var, why))

    # depends_on: existing services; health conditions they can meet.
    for n, s in services.items():
        deps = s.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for d, cond in deps.items():
            if d not in services:
                report("compose", "%s: %s depends on %s: no such service"
                       % (rel, n, d))
                continue
            c = (cond or {}).get("condition", "service_started")
            if c == "service_healthy":
                st = stage_of.get(d)
                has = bool(services[d].get("healthcheck")) or (
                    st is not None and stage_healthcheck(stage_list, st))
                if not has:
                    report("compose", "%s: %s waits for %s to be healthy, "
                           "which has no healthcheck" % (rel, n, d))
            elif c == "service_completed_successfully" and services[d].get(
                    "restart", "no") not in ("no", False):
                report("compose", "%s: %s waits for %s to complete, which "
                       "restarts" % (rel, n, d))

    # Kafka: PROVFLOW_BROKERS is a listener some service advertises.
    brokers = svc.effective(env, "brokers")
    advertised = {}
    for n, s in services.items():
        e = env_dict(s.get("environment"))
        for lst in e.get("KAFKA_ADVERTISED_LISTENERS", "").split(","):
            m = re.match(r"\w+://([^:]+):(\d+)$", lst.strip())
            if m:
                advertised[(m.group(1), int(m.group(2)))] = n
        if "KAFKA_PROCESS_ROLES" in e:
            roles = set(e["KAFKA_PROCESS_ROLES"].split(","))
            if roles != {"broker", "controller"}:
                report("compose", "%s: %s: KRaft combined mode wants "
                       "KAFKA_PROCESS_ROLES broker,controller" % (rel, n))
            for k in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                      "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
                if e.get(k) != "1":
                    report("compose", "%s: %s: %s must be 1 on one broker"
                           % (rel, n, k))
            if not re.match(r"apache/kafka:3\.9\.\d+$", str(s.get("image"))):
                report("compose", "%s: %s: image %s, want apache/kafka:3.9.x"
                       % (rel, n, s.get("image")))
    for b in brokers.split(","):
        m = re.match(r"([^:]+):(\d+)$", b.strip())
        if not m or (m.group(1), int(m.group(2))) not in advertised:
            report("compose", "%s: PROVFLOW_BROKERS %s is no advertised "
                   "listener (%s)" % (rel, b, ", ".join(
                       "%s:%d" % k for k in advertised)))
        elif m.group(1) not in services:
            report("compose", "%s: PROVFLOW_BROKERS host %s is not a "
                   "service" % (rel, m.group(1)))

    # The simulator: URLs, base URL, credential.
    sim = [n for n, st in stage_of.items() if st == "graphsim"]
    if not sim:
        report("compose", "%s: no simulator service (target graphsim)"
               % rel)
    else:
        sn = sim[0]
        cmd = services[sn].get("command") or []
        if isinstance(cmd, str):
            cmd = cmd.split()
        listen = cmd[cmd.index("--listen") + 1] if "--listen" in cmd \
            else None
        base_url = cmd[cmd.index("--base-url") + 1] \
            if "--base-url" in cmd else None
        if listen is None or not listen.startswith("0.0.0.0:"):
            report("compose", "%s: %s must --listen 0.0.0.0:PORT (reachable"
                   " from provflow)" % (rel, sn))
        sim_port = port_of(listen) if listen else None
        for var in ("PROVFLOW_GRAPH_ROOT", "AZURE_AUTHORITY_HOST"):
            url = env.get(var, "")
            m = re.match(r"(https?)://([^:/]+):(\d+)/?$", url)
            if not m or m.group(2) != sn or int(m.group(3)) != sim_port:
                report("compose", "%s: %s=%s is not the simulator "
                       "(http://%s:%s)" % (rel, var, url, sn, sim_port))
            elif m.group(1) == "http" and env.get(
                    "PROVFLOW_ALLOW_HTTP", "").lower() not in (
                        "true", "1", "yes", "on"):
                report("compose", "%s: %s is http:// without "
                       "PROVFLOW_ALLOW_HTTP=true" % (rel, var))
        if base_url and base_url.rstrip("/") != env.get(
                "PROVFLOW_GRAPH_ROOT", "").rstrip("/"):
            report("compose", "%s: %s --base-url %s differs from "
                   "PROVFLOW_GRAPH_ROOT (the token scope)" % (
                       rel, sn, base_url))
        if "--config" not in cmd:
            d = simulator_defaults(tree)
            for var, key in (("AZURE_TENANT_ID", "tenant"),
                             ("AZURE_CLIENT_ID", "client"),
                             ("AZURE_CLIENT_SECRET", "secret")):
                if key in d and env.get(var) != d[key]:
                    report("compose", "%s: %s=%s, the simulator's default "
                           "is %s" % (rel, var, env.get(var), d[key]))

    # Ports, grace, topics.
    admin = svc.admin_port(env)
    pub = published(pf.get("ports"))
    if admin not in pub:
        report("compose", "%s: provflow publishes %s, not the admin port %s"
               % (rel, sorted(pub) or "nothing", admin))
    grace = svc.grace_ms(env)
    sgp = duration_s(pf.get("stop_grace_period", "10s"))
    if sgp * 1000 <= grace:
        report("grace", "%s: provflow stop_grace_period %ss is not above "
               "the shutdown grace %d ms" % (rel, sgp, grace))
    scripts = " ".join(
        str(x) for s in services.values()
        for x in ([s.get("command")] if isinstance(s.get("command"), str)
                  else (s.get("command") or [])))
    if "kafka-topics.sh" not in scripts:
        report("compose", "%s: no service creates the topics "
               "(kafka-topics.sh)" % rel)
    for setting in ("input-topic", "results-topic", "dead-letter-topic"):
        t = svc.effective(env, setting)
        if not re.search(r"(?<![\w.-])%s(?![\w.-])" % re.escape(t),
                         scripts):
            report("compose", "%s: topic %s (%s) is never created" % (
                rel, t, setting))


def stage_healthcheck(stage_list, stage):
    names = {s["name"]: s for s in stage_list if s["name"]}
    st = stage_list[-1] if stage == "__final__" else names.get(stage)
    while st is not None:
        for i, a in st["instr"]:
            if i == "HEALTHCHECK":
                return a.strip().upper() != "NONE"
        st = names.get(st["from"])
    return False


# ------------------------------------------------------------------ driver


def run_checks(tree, crosscheck_kustomize=True):
    """[(check, message)] of everything wrong, and notes."""
    findings, notes = [], []

    def report(check, msg):
        assert check in CHECKS, check
        findings.append((check, msg))

    try:
        svc = Service(tree)
    except Finding as e:
        return [("env", str(e))], notes
    # Every YAML file parses.
    for f in tree.files("deploy") + ["docker/compose.yaml"]:
        if f.endswith((".yaml", ".yml")) and tree.exists(f):
            try:
                tree.yaml_docs(f)
            except Finding as e:
                report("kustomize", str(e))
    stage_list, uid = [], None
    try:
        _, uid = check_dockerfile(tree, svc, report)
        if tree.exists("docker/Dockerfile"):
            stage_list = dockerfile(tree)
    except Finding as e:
        report("dockerfile", str(e))
    try:
        check_compose(tree, svc, stage_list, report)
    except Finding as e:
        report("compose", str(e))
    try:
        rendered, comps, overlays = variants(tree)
    except Finding as e:
        report("kustomize", str(e))
        return findings, notes
    try:
        metrics = exported_metrics(tree)
    except (Finding, OSError) as e:
        report("alerts", str(e))
        metrics = None
    for label, objs in rendered:
        try:
            check_variant(label, objs, svc, uid, report, metrics)
        except Finding as e:
            report("refs", "%s: %s" % (label, e))
    if crosscheck_kustomize:
        try:
            notes.append(crosscheck(tree, comps, overlays, rendered))
        except (Finding, subprocess.SubprocessError) as e:
            report("kustomize", str(e))
    notes.append("variants: %s" % ", ".join(label for label, _ in rendered))
    return findings, notes


def load_fixtures(root):
    cases = []
    d = os.path.join(HERE, "fixtures")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".yaml"):
            continue
        with open(os.path.join(d, f), encoding="utf-8") as fh:
            for case in yaml.safe_load(fh) or []:
                case["__file"] = f
                cases.append(case)
    return cases


def apply_edits(tree, edits):
    out = {}
    for e in edits:
        rel = os.path.normpath(e["file"])
        text = out.get(rel)
        if text is None and "create" not in e:
            text = tree.read(rel)
        if "create" in e:
            text = e["create"]
        elif e.get("delete"):
            text = None
        else:
            if e["replace"] not in text:
                raise Finding("%s: text %r not found (the fixture is out of "
                              "date)" % (rel, e["replace"]))
            text = text.replace(e["replace"], e["with"], 1)
        out[rel] = text
    return out


def self_test(root):
    tree = Tree(root)
    findings, _ = run_checks(tree, crosscheck_kustomize=False)
    if findings:
        for c, m in findings:
            print("FAIL [%s] %s" % (c, m))
        print("self-test: the tree itself does not pass")
        return 1
    cases = load_fixtures(root)
    failed, covered = 0, set()
    for case in cases:
        title = "%s: %s" % (case["__file"], case["name"])
        if case["expect"] not in CHECKS:
            print("FAIL %s: unknown check %s" % (title, case["expect"]))
            failed += 1
            continue
        try:
            edited = Tree(root, apply_edits(tree, case["edits"]))
        except (Finding, OSError) as e:
            print("FAIL %s: %s" % (title, e))
            failed += 1
            continue
        got, _ = run_checks(edited, crosscheck_kustomize=False)
        hit = [m for c, m in got if c == case["expect"]]
        if hit:
            covered.add(case["expect"])
            print("ok   %s -> [%s] %s" % (title, case["expect"], hit[0]))
        else:
            failed += 1
            print("FAIL %s: check %s did not fire (got: %s)" % (
                title, case["expect"],
                "; ".join("[%s] %s" % x for x in got) or "nothing"))
    missing = sorted(set(CHECKS) - covered - {"kustomize"})
    if missing:
        failed += 1
        print("FAIL no fixture proves these checks can fail: %s" % ", ".join(
            missing))
    print("%d passed, %d failed" % (len(cases) - min(failed, len(cases)),
                                    failed))
    return 1 if failed else 0


def needed_libs(binary):
    r = subprocess.run(["ldd", binary], capture_output=True, text=True,
                       check=True)
    libs = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        if "not found" in line:
            raise Finding("%s: %s" % (binary, line.strip()))
    r = subprocess.run(["objdump", "-p", binary], capture_output=True,
                       text=True, check=True)
    direct = re.findall(r"NEEDED\s+(\S+)", r.stdout)
    return {n: libs.get(n) for n in direct}


def package_of(path):
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        cands.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in cands:
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True,
                           text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def runtime_libs(root, binaries):
    """The runtime stage's apt list covers every library the binaries link
    directly (apt resolves the rest); libc6 is in every Debian image."""
    if not shutil.which("dpkg-query") or not shutil.which("objdump"):
        print("runtime-libs: dpkg-query or objdump missing: skipped")
        return 0
    pk = runtime_packages(dockerfile(Tree(root)))
    bad = 0
    for b in binaries:
        for lib, path in sorted(needed_libs(b).items()):
            pkg = package_of(path) if path else None
            ok = pkg in pk or pkg == "libc6"
            print("%-4s %s: %s -> %s" % ("ok" if ok else "FAIL",
                                         os.path.basename(b), lib, pkg))
            bad += not ok
    if bad:
        print("runtime-libs: add the missing packages to docker/Dockerfile's"
              " runtime stage (apt-get install)")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--runtime-libs", nargs="+", metavar="BIN")
    ap.add_argument("--no-kustomize", action="store_true",
                    help="skip the comparison with kustomize/kubectl")
    a = ap.parse_args()
    if a.runtime_libs:
        return runtime_libs(a.root, a.runtime_libs)
    if a.self_test:
        return self_test(a.root)
    findings, notes = run_checks(Tree(a.root), not a.no_kustomize)
    for n in notes:
        print("note: %s" % n)
    for c, m in findings:
        print("FAIL [%s] %s" % (c, m))
    checks = len(CHECKS)
    failed = len({c for c, _ in findings})
    print("%d passed, %d failed" % (checks - failed, failed))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
