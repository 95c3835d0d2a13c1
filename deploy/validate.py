#!/usr/bin/env python3
"""Offline checks of the deployment files (`make validate-deploy`).

Kubernetes (deploy/k8s/):
  * every kustomization lists files that exist, and every manifest file in its directory is
    listed;
  * the base and each overlay are built here, for the kustomize features they use (resources,
    namespace, labels, commonLabels, images, replicas, JSON 6902 patches with a target,
    configMapGenerator and secretGenerator from env files, with name hashes and the references
    to them rewritten as kustomize does); a kustomization using anything else is refused, so
    the build never silently differs from kustomize's;
  * every built resource validates against the Kubernetes JSON schemas (strict: unknown fields
    are errors) of each version in K8S_VERSIONS;
  * cross references: Service and PodDisruptionBudget selectors, HPA scale targets, ConfigMap
    and Secret references (and their keys), probe and Service ports, Ingress backends;
  * the rules the product needs: probes on /healthz and /readyz, resource requests and limits,
    the restricted security context (init containers too), Prometheus annotations naming a
    container port, secrets only through Secrets, grace periods longer than the services'
    drains, environment variables the binaries read and .env.template documents;
  * what operators are promised: Ingress TLS (and cert-manager in the example) routing exactly
    /, /api and /admin and never /healthz, /readyz or /metrics; one migration Job per release,
    named after the api image's tag, referring to no ConfigMap, and an init container
    `wait-for-migrations` in every Deployment; topology spread over zones and nodes; one
    PodDisruptionBudget per Deployment that lets drains through unready pods; the senders
    autoscaled on their backlog or requests in flight, never on CPU; NetworkPolicies isolating
    every pod and allowing exactly the flows it needs;
  * deploy/k8s/optional/ (not part of any build): ServiceMonitors match the example overlay's
    Services, other custom resources have the fields the product relies on, and the
    prometheus-adapter rules serve every metric the autoscalers ask for.

Docker (Dockerfile, deploy/docker-compose.yml):
  * each target compose builds exists in the Dockerfile, and runs as a numeric non-root user;
  * every file the Dockerfile copies exists and is not excluded by .dockerignore, which keeps
    .env, .git, target/ and .venv/ out of the build context;
  * depends_on names services; service_healthy points at a service with a health check,
    service_completed_successfully at a one-shot service; volumes are declared;
  * environment variables of the product's containers are ones their binary reads;
  * health checks and published ports use ports the image exposes; the sender gets a probe
    token the simulator accepts;
  * each target has a HEALTHCHECK on a port it exposes and the OCI labels (version, revision and
    source from build arguments); every compose image is pinned (no latest, no bare name).

Self-test (always, and alone with --self-test): a copy of the example overlay's build, of the
Dockerfile and of the compose file is broken one way at a time, and the check guarding against
it must report it, and must not report the unbroken copy.

Every problem is printed as `FILE: RULE: message`; the exit status is 1 if there is any.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fnmatch
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import yaml

try:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError
except ImportError:  # pragma: no cover - reported below
    kubernetes_validate = None

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
OPTIONAL = K8S / "optional"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_TEMPLATE = ROOT / ".env.template"

# Kubernetes versions the manifests must be valid for: the oldest supported here and the
# newest kubernetes-validate knows.
K8S_VERSIONS = ("1.33.0", "1.37.0")

# Every variable and the key of the settings tree it sets, declared once for every binary.
VARIABLES_RS = ROOT / "crates" / "runtime" / "src" / "settings" / "variables.rs"
# The sections of the settings tree each binary uses; every service uses the shared ones.
SHARED_SECTIONS = {"profile", "database", "bus", "log"}
BINARIES = {
    # load_fixtures: `mailing-api load-fixtures` reads it.
    "mailing-api": SHARED_SECTIONS
    | {"http", "api", "inbound", "oidc", "report", "smtp", "load_fixtures"},
    # http: the daily report's link to the admin UI defaults to the api's port.
    "mailing-scheduler": SHARED_SECTIONS | {"scheduler", "report", "smtp", "http"},
    "mailing-sender": SHARED_SECTIONS | {"sender", "probe"},
    "probe-sim": {"probe_sim"},
}
TARGET_BINARY = {
    "api": "mailing-api",
    "scheduler": "mailing-scheduler",
    "sender": "mailing-sender",
    "probe-sim": "probe-sim",
}
# Read outside the settings tree: the settings file (MAILING_CONFIG_FILE, probe-sim's
# PROBE_SIM_CONFIG_FILE) and the log filter.
EXTRA_VARS = {"MAILING_": {"MAILING_CONFIG_FILE"}, "PROBE_SIM_": {"PROBE_SIM_CONFIG_FILE"}}
COMMON_VARS = {"RUST_LOG"}
# Variables whose values are secrets: in Kubernetes only from a Secret.
SECRET_VARS = {
    "MAILING_DATABASE_URL",
    "MAILING_AMQP_URL",
    "MAILING_ADMIN_PASSWORD",
    "MAILING_JWT_SECRET",
    "MAILING_PROBE_TOKEN",
    "MAILING_OIDC_CLIENT_SECRET",
    "MAILING_SMTP_URL",
}
# How long the api drains in-flight requests after SIGTERM (crates/api/src/startup.rs).
API_SHUTDOWN_SECONDS = 30
DEFAULT_PROBE_TIMEOUT_MS = 10_000
# The port the SMTP egress policy allows: submission with STARTTLS.
SMTP_PORT = 587

NAMESPACED = {
    "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
    "Job", "CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress",
    "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "ServiceMonitor",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
REPLICA_KINDS = {"Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"}
KUSTOMIZATION_KEYS = {
    "apiVersion", "kind", "resources", "namespace", "labels", "commonLabels", "images",
    "replicas", "configMapGenerator", "secretGenerator", "patches",
}


class Problems:
    def __init__(self):
        self.items: list[str] = []

    def add(self, where, rule: str, message: str):
        where = rel(where) if isinstance(where, Path) else where
        self.items.append(f"{where}: {rule}: {message}")


P = Problems()


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_docs(path: Path) -> list:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as error:
        P.add(path, "yaml", f"cannot be read: {error}")
        return []
    for doc in docs:
        if not isinstance(doc, dict):
            P.add(path, "yaml", "a document is not a mapping")
    return [d for d in docs if isinstance(d, dict)]


def describe(res: dict) -> str:
    meta = res.get("metadata") or {}
    return f"{res.get('kind')}/{meta.get('name')}"


# --- settings the binaries read -------------------------------------------------------------


def read_vars() -> dict[str, set[str]]:
    """Variables each binary uses, from the one table of variables and the sections it uses."""
    try:
        text = VARIABLES_RS.read_text()
    except OSError as error:
        P.add(VARIABLES_RS, "settings", f"cannot read the variables: {error}")
        return {binary: set() for binary in BINARIES}
    pairs = re.findall(r'(?:plain|secret)\(\s*"((?:MAILING|PROBE_SIM)_[A-Z0-9_]+)",\s*"([a-z_.]+)"', text)
    if not pairs:
        P.add(VARIABLES_RS, "settings", "no variables found: update validate.py")
    known = {}
    for binary, sections in BINARIES.items():
        used = {name for name, key in pairs if key.split(".")[0] in sections}
        prefixes = {prefix for prefix in EXTRA_VARS if any(name.startswith(prefix) for name in used)}
        extra = set().union(*(EXTRA_VARS[prefix] for prefix in prefixes))
        known[binary] = used | extra | COMMON_VARS
    return known


# Variables the deployment files set, each checked against .env.template at the end.
USED_VARS: dict[str, str] = {}


def check_documented() -> None:
    """The deployment files set only variables .env.template documents."""
    # Every assignment there is commented out ("# NAME=default"), so that a copy changes nothing.
    template = set(re.findall(r"^(?:# )?(MAILING_[A-Z0-9_]+)=", ENV_TEMPLATE.read_text(), re.M))
    for name, where in sorted(USED_VARS.items()):
        if name.startswith("MAILING_") and name not in template:
            P.add(where, "env-template", f"sets {name}, which .env.template does not document")


# --- a kustomize build of the features the overlays use --------------------------------------


class Res:
    """A resource during a build; `generated` ones get a name hash at the end."""

    def __init__(self, obj: dict, source: Path, generated: bool = False, hashed: bool = True):
        self.obj = obj
        self.source = source
        self.generated = generated
        self.hashed = hashed
        self.original_name = obj["metadata"]["name"]

    def id(self):
        meta = self.obj["metadata"]
        return (self.obj.get("apiVersion"), self.obj["kind"], meta.get("namespace"), meta["name"])


def kustomization_file(directory: Path) -> Path | None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            return directory / name
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """A generator's env file, read as kustomize reads it; ambiguous lines are refused."""
    data = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        P.add(path, "generator", f"cannot read the env file: {error}")
        return data
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{rel(path)}:{number}"
        if "=" not in stripped:
            P.add(where, "generator", "a line without `=` takes its value from the environment of kubectl: refused")
            continue
        key, value = stripped.split("=", 1)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            P.add(where, "generator", f"{key!r} is not a valid key")
        if value != value.rstrip() or value[:1] in ("'", '"'):
            P.add(where, "generator", "quotes or trailing spaces: kustomize keeps them in the value")
        if key in data:
            P.add(where, "generator", f"{key} is set twice")
        data[key] = value
    return data


def generate(kdir: Path, spec: dict, kind: str) -> tuple[dict, dict]:
    """Data and options of one configMapGenerator or secretGenerator entry."""
    allowed = {"name", "behavior", "envs", "literals", "options", "type", "namespace"}
    for key in spec:
        if key not in allowed:
            P.add(kustomization_file(kdir), "kustomize", f"{kind} generator field {key!r} is not supported by validate.py")
    data = {}
    for env in spec.get("envs") or []:
        data.update(read_env_file(kdir / env))
    for literal in spec.get("literals") or []:
        key, _, value = literal.partition("=")
        data[key] = value
    return data, spec.get("options") or {}


def kustomize_base64(value: str) -> str:
    """Base64 as kustomize writes a generated Secret's values: in lines of 70 characters, each
    ending in a newline once there is more than one (kyaml's encodeBase64)."""
    encoded = base64.b64encode(value.encode()).decode()
    if len(encoded) < 70:
        return encoded
    return "".join(encoded[i:i + 70] + "\n" for i in range(0, len(encoded), 70))


def make_generated(kind: str, name: str, data: dict, options: dict, secret_type: str | None):
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    if options.get("labels"):
        obj["metadata"]["labels"] = dict(options["labels"])
    if options.get("annotations"):
        obj["metadata"]["annotations"] = dict(options["annotations"])
    if kind == "Secret":
        obj["type"] = secret_type or "Opaque"
        obj["data"] = {k: kustomize_base64(v) for k, v in data.items()}
    else:
        obj["data"] = dict(data)
    return obj


def json_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def pointer_parent(doc, parts: list[str]):
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def apply_json_patch(doc: dict, ops: list) -> None:
    """RFC 6902 add, remove, replace and test."""
    for op in ops:
        parts = json_pointer(op["path"])
        parent = pointer_parent(doc, parts)
        last = parts[-1]
        kind = op["op"]
        if kind == "add":
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if index > len(parent):
                    raise KeyError(op["path"])
                parent.insert(index, copy.deepcopy(op["value"]))
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif kind in ("remove", "replace", "test"):
            key = int(last) if isinstance(parent, list) else last
            if isinstance(parent, list):
                if key >= len(parent):
                    raise KeyError(op["path"])
            elif key not in parent:
                raise KeyError(op["path"])
            if kind == "remove":
                del parent[key]
            elif kind == "replace":
                parent[key] = copy.deepcopy(op["value"])
            elif parent[key] != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        else:
            raise ValueError(f"operation {kind!r} is not supported by validate.py")


def target_matches(target: dict, res: Res) -> bool:
    obj = res.obj
    group, _, version = obj["apiVersion"].rpartition("/")
    for key, value in target.items():
        if key == "group" and group != value:
            return False
        if key == "version" and version != value:
            return False
        if key == "kind" and obj["kind"] != value:
            return False
        if key == "name" and not re.fullmatch(value, obj["metadata"]["name"]):
            return False
        if key == "namespace" and obj["metadata"].get("namespace") != value:
            return False
    return True


def walk(node, visit):
    """Calls visit(dict) on every mapping inside node."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            walk(value, visit)


def split_image(image: str) -> tuple[str, str]:
    """`name[:tag][@digest]` -> (name, the rest with its separator)."""
    at = image.find("@")
    if at >= 0:
        return image[:at], image[at:]
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def accumulate(kdir: Path, seen: tuple = ()) -> list[Res] | None:
    """The resources of one kustomization, before name hashes (kustomize's AccumulateTarget)."""
    kfile = kustomization_file(kdir)
    if kfile is None:
        P.add(kdir, "kustomize", "no kustomization.yaml")
        return None
    if kdir.resolve() in seen:
        P.add(kfile, "kustomize", "includes itself")
        return None
    docs = load_docs(kfile)
    if len(docs) != 1:
        P.add(kfile, "kustomize", "must hold exactly one document")
        return None
    k = docs[0]
    for key in k:
        if key not in KUSTOMIZATION_KEYS:
            P.add(kfile, "kustomize", f"field {key!r} is not supported by validate.py (extend it, or keep the overlay simple)")
    if k.get("kind", "Kustomization") != "Kustomization":
        P.add(kfile, "kustomize", "kind must be Kustomization")

    # Every manifest in the directory is listed, every listed file exists.
    listed, used_files = set(), set()
    resources: list[Res] = []
    for entry in k.get("resources") or []:
        path = (kdir / entry)
        if not path.exists():
            P.add(kfile, "kustomize-resources", f"lists {entry}, which does not exist")
            continue
        if path.is_dir():
            sub = accumulate(path, seen + (kdir.resolve(),))
            if sub is not None:
                resources.extend(sub)
            continue
        listed.add(path.resolve())
        for doc in load_docs(path):
            if not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
                P.add(path, "manifest", "a document has no kind or metadata.name")
                continue
            resources.append(Res(doc, path))
    for spec in k.get("configMapGenerator") or [], k.get("secretGenerator") or []:
        for gen in spec:
            for env in gen.get("envs") or []:
                used_files.add((kdir / env).resolve())
    for patch in k.get("patches") or []:
        if patch.get("path"):
            used_files.add((kdir / patch["path"]).resolve())
    for path in sorted(kdir.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.resolve() not in listed | used_files | {kfile.resolve()}:
            P.add(path, "kustomize-resources", f"is not listed in {rel(kfile)}")
        if path.suffix == ".env" and path.resolve() not in used_files:
            P.add(path, "kustomize-resources", f"is not used by a generator in {rel(kfile)}")

    def find(kind, name):
        return [r for r in resources if r.obj["kind"] == kind and r.original_name == name]

    # Generators.
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for gen in k.get(key) or []:
            name = gen.get("name")
            if not name:
                P.add(kfile, "kustomize", f"a {key} entry has no name")
                continue
            data, options = generate(kdir, gen, kind)
            behavior = gen.get("behavior", "create")
            existing = find(kind, name)
            if behavior == "create":
                if existing:
                    P.add(kfile, "kustomize", f"{kind} {name} exists already: use behavior merge or replace")
                    continue
                obj = make_generated(kind, name, data, options, gen.get("type"))
                resources.append(Res(obj, kfile, generated=True, hashed=not options.get("disableNameSuffixHash")))
            elif behavior in ("merge", "replace"):
                if len(existing) != 1:
                    P.add(kfile, "kustomize", f"{behavior} of {kind} {name}: no such generated resource in the bases")
                    continue
                res = existing[0]
                fresh = make_generated(kind, name, data, options, gen.get("type"))
                if behavior == "merge":
                    res.obj.setdefault("data", {}).update(fresh["data"])
                    for field in ("labels", "annotations"):
                        if fresh["metadata"].get(field):
                            res.obj["metadata"].setdefault(field, {}).update(fresh["metadata"][field])
                else:
                    res.obj["data"] = fresh["data"]
                if options.get("disableNameSuffixHash"):
                    res.hashed = False
            else:
                P.add(kfile, "kustomize", f"unknown generator behavior {behavior!r}")

    # Transformers, in kustomize's order: patches, namespace, labels, replicas, images.
    for patch in k.get("patches") or []:
        unknown = set(patch) - {"target", "patch", "path"}
        if unknown:
            P.add(kfile, "kustomize", f"patch fields {sorted(unknown)} are not supported by validate.py")
        target = patch.get("target") or {}
        if not target or set(target) - {"group", "version", "kind", "name", "namespace"}:
            P.add(kfile, "kustomize", "each patch needs a target of group, version, kind, name or namespace")
            continue
        if "patch" in patch:
            text = patch["patch"]
        elif patch.get("path") and (kdir / patch["path"]).is_file():
            text = (kdir / patch["path"]).read_text()
        else:
            P.add(kfile, "kustomize-patch", f"patch has no `patch` text and no readable `path`: {patch}")
            continue
        try:
            ops = yaml.safe_load(text)
        except yaml.YAMLError as error:
            P.add(kfile, "kustomize-patch", f"patch is not YAML: {error}")
            continue
        if not isinstance(ops, list):
            P.add(kfile, "kustomize-patch", "only JSON 6902 patches (a list of operations) are supported by validate.py")
            continue
        matched = [r for r in resources if target_matches(target, r)]
        if not matched:
            P.add(kfile, "kustomize-patch", f"target {target} matches no resource")
        for res in matched:
            try:
                apply_json_patch(res.obj, ops)
            except (KeyError, IndexError, ValueError, TypeError) as error:
                P.add(kfile, "kustomize-patch", f"cannot apply to {describe(res.obj)}: {error!r}")

    namespace = k.get("namespace")
    if namespace:
        for res in resources:
            kind = res.obj["kind"]
            if kind == "Namespace":
                res.obj["metadata"]["name"] = namespace
            elif kind in NAMESPACED:
                res.obj["metadata"]["namespace"] = namespace
            elif kind not in CLUSTER_SCOPED:
                P.add(res.source, "kustomize", f"validate.py does not know whether {kind} is namespaced")

    for entry in k.get("labels") or []:
        if set(entry) - {"pairs", "includeSelectors", "includeTemplates"}:
            P.add(kfile, "kustomize", "labels entries support pairs, includeSelectors and includeTemplates only")
        if entry.get("includeSelectors"):
            P.add(kfile, "kustomize", "labels with includeSelectors are not supported by validate.py")
        for res in resources:
            res.obj["metadata"].setdefault("labels", {}).update(entry.get("pairs") or {})
            if entry.get("includeTemplates") and res.obj["kind"] in WORKLOADS:
                tmeta = res.obj["spec"]["template"].setdefault("metadata", {})
                tmeta.setdefault("labels", {}).update(entry.get("pairs") or {})
    if k.get("commonLabels"):
        common = k["commonLabels"]
        for res in resources:
            obj = res.obj
            obj["metadata"].setdefault("labels", {}).update(common)
            spec = obj.get("spec") or {}
            if obj["kind"] in WORKLOADS:
                spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(common)
                if obj["kind"] != "Job":
                    spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(common)
            elif obj["kind"] == "Service":
                spec.setdefault("selector", {}).update(common)
            elif obj["kind"] == "PodDisruptionBudget":
                spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(common)
            elif obj["kind"] not in {"ConfigMap", "Secret", "Namespace", "Ingress", "HorizontalPodAutoscaler"}:
                P.add(kfile, "kustomize", f"commonLabels on {obj['kind']} is not supported by validate.py")

    for entry in k.get("replicas") or []:
        matched = [r for r in resources if r.obj["kind"] in REPLICA_KINDS and r.original_name == entry.get("name")]
        if not matched:
            P.add(kfile, "kustomize-replicas", f"{entry.get('name')} names no Deployment")
        for res in matched:
            res.obj["spec"]["replicas"] = entry["count"]

    for entry in k.get("images") or []:
        if set(entry) - {"name", "newName", "newTag", "digest"}:
            P.add(kfile, "kustomize", f"images entry {entry} has fields validate.py does not support")
        hits = []

        def retag(node, entry=entry, hits=hits):
            for field in ("containers", "initContainers"):
                for container in node.get(field) or []:
                    if not isinstance(container, dict) or "image" not in container:
                        continue
                    name, rest = split_image(container["image"])
                    if name != entry["name"]:
                        continue
                    hits.append(container)
                    if entry.get("newName"):
                        name = entry["newName"]
                    if entry.get("digest"):
                        rest = "@" + entry["digest"]
                    elif entry.get("newTag"):
                        rest = ":" + str(entry["newTag"])
                    container["image"] = name + rest

        for res in resources:
            walk(res.obj, retag)
        if not hits:
            P.add(kfile, "kustomize-images", f"image {entry.get('name')} is used by no container")

    ids = {}
    for res in resources:
        if res.id() in ids:
            P.add(res.source, "kustomize", f"{describe(res.obj)} is defined twice (also in {rel(ids[res.id()])})")
        ids[res.id()] = res.source
    return resources


def go_json(value) -> str:
    """json.Marshal as Go writes it: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def name_hash(obj: dict) -> str:
    """kustomize's name suffix of a generated ConfigMap or Secret (api/hasher/hasher.go): the
    sha256 of a JSON encoding of kind, type, name and data. kustomize looks the name up as one
    field called "metadata/name", finds none and hashes "" instead: so does this."""

    def field(key):
        value = obj.get(key)
        return value if value is not None else ""

    if obj["kind"] == "ConfigMap":
        encoded = {"kind": "ConfigMap", "name": "", "data": field("data")}
        if isinstance(obj.get("binaryData"), dict):
            encoded["binaryData"] = obj["binaryData"]
    else:
        encoded = {"kind": "Secret", "type": field("type"), "name": "", "data": field("data")}
        if isinstance(obj.get("stringData"), dict):
            encoded["stringData"] = obj["stringData"]
    digest = hashlib.sha256(go_json(encoded).encode()).hexdigest()[:10]
    return digest.translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}))


def pod_spec(obj: dict):
    if obj.get("kind") in WORKLOADS:
        return ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return None


def rename_references(resources: list[Res], renames: dict) -> None:
    """Rewrites references to renamed ConfigMaps and Secrets (kustomize's nameReference)."""

    def renamed(kind, name, namespace):
        return renames.get((kind, namespace, name), name)

    for res in resources:
        ns = res.obj["metadata"].get("namespace")
        spec = pod_spec(res.obj)
        if spec is not None:
            for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                for source in container.get("envFrom") or []:
                    for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                        if field in source:
                            source[field]["name"] = renamed(kind, source[field]["name"], ns)
                for env in container.get("env") or []:
                    value_from = env.get("valueFrom") or {}
                    for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                        if field in value_from:
                            value_from[field]["name"] = renamed(kind, value_from[field]["name"], ns)
            for volume in spec.get("volumes") or []:
                if "configMap" in volume:
                    volume["configMap"]["name"] = renamed("ConfigMap", volume["configMap"]["name"], ns)
                if "secret" in volume:
                    volume["secret"]["secretName"] = renamed("Secret", volume["secret"]["secretName"], ns)
                for source in (volume.get("projected") or {}).get("sources") or []:
                    for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                        if field in source:
                            source[field]["name"] = renamed(kind, source[field]["name"], ns)
            for pull in spec.get("imagePullSecrets") or []:
                pull["name"] = renamed("Secret", pull["name"], ns)
        if res.obj["kind"] == "Ingress":
            for tls in (res.obj.get("spec") or {}).get("tls") or []:
                if "secretName" in tls:
                    tls["secretName"] = renamed("Secret", tls["secretName"], ns)


def build(kdir: Path) -> list[dict]:
    """`kustomize build kdir` for the supported features."""
    resources = accumulate(kdir)
    if resources is None:
        return []
    renames = {}
    for res in resources:
        if res.generated and res.hashed:
            meta = res.obj["metadata"]
            new = f"{meta['name']}-{name_hash(res.obj)}"
            renames[(res.obj["kind"], meta.get("namespace"), meta["name"])] = new
            meta["name"] = new
    rename_references(resources, renames)
    return [r.obj for r in resources]


# --- schemas ---------------------------------------------------------------------------------


def validate_schemas(where: str, resources: list[dict]) -> None:
    for res in resources:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(res, version, strict=True)
            except ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                P.add(where, f"schema-{version}", f"{describe(res)}: {path}: {error.message}")
            except SchemaNotFoundError as error:
                P.add(where, f"schema-{version}", f"{describe(res)}: {error.message}")


# --- cross references and product rules -------------------------------------------------------


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def binary_of_image(image: str) -> str | None:
    name, _ = split_image(image)
    return name.rsplit("/", 1)[-1]


def check_build(where: str, resources: list[dict], known_vars: dict, complete: bool) -> None:
    """Cross references and the product's rules on one build output. `complete` is false for
    the base, whose Secret comes from the overlays."""
    by_kind: dict[str, dict[str, dict]] = {}
    for res in resources:
        by_kind.setdefault(res["kind"], {})[res["metadata"]["name"]] = res
    workloads = [r for r in resources if r["kind"] in WORKLOADS]
    deployments = by_kind.get("Deployment", {})
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})

    def ref(kind, name, key=None, optional=False, owner=""):
        pool = configmaps if kind == "ConfigMap" else secrets
        if name not in pool:
            if not complete and kind == "Secret" and name == "mailing-secrets":
                return
            if not optional:
                P.add(where, "reference", f"{owner} refers to {kind} {name}, which does not exist")
            return
        if key is not None and key not in (pool[name].get("data") or {}) and not optional:
            P.add(where, "reference", f"{owner} refers to key {key} of {kind} {name}, which it does not have")

    for cm in configmaps.values():
        for key in cm.get("data") or {}:
            if key in SECRET_VARS:
                P.add(where, "secrets", f"{describe(cm)} holds {key}: secrets belong in a Secret")

    for wl in workloads:
        owner = describe(wl)
        spec = pod_spec(wl) or {}
        tmeta = wl["spec"]["template"].get("metadata") or {}
        labels = tmeta.get("labels") or {}
        if wl["kind"] != "Job":
            match = (wl["spec"].get("selector") or {}).get("matchLabels") or {}
            if not selects(match, labels):
                P.add(where, "selector", f"{owner}: selector {match} does not match its pod labels {labels}")
        # Security context of the pod and of each container.
        psc = spec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            P.add(where, "security", f"{owner}: pod securityContext.runAsNonRoot must be true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            P.add(where, "security", f"{owner}: pod seccompProfile must be RuntimeDefault")
        if psc.get("runAsUser") == 0:
            P.add(where, "security", f"{owner}: runs as root")
        if spec.get("automountServiceAccountToken") is not False:
            P.add(where, "security", f"{owner}: automountServiceAccountToken must be false (no API access needed)")
        main_containers = spec.get("containers") or []
        for container in main_containers + (spec.get("initContainers") or []):
            cname = f"{owner} container {container.get('name')}"
            csc = container.get("securityContext") or {}
            if csc.get("allowPrivilegeEscalation") is not False:
                P.add(where, "security", f"{cname}: allowPrivilegeEscalation must be false")
            if csc.get("readOnlyRootFilesystem") is not True:
                P.add(where, "security", f"{cname}: readOnlyRootFilesystem must be true")
            if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
                P.add(where, "security", f"{cname}: capabilities must drop ALL")
            resources_ = container.get("resources") or {}
            for bound in ("requests", "limits"):
                for quantity in ("cpu", "memory"):
                    if quantity not in (resources_.get(bound) or {}):
                        P.add(where, "resources", f"{cname}: no {bound}.{quantity}")
            ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
            numbers = set(ports.values())
            for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                probe = container.get(probe_name)
                if not probe:
                    continue
                port = (probe.get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    P.add(where, "probe-port", f"{cname}: {probe_name} uses port {port!r}, which the container does not name")
                elif isinstance(port, int) and port not in numbers:
                    P.add(where, "probe-port", f"{cname}: {probe_name} uses port {port}, which the container does not expose")
            if wl["kind"] == "Deployment" and container in main_containers:
                # The api's load balancer leaves the broker out: it accepts writes into the outbox
                # while RabbitMQ is away.
                ready_path = "/readyz?exclude=broker" if binary_of_image(container.get("image", "")) == "mailing-api" else "/readyz"
                for probe_name, path in (("livenessProbe", "/healthz"), ("readinessProbe", ready_path)):
                    got = ((container.get(probe_name) or {}).get("httpGet") or {}).get("path")
                    if got != path:
                        P.add(where, "probes", f"{cname}: {probe_name} must GET {path} (has {got})")
            # References, and the variables the binary reads.
            binary = binary_of_image(container.get("image", ""))
            readable = known_vars.get(binary)
            if readable is None:
                P.add(where, "image", f"{cname}: image {container.get('image')} is none of {sorted(known_vars)}")
                readable = set()
            env_names = set()
            for source in container.get("envFrom") or []:
                if "configMapRef" in source:
                    name = source["configMapRef"]["name"]
                    ref("ConfigMap", name, optional=source["configMapRef"].get("optional", False), owner=cname)
                    env_names |= set((configmaps.get(name) or {}).get("data") or {})
                if "secretRef" in source:
                    name = source["secretRef"]["name"]
                    ref("Secret", name, optional=source["secretRef"].get("optional", False), owner=cname)
                    env_names |= set((secrets.get(name) or {}).get("data") or {})
            for env in container.get("env") or []:
                env_names.add(env["name"])
                value_from = env.get("valueFrom") or {}
                for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field in value_from:
                        r = value_from[field]
                        ref(kind, r["name"], r["key"], r.get("optional", False), owner=f"{cname} env {env['name']}")
                if env["name"] in SECRET_VARS and "secretKeyRef" not in value_from:
                    P.add(where, "secrets", f"{cname}: {env['name']} must come from a Secret")
            for name in env_names:
                USED_VARS.setdefault(name, where)
            if binary in known_vars:
                # Shared ConfigMaps may carry another binary's settings; env entries may not.
                for env in container.get("env") or []:
                    if env["name"] not in readable:
                        P.add(where, "env", f"{cname}: {binary} does not read {env['name']}")
                everyone = set().union(*known_vars.values())
                for name in sorted(env_names - everyone):
                    P.add(where, "env", f"{cname}: no binary reads {name}")
            for volume_mount in container.get("volumeMounts") or []:
                if volume_mount["name"] not in {v["name"] for v in spec.get("volumes") or []}:
                    P.add(where, "reference", f"{cname}: mounts volume {volume_mount['name']}, which the pod does not have")
        for volume in spec.get("volumes") or []:
            if "configMap" in volume:
                ref("ConfigMap", volume["configMap"]["name"], optional=volume["configMap"].get("optional", False), owner=owner)
            if "secret" in volume:
                ref("Secret", volume["secret"]["secretName"], optional=volume["secret"].get("optional", False), owner=owner)
        # Prometheus annotations name a container port.
        annotations = tmeta.get("annotations") or {}
        if wl["kind"] == "Deployment":
            all_ports = {str(p.get("containerPort")) for c in spec.get("containers") or [] for p in c.get("ports") or []}
            if annotations.get("prometheus.io/scrape") != "true":
                P.add(where, "prometheus", f"{owner}: no prometheus.io/scrape: \"true\" annotation")
            elif annotations.get("prometheus.io/port") not in all_ports:
                P.add(where, "prometheus", f"{owner}: prometheus.io/port {annotations.get('prometheus.io/port')} is no container port ({sorted(all_ports)})")
            elif annotations.get("prometheus.io/path") != "/metrics":
                P.add(where, "prometheus", f"{owner}: prometheus.io/path must be /metrics")

    # Grace periods longer than the drains.
    config = {}
    for cm in configmaps.values():
        config.update(cm.get("data") or {})
    for name, deployment in deployments.items():
        spec = pod_spec(deployment) or {}
        grace = spec.get("terminationGracePeriodSeconds", 30)
        binaries = {binary_of_image(c.get("image", "")) for c in spec.get("containers") or []}
        if "mailing-api" in binaries:
            pre_stop = 0
            for c in spec.get("containers") or []:
                command = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
                if command[:1] == ["sleep"] and len(command) == 2:
                    pre_stop = int(command[1])
            if grace <= API_SHUTDOWN_SECONDS + pre_stop:
                P.add(where, "shutdown", f"Deployment/{name}: terminationGracePeriodSeconds {grace} must exceed the preStop {pre_stop} s + the api's {API_SHUTDOWN_SECONDS} s drain")
        if "mailing-sender" in binaries:
            timeout = int(config.get("MAILING_PROBE_TIMEOUT_MS", DEFAULT_PROBE_TIMEOUT_MS)) / 1000
            if grace < 2 * timeout + 10:
                P.add(where, "shutdown", f"Deployment/{name}: terminationGracePeriodSeconds {grace} must be at least twice the probe timeout ({timeout:g} s) + 10 s for the sender's drain")

    for svc in by_kind.get("Service", {}).values():
        selector = (svc.get("spec") or {}).get("selector") or {}
        pods = [d for d in deployments.values() if selects(selector, (d["spec"]["template"].get("metadata") or {}).get("labels") or {})]
        if not pods:
            P.add(where, "selector", f"{describe(svc)}: selector {selector} matches no Deployment's pods")
            continue
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for d in pods:
                container_ports = [p for c in pod_spec(d).get("containers") or [] for p in c.get("ports") or []]
                if isinstance(target, str) and target not in {p.get("name") for p in container_ports}:
                    P.add(where, "service-port", f"{describe(svc)}: targetPort {target!r} is not named by {describe(d)}")
                if isinstance(target, int) and target not in {p.get("containerPort") for p in container_ports}:
                    P.add(where, "service-port", f"{describe(svc)}: targetPort {target} is not exposed by {describe(d)}")

    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        selector = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not any(selects(selector, (d["spec"]["template"].get("metadata") or {}).get("labels") or {}) for d in deployments.values()):
            P.add(where, "selector", f"{describe(pdb)}: selector {selector} matches no Deployment's pods")

    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        target = hpa["spec"]["scaleTargetRef"]
        found = by_kind.get(target.get("kind"), {}).get(target.get("name"))
        if not found:
            P.add(where, "reference", f"{describe(hpa)}: scaleTargetRef {target.get('kind')}/{target.get('name')} does not exist")
            continue
        if "replicas" in found["spec"]:
            P.add(where, "hpa", f"{describe(hpa)}: {describe(found)} sets replicas, which every apply would reset under the autoscaler")
        for metric in hpa["spec"].get("metrics") or []:
            name = (metric.get("resource") or {}).get("name")
            if metric.get("type") == "Resource":
                for c in pod_spec(found).get("containers") or []:
                    if name not in ((c.get("resources") or {}).get("requests") or {}):
                        P.add(where, "hpa", f"{describe(hpa)}: scales on {name} but {describe(found)} container {c.get('name')} requests none")

    services = by_kind.get("Service", {})
    for ingress in by_kind.get("Ingress", {}).values():
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                svc = services.get(backend.get("name"))
                if svc is None:
                    P.add(where, "reference", f"{describe(ingress)}: backend Service {backend.get('name')} does not exist")
                    continue
                port = backend.get("port") or {}
                names = {sp.get("name") for sp in svc["spec"].get("ports") or []}
                numbers = {sp.get("port") for sp in svc["spec"].get("ports") or []}
                if ("name" in port and port["name"] not in names) or ("number" in port and port["number"] not in numbers):
                    P.add(where, "reference", f"{describe(ingress)}: backend port {port} is not a port of {describe(svc)}")


# --- what operators expect: TLS, network policies, releases, spreading, disruptions, scaling ---

# Paths answering without credentials, which the Ingress must never route.
INTERNAL_PATHS = ("/healthz", "/readyz", "/metrics")
# What the Ingress routes: the API, the admin UI and the root (303 to /admin).
ROUTED_PATHS = ("/", "/api", "/admin")
MIGRATION_JOB_PREFIX = "mailing-migrate"
WAIT_FOR_MIGRATIONS = "wait-for-migrations"
# Each kind of pod, by the binary of its main container (the migration Job runs mailing-api).
ROLE_OF_BINARY = {"mailing-api": "api", "mailing-scheduler": "scheduler", "mailing-sender": "sender"}
SPREAD_KEYS = {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
SENDER_METRICS = {"mailing_sender_in_flight", "mailing_messages_due"}
DEFAULT_CONCURRENCY = 256
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443}


def pod_labels(workload: dict) -> dict:
    return ((workload["spec"]["template"].get("metadata") or {}).get("labels")) or {}


def selector_matches(selector: dict | None, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; {} selects all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def url_port(url: str, default: int | None = None) -> int | None:
    match = re.match(r"([a-z0-9+.-]+)://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d+))?", url or "")
    if not match:
        return default
    if match.group(3):
        return int(match.group(3))
    return DEFAULT_PORTS.get(match.group(1), default)


def build_settings(resources: list[dict]) -> dict[str, str]:
    """The settings of the build: the ConfigMaps' data, and the Secrets' decoded."""
    settings = {}
    for res in resources:
        if res["kind"] == "ConfigMap":
            settings.update(res.get("data") or {})
        elif res["kind"] == "Secret":
            for key, value in (res.get("data") or {}).items():
                try:
                    settings[key] = base64.b64decode(value).decode()
                except (ValueError, UnicodeDecodeError):
                    pass
    return settings


def image_of(workload: dict) -> str:
    containers = (pod_spec(workload) or {}).get("containers") or [{}]
    return containers[0].get("image", "")


def role_of(workload: dict) -> str | None:
    if workload["kind"] == "Job":
        return "migration"
    return ROLE_OF_BINARY.get(binary_of_image(image_of(workload)))


def release_of(image: str) -> str | None:
    """The release an image reference names: its tag, or the start of its digest."""
    _, rest = split_image(image)
    if rest.startswith(":"):
        return rest[1:]
    if rest.startswith("@"):
        return rest.split(":")[-1][:12]
    return None


def routes(path: dict, target: str) -> bool:
    """Whether an Ingress path sends `target` to its backend."""
    p, kind = path.get("path", "/"), path.get("pathType", "Prefix")
    if kind == "Exact":
        return target == p
    prefix = p.rstrip("/")
    return target == p or target == prefix or target.startswith(prefix + "/")


def check_ingress(where: str, resources: list[dict], complete: bool, site: str) -> None:
    """The routes the Ingress carries, and TLS for them."""
    ingresses = [r for r in resources if r["kind"] == "Ingress"]
    for ingress in ingresses:
        name = describe(ingress)
        spec = ingress.get("spec") or {}
        paths = [p for rule in spec.get("rules") or [] for p in (rule.get("http") or {}).get("paths") or []]
        for path in paths:
            p = path.get("path", "/")
            allowed = (p == "/" and path.get("pathType") == "Exact") or any(
                p == r or p.startswith(r + "/") for r in ROUTED_PATHS if r != "/")
            if not allowed:
                P.add(where, "ingress", f"{name}: routes {p} ({path.get('pathType')}); only / (Exact), /api and /admin may go out")
            for internal in INTERNAL_PATHS:
                if routes(path, internal):
                    P.add(where, "ingress", f"{name}: path {p} ({path.get('pathType')}) routes {internal}, which must stay inside the cluster")
        for needed in ROUTED_PATHS:
            if not any(routes(path, needed) for path in paths):
                P.add(where, "ingress", f"{name}: does not route {needed}")
        tls = spec.get("tls") or []
        if not tls or any(not entry.get("secretName") for entry in tls):
            P.add(where, "ingress-tls", f"{name}: logins and tokens cross it: it needs tls with a secretName")
        if complete:
            hosts = {rule.get("host") for rule in spec.get("rules") or []}
            covered = {h for entry in tls for h in entry.get("hosts") or []}
            if None in hosts:
                P.add(where, "ingress-tls", f"{name}: a rule has no host, so no certificate can cover it")
            for host in sorted(h for h in hosts - covered if h):
                P.add(where, "ingress-tls", f"{name}: host {host} is in no tls entry")
            annotations = ingress["metadata"].get("annotations") or {}
            if site == "example" and not any(k in annotations for k in ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")):
                P.add(where, "ingress-tls", f"{name}: the example overlay shows cert-manager: a cert-manager.io/cluster-issuer annotation")
    if complete and not ingresses:
        P.add(where, "ingress", "no Ingress")


def check_spread_and_disruptions(where: str, resources: list[dict]) -> None:
    """Every Deployment spreads over zones and nodes, and has one PodDisruptionBudget that lets
    a drain through when its pods are not ready."""
    pdbs = [r for r in resources if r["kind"] == "PodDisruptionBudget"]
    for deployment in (r for r in resources if r["kind"] == "Deployment"):
        name = describe(deployment)
        labels = pod_labels(deployment)
        constraints = (pod_spec(deployment) or {}).get("topologySpreadConstraints") or []
        keys = {c.get("topologyKey") for c in constraints if selector_matches(c.get("labelSelector"), labels) and c.get("labelSelector")}
        for key in sorted(SPREAD_KEYS - keys):
            P.add(where, "topology", f"{name}: no topologySpreadConstraint over {key} selecting its own pods")
        for constraint in constraints:
            if constraint.get("whenUnsatisfiable") != "ScheduleAnyway":
                P.add(where, "topology", f"{name}: spreading over {constraint.get('topologyKey')} must be ScheduleAnyway, or a cluster of one zone or node cannot run the replicas")
        mine = [p for p in pdbs if selector_matches((p.get("spec") or {}).get("selector"), labels) and (p.get("spec") or {}).get("selector")]
        if len(mine) != 1:
            P.add(where, "pdb", f"{name}: {len(mine)} PodDisruptionBudgets select its pods; it needs one")
        for pdb in mine:
            spec = pdb.get("spec") or {}
            if "maxUnavailable" not in spec or "minAvailable" in spec:
                P.add(where, "pdb", f"{describe(pdb)}: use maxUnavailable (minAvailable blocks every eviction of a Deployment scaled to that count)")
            if spec.get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
                P.add(where, "pdb", f"{describe(pdb)}: unhealthyPodEvictionPolicy must be AlwaysAllow, or a drain hangs while the pods are unready (an outage of the database or broker)")


def check_migration(where: str, resources: list[dict], complete: bool) -> None:
    """One migration Job per release, whose template a settings change leaves alone, and
    every Deployment's pods held until the schema is current."""
    jobs = [r for r in resources if r["kind"] == "Job"]
    migrations = [j for j in jobs if ((pod_spec(j) or {}).get("containers") or [{}])[0].get("args") == ["migrate"]]
    if len(migrations) != 1:
        P.add(where, "migration", f"{len(migrations)} Jobs run `migrate`; there must be one")
        return
    job = migrations[0]
    image = image_of(job)
    name = job["metadata"]["name"]
    spec = job.get("spec") or {}
    if "ttlSecondsAfterFinished" not in spec:
        P.add(where, "migration", f"{describe(job)}: no ttlSecondsAfterFinished: finished Jobs of every release would pile up")
    for container in (pod_spec(job) or {}).get("containers") or []:
        refs = [s["configMapRef"]["name"] for s in container.get("envFrom") or [] if "configMapRef" in s]
        refs += [e["valueFrom"]["configMapKeyRef"]["name"] for e in container.get("env") or [] if "configMapKeyRef" in (e.get("valueFrom") or {})]
        for ref_ in refs:
            P.add(where, "migration", f"{describe(job)}: refers to ConfigMap {ref_}, whose hashed name changes with every settings change, and a Job's template cannot change")
    if complete:
        release = release_of(image)
        expected = f"{MIGRATION_JOB_PREFIX}-{release}" if release else None
        if expected is None:
            P.add(where, "migration", f"{describe(job)}: its image {image} names no release (a tag or digest)")
        elif name != expected:
            P.add(where, "migration", f"{describe(job)}: must be named {expected} after the release of its image {image}, so each release gets its own Job (set it with the images' tag)")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?", name):
            P.add(where, "migration", f"{describe(job)}: {name} is not a valid Job name (lower case, digits, - and ., at most 63)")
    api_images = {image_of(d) for d in resources if d["kind"] == "Deployment" and role_of(d) == "api"}
    if api_images and api_images != {image}:
        P.add(where, "migration", f"{describe(job)}: runs {image}, not the api's image {sorted(api_images)}: it would apply another release's migrations")
    for deployment in (r for r in resources if r["kind"] == "Deployment"):
        waits = [c for c in (pod_spec(deployment) or {}).get("initContainers") or [] if (c.get("args") or [None])[0] == WAIT_FOR_MIGRATIONS]
        if not waits:
            P.add(where, "migration", f"{describe(deployment)}: no init container running `{WAIT_FOR_MIGRATIONS}`: its pods could start on an old schema")
        for wait in waits:
            if wait.get("image") != image:
                P.add(where, "migration", f"{describe(deployment)}: init container {wait.get('name')} runs {wait.get('image')}, not the migration's {image}: it would wait for another release's schema")


def check_autoscaling(where: str, resources: list[dict], settings: dict) -> None:
    """The senders scale on what bounds them (the backlog, the requests in flight), never on CPU."""
    deployments = {d["metadata"]["name"]: d for d in resources if d["kind"] == "Deployment"}
    concurrency = int(settings.get("MAILING_SENDER_CONCURRENCY") or DEFAULT_CONCURRENCY)
    sender_hpas = []
    for hpa in (r for r in resources if r["kind"] == "HorizontalPodAutoscaler"):
        target = deployments.get(hpa["spec"]["scaleTargetRef"].get("name"))
        if target is None or role_of(target) != "sender":
            continue
        sender_hpas.append(hpa)
        used = set()
        for metric in hpa["spec"].get("metrics") or []:
            kind = metric.get("type")
            if kind in ("Resource", "ContainerResource"):
                P.add(where, "autoscaling", f"{describe(hpa)}: scales the senders on {(metric.get('resource') or metric.get('containerResource') or {}).get('name')}; they wait on the provider, so scale on {sorted(SENDER_METRICS)}")
                continue
            body = metric.get(kind[0].lower() + kind[1:] if kind else "", {}) or {}
            name = (body.get("metric") or {}).get("name")
            used.add(name)
            if name == "mailing_sender_in_flight":
                value = parse_quantity((body.get("target") or {}).get("averageValue"))
                if kind != "Pods" or value is None or not 0 < value < concurrency:
                    P.add(where, "autoscaling", f"{describe(hpa)}: mailing_sender_in_flight must be a Pods metric with an averageValue below MAILING_SENDER_CONCURRENCY ({concurrency}), which it never exceeds")
        if not used & SENDER_METRICS:
            P.add(where, "autoscaling", f"{describe(hpa)}: scales on none of {sorted(SENDER_METRICS)}")
    if not sender_hpas:
        P.add(where, "autoscaling", "no HorizontalPodAutoscaler scales the senders")


def parse_quantity(value) -> float | None:
    """A Kubernetes quantity without binary suffixes: 192, "192", "1500m", "10k"."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mkMG]?)", str(value)) if value is not None else None
    if not match:
        return None
    factor = {"": 1, "m": 0.001, "k": 1e3, "M": 1e6, "G": 1e9}[match.group(2)]
    return float(match.group(1)) * factor


def policy_types(policy: dict) -> set[str]:
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress"} | ({"Egress"} if spec.get("egress") else set())


def check_network_policies(where: str, resources: list[dict], complete: bool, settings: dict) -> None:
    """Every pod is isolated both ways, and the policies allow exactly the flows each needs:
    the api from the ingress controller, health and metrics from the monitoring namespace,
    DNS, the database, the broker, (the senders) the provider, and (the api and the
    schedulers) the report e-mail's SMTP server."""
    policies = [r for r in resources if r["kind"] == "NetworkPolicy"]
    database = url_port(settings.get("MAILING_DATABASE_URL", ""), 5432) or 5432
    broker = url_port(settings.get("MAILING_AMQP_URL", ""), 5672) or 5672
    provider = url_port(settings.get("MAILING_PROBE_URL", ""), 443) or 443
    dns = {("UDP", 53), ("TCP", 53)}
    # The report e-mail's SMTP server (MAILING_SMTP_URL is a secret, so its port is the
    # submission port the policy names).
    smtp = ("TCP", SMTP_PORT)
    expected_egress = {
        "api": dns | {("TCP", database), ("TCP", broker), smtp},
        "scheduler": dns | {("TCP", database), ("TCP", broker), smtp},
        "sender": dns | {("TCP", database), ("TCP", broker), ("TCP", provider)},
        "migration": dns | {("TCP", database)},
    }
    for policy in policies:
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in (policy.get("spec") or {}).get(direction) or []:
                if not rule.get("ports"):
                    P.add(where, "netpol-peer", f"{describe(policy)}: an {direction} rule without ports allows every port")
                peers = rule.get(peers_key)
                if not peers:
                    if direction == "ingress" or complete:
                        P.add(where, "netpol-peer", f"{describe(policy)}: an {direction} rule without `{peers_key}` allows every peer" + (" (the overlay must say where)" if direction == "egress" else ""))
                    continue
                for peer in peers:
                    if direction == "ingress" and ("ipBlock" in peer or peer.get("namespaceSelector") in (None, {})):
                        P.add(where, "netpol-peer", f"{describe(policy)}: ingress only from namespaces named by a non-empty namespaceSelector (the ingress controller's, the monitoring one), not {peer}")
                    cidr = (peer.get("ipBlock") or {}).get("cidr", "")
                    if direction == "egress" and cidr in ("0.0.0.0/0", "::/0") and complete:
                        P.add(where, "netpol-peer", f"{describe(policy)}: egress to {cidr} is to anywhere: name the server's addresses")
                    if direction == "egress" and "namespaceSelector" in peer and peer["namespaceSelector"] == {} and "podSelector" not in peer:
                        P.add(where, "netpol-peer", f"{describe(policy)}: egress to every namespace: name the server's")
    for workload in (r for r in resources if r["kind"] in WORKLOADS):
        role = role_of(workload)
        if role is None:
            continue
        labels = pod_labels(workload)
        named_ports = {p.get("name"): p.get("containerPort") for c in (pod_spec(workload) or {}).get("containers") or [] for p in c.get("ports") or []}
        selecting = [p for p in policies if selector_matches((p.get("spec") or {}).get("podSelector"), labels)]
        for kind in ("Ingress", "Egress"):
            if not any(kind in policy_types(p) for p in selecting):
                P.add(where, "netpol", f"{describe(workload)}: no NetworkPolicy isolates its pods for {kind}: everything may reach {'them' if kind == 'Ingress' else 'anywhere'}")
        allowed = {"ingress": set(), "egress": set()}
        for policy in selecting:
            for direction in allowed:
                for rule in (policy.get("spec") or {}).get(direction) or []:
                    for port in rule.get("ports") or []:
                        number = named_ports.get(port.get("port")) if isinstance(port.get("port"), str) else port.get("port")
                        allowed[direction].add((port.get("protocol", "TCP"), number))
        expected = {
            "ingress": {("TCP", named_ports.get("http"))} if role != "migration" else set(),
            "egress": expected_egress[role],
        }
        for direction in allowed:
            for protocol, number in sorted(allowed[direction] - expected[direction], key=str):
                P.add(where, "netpol-flows", f"{describe(workload)}: {direction} allowed on {protocol} {number}, which it does not need")
            for protocol, number in sorted(expected[direction] - allowed[direction], key=str):
                P.add(where, "netpol-flows", f"{describe(workload)}: {direction} on {protocol} {number} is not allowed, but it needs it")
    # Who may come in: the ingress controller to the api, the monitoring namespace to every
    # service; the api's rule and the metrics rule come from distinct namespace selectors.
    ingress_sources = {}
    for policy in policies:
        for rule in (policy.get("spec") or {}).get("ingress") or []:
            for peer in rule.get("from") or []:
                key = json.dumps(peer.get("namespaceSelector"), sort_keys=True)
                for workload in (r for r in resources if r["kind"] == "Deployment"):
                    if selector_matches((policy.get("spec") or {}).get("podSelector"), pod_labels(workload)):
                        ingress_sources.setdefault(key, set()).add(role_of(workload))
    if complete and not any(roles == {"api", "scheduler", "sender"} for roles in ingress_sources.values()):
        P.add(where, "netpol-flows", "no namespace (the monitoring one) may reach the health and metrics of all of api, scheduler and sender")
    if complete and not any(roles == {"api"} for roles in ingress_sources.values()):
        P.add(where, "netpol-flows", "no namespace (the ingress controller's) may reach the api, and it alone")


def check_operations(where: str, resources: list[dict], complete: bool, site: str) -> None:
    """The promises to operators, on one build."""
    settings = build_settings(resources)
    check_ingress(where, resources, complete, site)
    check_spread_and_disruptions(where, resources)
    check_migration(where, resources, complete)
    check_autoscaling(where, resources, settings)
    check_network_policies(where, resources, complete, settings)


def check_k8s(known_vars: dict) -> list[dict]:
    """Builds and checks the base and every overlay; returns the example overlay's output."""
    example = []
    base_kfile = kustomization_file(BASE)
    if base_kfile is None:
        P.add(BASE, "kustomize", "no kustomization.yaml")
        return example
    targets = [(BASE, False)] + [(d, True) for d in sorted(OVERLAYS.iterdir()) if d.is_dir()]
    for kdir, complete in targets:
        where = f"{rel(kdir)} (built)"
        resources = build(kdir)
        if not resources:
            P.add(kdir, "kustomize", "the build is empty")
            continue
        validate_schemas(where, resources)
        check_build(where, resources, known_vars, complete)
        check_operations(where, resources, complete, kdir.name)
        if complete:
            kinds = {r["kind"] for r in resources}
            for needed in ("Namespace", "Secret", "ConfigMap", "Job", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
                if needed not in kinds:
                    P.add(where, "completeness", f"has no {needed}")
        if kdir.name == "example":
            example = resources
    # probe-sim is a test tool: the base neither runs it nor points at it.
    for path in sorted(p for p in BASE.iterdir() if p.is_file()):
        if "probe-sim" in path.read_text():
            P.add(path, "probe-sim", "the simulator is a test tool and stays out of the base")
    return example


# Custom resources deploy/k8s/optional/ may hold: their CRDs are not in the Kubernetes schemas,
# so each is checked against the few fields the product relies on.
OPTIONAL_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/",
    "PrometheusRule": "monitoring.coreos.com/",
    "ScaledObject": "keda.sh/",
}
ADAPTER_VALUES = "prometheus-adapter-values.yaml"


def check_optional(example: list[dict]) -> None:
    """deploy/k8s/optional/: resources whose CRDs are not in the standard schemas, and the
    metrics adapter's rules the sender's autoscaler needs."""
    services = [r for r in example if r["kind"] == "Service"]
    deployments = {r["metadata"]["name"] for r in example if r["kind"] == "Deployment"}
    for path in sorted(OPTIONAL.glob("*.y*ml")):
        if path.name == ADAPTER_VALUES:
            check_adapter_values(path, example)
            continue
        for doc in load_docs(path):
            kind = doc.get("kind")
            group = OPTIONAL_KINDS.get(kind)
            if group is None or not str(doc.get("apiVersion", "")).startswith(group):
                P.add(path, "optional", f"{describe(doc)}: only {', '.join(f'{g}{k}' for k, g in sorted(OPTIONAL_KINDS.items()))} belong here")
                continue
            if not (doc.get("metadata") or {}).get("name"):
                P.add(path, "optional", f"{kind} without metadata.name")
            spec = doc.get("spec") or {}
            if kind == "PrometheusRule":
                groups = spec.get("groups")
                if not isinstance(groups, list) or not all(isinstance(g, dict) and g.get("name") and isinstance(g.get("rules"), list) for g in groups):
                    P.add(path, "prometheusrule", "spec.groups must be a list of {name, rules}")
                continue
            if kind == "ScaledObject":
                target = (spec.get("scaleTargetRef") or {}).get("name")
                if target not in deployments:
                    P.add(path, "scaledobject", f"scaleTargetRef {target!r} is no Deployment of the example overlay")
                continue
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            matched = [s for s in services if selects(selector, s["metadata"].get("labels") or {})]
            if not matched:
                P.add(path, "servicemonitor", f"selector {selector} matches no Service of the example overlay")
            for endpoint in spec.get("endpoints") or []:
                if endpoint.get("path", "/metrics") != "/metrics":
                    P.add(path, "servicemonitor", "endpoints must scrape /metrics")
                for svc in matched:
                    if endpoint.get("port") not in {p.get("name") for p in svc["spec"].get("ports") or []}:
                        P.add(path, "servicemonitor", f"port {endpoint.get('port')!r} is not named by {describe(svc)}")
            if not spec.get("endpoints"):
                P.add(path, "servicemonitor", "no endpoints")


def check_adapter_values(path: Path, example: list[dict]) -> None:
    """prometheus-adapter's Helm values serve every Pods and External metric the example's
    autoscalers ask for, each from a series of that name."""
    docs = load_docs(path)
    rules = (docs[0].get("rules") or {}) if len(docs) == 1 else {}
    if not rules:
        P.add(path, "adapter", "must be one document with `rules` (prometheus-adapter Helm values)")
    served = {"Pods": set(), "External": set()}
    for section, kind in (("custom", "Pods"), ("external", "External")):
        for rule in rules.get(section) or []:
            name = (rule.get("name") or {}).get("as")
            query = str(rule.get("seriesQuery", ""))
            if not name or not query.startswith(name):
                P.add(path, "adapter", f"a {section} rule must read the series it serves as (seriesQuery {query!r}, name.as {name!r})")
            if "<<.Series>>" not in str(rule.get("metricsQuery", "")):
                P.add(path, "adapter", f"{section} rule {name}: metricsQuery must use <<.Series>>")
            served[kind].add(name)
    for hpa in (r for r in example if r["kind"] == "HorizontalPodAutoscaler"):
        for metric in hpa["spec"].get("metrics") or []:
            kind = metric.get("type")
            if kind not in served:
                continue
            name = ((metric.get(kind.lower()) or {}).get("metric") or {}).get("name")
            if name not in served[kind]:
                P.add(path, "adapter", f"{describe(hpa)} asks for the {kind} metric {name}, which no {'custom' if kind == 'Pods' else 'external'} rule serves")


# --- Dockerfile and compose ------------------------------------------------------------------


def read_dockerfile(text: str | None = None) -> dict[str, dict]:
    """Stages of the Dockerfile: base, exposed ports, user, health check and labels, following
    FROM <stage>; the build arguments each stage declares."""
    stages: dict[str, dict] = {}
    current = None
    if text is None:
        try:
            text = DOCKERFILE.read_text()
        except OSError as error:
            P.add(DOCKERFILE, "dockerfile", f"cannot be read: {error}")
            return stages
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            match = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            parent = stages.get(match.group(1))
            current = {
                "from": match.group(1),
                "expose": set(parent["expose"]) if parent else set(),
                "user": parent["user"] if parent else None,
                "entrypoint": parent["entrypoint"] if parent else None,
                "healthcheck": parent["healthcheck"] if parent else None,
                "labels": dict(parent["labels"]) if parent else {},
                "args": {},
            }
            stages[match.group(2) or f"#{len(stages)}"] = current
        elif current is None:
            continue
        elif word == "EXPOSE":
            current["expose"] |= {int(p.split("/")[0]) for p in rest.split()}
        elif word == "USER":
            current["user"] = rest.strip()
        elif word == "ENTRYPOINT":
            current["entrypoint"] = rest.strip()
        elif word == "HEALTHCHECK":
            current["healthcheck"] = rest.strip()
        elif word == "LABEL":
            for key, quoted, bare in re.findall(r'([\w.-]+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))', rest):
                current["labels"][key] = quoted or bare
        elif word == "ARG":
            name, _, default = rest.strip().partition("=")
            current["args"][name] = default
    return stages


# Labels every image carries (the OCI image spec's annotations), per target.
OCI_LABELS = ("title", "description", "source", "licenses", "version", "revision")
# Set at build time: each from a build argument with a default.
OCI_BUILD_ARGS = ("source", "version", "revision")


def check_dockerfile(stages: dict[str, dict]) -> None:
    """Each target has a health check on an exposed port and the OCI labels; the version,
    revision and source come from build arguments."""
    titles = {}
    for target in TARGET_BINARY:
        stage = stages.get(target)
        if stage is None:
            continue
        check = stage["healthcheck"] or ""
        match = re.search(r'CMD\s+\[\s*"/usr/local/bin/http-probe"\s*,\s*"(\d+)"\s*,\s*"(/[^"]*)"', check)
        if not match:
            P.add(DOCKERFILE, "dockerfile-healthcheck", f"target {target}: no HEALTHCHECK running /usr/local/bin/http-probe PORT PATH (exec form)")
        elif int(match.group(1)) not in stage["expose"]:
            P.add(DOCKERFILE, "dockerfile-healthcheck", f"target {target}: HEALTHCHECK probes port {match.group(1)}, which it does not EXPOSE ({sorted(stage['expose'])})")
        labels = stage["labels"]
        for name in OCI_LABELS:
            if not labels.get(f"org.opencontainers.image.{name}"):
                P.add(DOCKERFILE, "dockerfile-labels", f"target {target}: no org.opencontainers.image.{name} label")
        titles.setdefault(labels.get("org.opencontainers.image.title"), []).append(target)
    for name in OCI_BUILD_ARGS:
        key = f"org.opencontainers.image.{name}"
        for stage_name, stage in stages.items():
            value = stage["labels"].get(key)
            if value is None or (stage_name not in TARGET_BINARY):
                continue
            arg = re.fullmatch(r"\$\{?(\w+)\}?", value)
            # The stage that set the label declared the argument (a label keeps its value).
            declared = set().union(*(s["args"] for s in stages.values()))
            if not arg or arg.group(1) not in declared:
                P.add(DOCKERFILE, "dockerfile-labels", f"target {stage_name}: {key} must come from a build argument with a default, not {value!r}")
    for title, targets in titles.items():
        if title and len(targets) > 1:
            P.add(DOCKERFILE, "dockerfile-labels", f"targets {targets} share the title {title!r}")


# Images of other projects: a version at least to the minor (16.4, 3.13.7), or a digest.
PINNED_TAG = re.compile(r"\d+\.\d+[\w.-]*")


def check_compose_images(compose: dict) -> None:
    """Every image is pinned: no `latest`, no image without a tag; other projects' images to
    a version at least to the minor, so `up` on another day runs the same servers."""
    for name, service in (compose.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        image = service.get("image")
        where = f"{rel(COMPOSE)} service {name}"
        if image is None:
            P.add(where, "compose-image", "no image: name it with a tag")
            continue
        repository, rest = split_image(str(image))
        if rest.startswith("@"):
            continue
        tag = rest[1:]
        if not tag or tag == "latest":
            P.add(where, "compose-image", f"{image}: pin a tag (not latest)")
        elif service.get("build") is None and not PINNED_TAG.match(tag):
            P.add(where, "compose-image", f"{image}: pin another project's image to a version at least to the minor (e.g. 16.4-bookworm), or a digest")


def dockerignored(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Whether .dockerignore keeps `path` (relative to the root) out of the build context: the
    last rule matching the path or one of its parents wins; `!` rules let it back in."""
    parts = path.split("/")
    excluded = False
    for negated, pattern in rules:
        for i in range(1, len(parts) + 1):
            candidate = "/".join(parts[:i])
            if fnmatch.fnmatchcase(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pattern[3:])
            ):
                excluded = not negated
                break
    return excluded


def check_build_context() -> None:
    """Every file the Dockerfile copies from the context exists and is not ignored; local
    settings (.env) never reach the builder."""
    ignore = ROOT / ".dockerignore"
    rules = []
    try:
        for line in ignore.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                negated = line.startswith("!")
                rules.append((negated, line.lstrip("!").strip("/")))
    except OSError:
        P.add(ignore, "dockerignore", "missing: target/, .git and .env would be sent to the builder")
    for required in (".env", "target", ".git", ".venv"):
        if not dockerignored(required, rules):
            P.add(ignore, "dockerignore", f"{required} is not excluded from the build context")
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words[1:] if not w.startswith("--")][:-1]
        for source in sources:
            if not (ROOT / source).exists():
                P.add(DOCKERFILE, "dockerfile", f"COPY {source}: no such file in the repository")
            elif dockerignored(source.rstrip("/"), rules):
                P.add(DOCKERFILE, "dockerignore", f"COPY {source}: excluded by .dockerignore")


def env_of(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def check_compose(known_vars: dict) -> None:
    docs = load_docs(COMPOSE)
    if len(docs) != 1:
        P.add(COMPOSE, "compose", "must hold one YAML document")
        return
    compose = docs[0]
    raw = COMPOSE.read_text()
    for key in compose:
        if key not in ("name", "services", "volumes", "networks", "configs", "secrets") and not key.startswith("x-"):
            P.add(COMPOSE, "compose", f"unknown top-level key {key!r}")
    services = compose.get("services") or {}
    volumes = set((compose.get("volumes") or {}).keys())
    stages = read_dockerfile()
    check_dockerfile(stages)
    check_compose_images(compose)
    for target in TARGET_BINARY:
        if target not in stages:
            P.add(DOCKERFILE, "dockerfile", f"no target {target!r}")
            continue
        user = (stages[target]["user"] or "0").split(":")[0]
        if not user.isdigit() or int(user) == 0:
            P.add(DOCKERFILE, "dockerfile", f"target {target} must run as a numeric non-root USER (has {user})")
        if not stages[target]["entrypoint"]:
            P.add(DOCKERFILE, "dockerfile", f"target {target} has no ENTRYPOINT")
    for name in ("api", "scheduler", "sender", "probe-sim", "postgres", "rabbitmq", "migrate"):
        if name not in services:
            P.add(COMPOSE, "compose", f"no service {name!r}")
    for name, service in services.items():
        where = f"{rel(COMPOSE)} service {name}"
        if not isinstance(service, dict):
            P.add(where, "compose", "is not a mapping")
            continue
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for dep, how in depends.items():
            if dep not in services:
                P.add(where, "depends_on", f"names {dep!r}, which is no service")
                continue
            condition = (how or {}).get("condition", "service_started")
            if condition == "service_healthy":
                check = services[dep].get("healthcheck") or {}
                if not check.get("test") or check.get("disable"):
                    P.add(where, "depends_on", f"waits for {dep} to be healthy, but {dep} has no health check")
            elif condition == "service_completed_successfully":
                if services[dep].get("restart", "no") not in ("no", "on-failure") or services[dep].get("healthcheck"):
                    P.add(where, "depends_on", f"waits for {dep} to complete, but {dep} is not a one-shot service (restart: \"no\")")
            elif condition != "service_started":
                P.add(where, "depends_on", f"unknown condition {condition!r}")
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source")
            if source and not source.startswith((".", "/")) and source not in volumes:
                P.add(where, "volumes", f"uses volume {source!r}, which is not declared")
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if dockerfile.resolve() != DOCKERFILE.resolve():
            P.add(where, "build", f"builds from {dockerfile}, not the project's Dockerfile")
        target = build.get("target")
        if target not in stages:
            P.add(where, "build", f"target {target!r} is not a stage of the Dockerfile ({sorted(k for k in stages if not k.startswith('#'))})")
            continue
        binary = TARGET_BINARY.get(target)
        if binary is None:
            P.add(where, "build", f"target {target!r} runs none of {sorted(TARGET_BINARY)}")
            continue
        readable = known_vars.get(binary, set())
        for var in env_of(service):
            USED_VARS.setdefault(var, rel(COMPOSE))
            if var not in readable:
                P.add(where, "env", f"{binary} does not read {var}")
        exposed = stages[target]["expose"]
        for port in service.get("ports") or []:
            container = int(str(port).split(":")[-1].split("/")[0])
            if container not in exposed:
                P.add(where, "ports", f"publishes {container}, which target {target} does not EXPOSE ({sorted(exposed)})")
        test = (service.get("healthcheck") or {}).get("test") or []
        if test and "/usr/local/bin/http-probe" in test:
            port = int(test[test.index("/usr/local/bin/http-probe") + 1])
            if port not in exposed:
                P.add(where, "healthcheck", f"probes port {port}, which target {target} does not EXPOSE ({sorted(exposed)})")
            addresses = [v for k, v in env_of(service).items() if k.endswith("_ADDR") and v]
            if addresses and not any(str(a).endswith(f":{port}") for a in addresses):
                P.add(where, "healthcheck", f"probes port {port}, but the service listens on {addresses}")
        if (service.get("healthcheck") or {}).get("test") is None and service.get("restart") != "no":
            P.add(where, "healthcheck", "a long-running service needs a health check")
    for var in re.findall(r"\$\{([A-Z0-9_]+)", raw):
        if var.startswith("MAILING_") and var not in set().union(*known_vars.values()):
            P.add(COMPOSE, "env", f"interpolates {var}, which no binary reads")

    # The sender's probe token: set directly, or a settings file written by a one-shot service
    # with the simulator's secret.
    sender = services.get("sender") or {}
    env = env_of(sender)
    if not env.get("MAILING_PROBE_TOKEN"):
        config_file = env.get("MAILING_CONFIG_FILE")
        writers = []
        if config_file:
            directory = str(Path(config_file).parent)
            mounted = {m.split(":")[0] for m in sender.get("volumes") or [] if isinstance(m, str) and m.split(":")[1] == directory}
            for dep, how in (sender.get("depends_on") or {}).items():
                other = services.get(dep) or {}
                if (how or {}).get("condition") == "service_completed_successfully" and any(
                    isinstance(m, str) and m.split(":")[0] in mounted for m in other.get("volumes") or []
                ) and config_file in json.dumps(other.get("command")):
                    writers.append(dep)
        if not writers:
            P.add(f"{rel(COMPOSE)} service sender", "probe-token", "gets no MAILING_PROBE_TOKEN, nor a MAILING_CONFIG_FILE written by a one-shot it waits for")
        for writer in writers:
            if env_of(services[writer]).get("PROBE_SIM_JWT_SECRET") != env_of(services.get("probe-sim") or {}).get("PROBE_SIM_JWT_SECRET"):
                P.add(f"{rel(COMPOSE)} service {writer}", "probe-token", "mints the token with another secret than probe-sim accepts")
    if not str(env.get("MAILING_PROBE_URL", "")).startswith("http://probe-sim:"):
        P.add(f"{rel(COMPOSE)} service sender", "probe-token", "MAILING_PROBE_URL must point at the probe-sim service")


# --- self-test: every check above can fail ---------------------------------------------------


@contextlib.contextmanager
def collected():
    """The problems found inside the block, kept apart from the real run's."""
    saved = P.items
    P.items = []
    try:
        yield P.items
    finally:
        P.items = saved


def find_resource(resources: list[dict], kind: str, role: str | None = None, name: str | None = None) -> dict:
    for res in resources:
        if res["kind"] != kind:
            continue
        if name is not None and res["metadata"]["name"] != name:
            continue
        if role is not None and (res["kind"] not in WORKLOADS or role_of(res) != role):
            continue
        return res
    raise LookupError(f"self-test: no {kind} {role or name} in the example overlay")


def k8s_breakages():
    """(what is broken, the rule that must report it, how to break a copy of the example)."""
    def pods(role):
        return lambda r: pod_spec(find_resource(r, "Deployment" if role != "migration" else "Job", role))

    def ingress(r):
        return find_resource(r, "Ingress")["spec"]

    def policy(name):
        return lambda r: find_resource(r, "NetworkPolicy", name=name)["spec"]

    def sender_hpa(r):
        return find_resource(r, "HorizontalPodAutoscaler", name="mailing-sender")["spec"]

    def remove(items, predicate):
        items[:] = [i for i in items if not predicate(i)]

    return [
        ("a Deployment without topology spread", "topology",
         lambda r: pods("scheduler")(r).pop("topologySpreadConstraints")),
        ("spread over nodes only", "topology",
         lambda r: remove(pods("api")(r)["topologySpreadConstraints"], lambda c: "zone" in c["topologyKey"])),
        ("a Deployment without PodDisruptionBudget", "pdb",
         lambda r: remove(r, lambda x: x["kind"] == "PodDisruptionBudget" and x["metadata"]["name"] == "mailing-sender")),
        ("a PodDisruptionBudget that blocks drains of unready pods", "pdb",
         lambda r: find_resource(r, "PodDisruptionBudget", name="mailing-api")["spec"].pop("unhealthyPodEvictionPolicy")),
        ("a PodDisruptionBudget with minAvailable", "pdb",
         lambda r: find_resource(r, "PodDisruptionBudget", name="mailing-api")["spec"].update({"minAvailable": 2})),
        ("an Ingress without TLS", "ingress-tls", lambda r: ingress(r).pop("tls")),
        ("a host without certificate", "ingress-tls", lambda r: ingress(r)["tls"][0].pop("hosts")),
        ("the example without cert-manager", "ingress-tls",
         lambda r: find_resource(r, "Ingress")["metadata"].pop("annotations")),
        ("an Ingress routing / as a prefix (so /metrics too)", "ingress",
         lambda r: ingress(r)["rules"][0]["http"]["paths"][0].update({"pathType": "Prefix"})),
        ("an Ingress routing /metrics", "ingress",
         lambda r: ingress(r)["rules"][0]["http"]["paths"].append({"path": "/metrics", "pathType": "Exact", "backend": {"service": {"name": "mailing-api", "port": {"name": "http"}}}})),
        ("an Ingress not routing /", "ingress", lambda r: ingress(r)["rules"][0]["http"]["paths"].pop(0)),
        ("a migration Job with the same name every release", "migration",
         lambda r: find_resource(r, "Job")["metadata"].update({"name": MIGRATION_JOB_PREFIX})),
        ("a migration Job named after another release", "migration",
         lambda r: find_resource(r, "Job")["metadata"].update({"name": f"{MIGRATION_JOB_PREFIX}-0.0.9"})),
        ("a migration Job kept forever", "migration", lambda r: find_resource(r, "Job")["spec"].pop("ttlSecondsAfterFinished")),
        ("a migration Job reading the hashed ConfigMap", "migration",
         lambda r: pods("migration")(r)["containers"][0].setdefault("envFrom", []).append({"configMapRef": {"name": find_resource(r, "ConfigMap")["metadata"]["name"]}})),
        ("a Deployment that does not wait for the migration", "migration",
         lambda r: pods("sender")(r).pop("initContainers")),
        ("an init container waiting with another release's image", "migration",
         lambda r: pods("scheduler")(r)["initContainers"][0].update({"image": "mailing-api:0.0.9"})),
        ("the senders scaled on CPU", "autoscaling",
         lambda r: sender_hpa(r)["metrics"].append({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}})),
        ("an in-flight target the senders never reach", "autoscaling",
         lambda r: sender_hpa(r)["metrics"][0]["pods"]["target"].update({"averageValue": "256"})),
        ("no autoscaler for the senders", "autoscaling",
         lambda r: remove(r, lambda x: x["kind"] == "HorizontalPodAutoscaler")),
        ("no default deny", "netpol", lambda r: remove(r, lambda x: x["metadata"]["name"] == "mailing-default-deny")),
        ("no DNS", "netpol-flows", lambda r: remove(r, lambda x: x["metadata"]["name"] == "mailing-dns")),
        ("the provider reachable from every pod", "netpol-flows",
         lambda r: policy("mailing-sender-to-provider")(r).update({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mailing"}}})),
        ("an extra port out of the senders", "netpol-flows",
         lambda r: policy("mailing-sender-to-provider")(r)["egress"][0]["ports"].append({"port": 25, "protocol": "TCP"})),
        ("the database anywhere", "netpol-peer", lambda r: policy("mailing-to-database")(r)["egress"][0].pop("to")),
        ("the provider anywhere on the internet", "netpol-peer",
         lambda r: policy("mailing-sender-to-provider")(r)["egress"][0].update({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})),
        ("metrics open to every namespace", "netpol-peer",
         lambda r: policy("mailing-metrics-from-monitoring")(r)["ingress"][0].update({"from": [{"namespaceSelector": {}}]})),
        ("the api open to every port", "netpol-peer",
         lambda r: policy("mailing-api-from-ingress-controller")(r)["ingress"][0].pop("ports")),
        ("the ingress controller reaching the senders too", "netpol-flows",
         lambda r: policy("mailing-api-from-ingress-controller")(r).update({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mailing"}}})),
    ]


def dockerfile_breakages():
    return [
        ("no HEALTHCHECK", "dockerfile-healthcheck", lambda text: re.sub(r"\nHEALTHCHECK [^\n]*\\\n[^\n]*", "", text)),
        ("a HEALTHCHECK on a port not exposed", "dockerfile-healthcheck", lambda text: text.replace('"8082", "/healthz"', '"8083", "/healthz"')),
        ("no licenses label", "dockerfile-labels", lambda text: re.sub(r'org\.opencontainers\.image\.licenses="[^"]*"', "", text)),
        ("a fixed version label", "dockerfile-labels", lambda text: text.replace('version="${VERSION}"', 'version="1.0"')),
        ("no title on a target", "dockerfile-labels", lambda text: text.replace('image.title="mailing-sender"', 'image.title=""')),
    ]


def compose_breakages():
    def image(service, value):
        def mutate(compose):
            compose["services"][service]["image"] = value
        return mutate

    return [
        ("postgres:latest", "compose-image", image("postgres", "postgres:latest")),
        ("an untagged image", "compose-image", image("rabbitmq", "rabbitmq")),
        ("a major version only", "compose-image", image("postgres", "postgres:16")),
        ("a built image without a tag", "compose-image", image("api", "mailing-api")),
    ]


def self_test(known_vars: dict) -> None:
    """Breaks a copy of the example overlay's build, of the Dockerfile and of the compose file
    one way at a time, and expects the check that guards against it to say so: a check that
    cannot fail would pass every broken copy."""
    def run(label, rule, check, original, mutate):
        with collected() as clean:
            check(copy.deepcopy(original))
        broken = copy.deepcopy(original)
        try:
            result = mutate(broken)
            if isinstance(original, str):
                broken = result
        except (LookupError, IndexError, TypeError) as error:
            P.add(Path(__file__), "self-test", f"cannot break the copy for {label!r}: {error!r}")
            return
        with collected() as found:
            check(broken)
        if broken == original:
            P.add(Path(__file__), "self-test", f"{label!r} changed nothing: update the self-test")
        elif any(f": {rule}: " in item for item in clean):
            P.add(Path(__file__), "self-test", f"{label!r}: {rule} fails on the unbroken copy already")
        elif not any(f": {rule}: " in item for item in found):
            P.add(Path(__file__), "self-test", f"{label!r}: the check {rule} did not notice (found: {found or 'nothing'})")

    with collected():
        example = build(OVERLAYS / "example")

    def check_k8s_copy(resources):
        check_build("self-test", resources, known_vars, True)
        check_operations("self-test", resources, True, "example")

    for label, rule, mutate in k8s_breakages():
        run(label, rule, check_k8s_copy, example, mutate)
    dockerfile = DOCKERFILE.read_text()
    for label, rule, mutate in dockerfile_breakages():
        run(label, rule, lambda text: check_dockerfile(read_dockerfile(text)), dockerfile, mutate)
    compose = (load_docs(COMPOSE) or [{}])[0]
    for label, rule, mutate in compose_breakages():
        run(label, rule, check_compose_images, compose, mutate)


def main() -> int:
    started = time.monotonic()
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        # What validate.py builds from a kustomization, for comparing with `kubectl kustomize`.
        resources = build(Path(sys.argv[2]))
        print(yaml.safe_dump_all(resources, sort_keys=True), end="")
        for item in P.items:
            print(f"ERROR {item}", file=sys.stderr)
        return 1 if P.items else 0
    only_self_test = sys.argv[1:] == ["--self-test"]
    if len(sys.argv) > 1 and not only_self_test:
        print(f"usage: {sys.argv[0]} [--build KUSTOMIZATION_DIR | --self-test]", file=sys.stderr)
        return 2
    if kubernetes_validate is None:
        print("kubernetes-validate is not installed: run `make validate-deploy`", file=sys.stderr)
        return 2
    known_vars = read_vars()
    if only_self_test:
        self_test(known_vars)
        for item in P.items:
            print(f"ERROR {item}", file=sys.stderr)
        print(f"deploy validation self-test: {len(P.items)} problem(s)" if P.items else "deploy validation self-test: every check fails on the copy broken for it")
        return 1 if P.items else 0
    example = check_k8s(known_vars)
    check_optional(example)
    check_compose(known_vars)
    check_build_context()
    check_documented()
    self_test(known_vars)
    for item in P.items:
        print(f"ERROR {item}", file=sys.stderr)
    took = time.monotonic() - started
    if P.items:
        print(f"deploy validation: {len(P.items)} problem(s) ({took:.1f} s)", file=sys.stderr)
        return 1
    print(f"deploy validation: Kubernetes manifests (schemas {', '.join(K8S_VERSIONS)}), Dockerfile and compose file OK ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
