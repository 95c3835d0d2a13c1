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
    the restricted security context, Prometheus annotations naming a container port, an
    Ingress that exposes only /api and /admin, secrets only through Secrets, grace periods
    longer than the services' drains, environment variables the binaries read and
    .env.template documents;
  * deploy/k8s/optional/ (not part of any build) matches the example overlay's Services.

Docker (Dockerfile, deploy/docker-compose.yml):
  * each target compose builds exists in the Dockerfile, and runs as a numeric non-root user;
  * every file the Dockerfile copies exists and is not excluded by .dockerignore, which keeps
    .env, .git, target/ and .venv/ out of the build context;
  * depends_on names services; service_healthy points at a service with a health check,
    service_completed_successfully at a one-shot service; volumes are declared;
  * environment variables of the product's containers are ones their binary reads;
  * health checks and published ports use ports the image exposes; the sender gets a probe
    token the simulator accepts.

Every problem is printed as `FILE: RULE: message`; the exit status is 1 if there is any.
"""

from __future__ import annotations

import base64
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
    "mailing-api": SHARED_SECTIONS | {"http", "api"},
    "mailing-scheduler": SHARED_SECTIONS | {"scheduler"},
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
}
# How long the api drains in-flight requests after SIGTERM (crates/api/src/startup.rs).
API_SHUTDOWN_SECONDS = 30
DEFAULT_PROBE_TIMEOUT_MS = 10_000

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
        for container in spec.get("containers") or []:
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
            if wl["kind"] == "Deployment":
                for probe_name, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
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
                p = path.get("path", "/")
                if not (p == "/api" or p.startswith("/api/") or p == "/admin" or p.startswith("/admin/")):
                    P.add(where, "ingress", f"{describe(ingress)}: exposes {p}; only /api and /admin may go out")
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


# docs/deploy.md applies these first, waits for the migration Job, then applies the rest.
FIRST_STEP_COMPONENTS = ("namespace", "config", "migration")


def check_first_step(where: str, resources: list[dict]) -> None:
    """`kubectl apply -k OVERLAY -l 'app.kubernetes.io/component in (namespace,config,migration)'`
    creates the namespace, the ConfigMaps and Secrets and the migration Job, and nothing else,
    and the Job finds everything it refers to among them."""
    first = [r for r in resources if (r["metadata"].get("labels") or {}).get("app.kubernetes.io/component") in FIRST_STEP_COMPONENTS]
    kinds = sorted({r["kind"] for r in first})
    if kinds != ["ConfigMap", "Job", "Namespace", "Secret"]:
        P.add(where, "migration-first", f"the first step's selector picks {kinds}, not exactly the Namespace, ConfigMap, Secret and migration Job")
    names = {(r["kind"], r["metadata"]["name"]) for r in first}
    for job in (r for r in first if r["kind"] == "Job"):
        for container in pod_spec(job).get("containers") or []:
            refs = [("ConfigMap", s["configMapRef"]["name"]) for s in container.get("envFrom") or [] if "configMapRef" in s]
            refs += [("Secret", s["secretRef"]["name"]) for s in container.get("envFrom") or [] if "secretRef" in s]
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                if "configMapKeyRef" in value_from:
                    refs.append(("ConfigMap", value_from["configMapKeyRef"]["name"]))
                if "secretKeyRef" in value_from:
                    refs.append(("Secret", value_from["secretKeyRef"]["name"]))
            for ref_ in refs:
                if ref_ not in names:
                    P.add(where, "migration-first", f"{describe(job)} needs {ref_[0]} {ref_[1]}, which the first step does not apply (label it app.kubernetes.io/component: config)")


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
        if complete:
            check_first_step(where, resources)
            kinds = {r["kind"] for r in resources}
            for needed in ("Namespace", "Secret", "ConfigMap", "Job", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
                if needed not in kinds:
                    P.add(where, "completeness", f"has no {needed}")
        if kdir.name == "example":
            example = resources
    # probe-sim is a test tool: the base neither runs it nor points at it.
    for path in sorted(p for p in BASE.iterdir() if p.is_file()):
        if "probe-sim" in path.read_text():
            P.add(path, "probe-sim", "the simulator is a test tool and stays out of the base")
    return example


def check_optional(example: list[dict]) -> None:
    """deploy/k8s/optional/: resources whose CRDs are not in the standard schemas."""
    services = [r for r in example if r["kind"] == "Service"]
    for path in sorted(OPTIONAL.glob("*.y*ml")):
        for doc in load_docs(path):
            if doc.get("kind") != "ServiceMonitor" or not str(doc.get("apiVersion", "")).startswith("monitoring.coreos.com/"):
                P.add(path, "optional", f"{describe(doc)}: only monitoring.coreos.com ServiceMonitors belong here")
                continue
            spec = doc.get("spec") or {}
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


# --- Dockerfile and compose ------------------------------------------------------------------


def read_dockerfile() -> dict[str, dict]:
    """Stages of the Dockerfile: base, exposed ports and user, following FROM <stage>."""
    stages: dict[str, dict] = {}
    current = None
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
    return stages


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


def main() -> int:
    started = time.monotonic()
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        # What validate.py builds from a kustomization, for comparing with `kubectl kustomize`.
        resources = build(Path(sys.argv[2]))
        print(yaml.safe_dump_all(resources, sort_keys=True), end="")
        for item in P.items:
            print(f"ERROR {item}", file=sys.stderr)
        return 1 if P.items else 0
    if len(sys.argv) > 1:
        print(f"usage: {sys.argv[0]} [--build KUSTOMIZATION_DIR]", file=sys.stderr)
        return 2
    if kubernetes_validate is None:
        print("kubernetes-validate is not installed: run `make validate-deploy`", file=sys.stderr)
        return 2
    known_vars = read_vars()
    example = check_k8s(known_vars)
    check_optional(example)
    check_compose(known_vars)
    check_build_context()
    check_documented()
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
