"""The Kubernetes manifests under deploy/k8s.

The core objects (Deployment, Service, ConfigMap, ServiceAccount, Role,
RoleBinding) are validated against the Kubernetes API schemas shipped by the
`kubernetes-validate` package (offline, strict: unknown fields are errors).
No packaged schema exists for the Gateway API Inference Extension's
InferencePool, the Gateway API's HTTPRoute or the EPP configuration files:
those are only checked for their cross-references here (selector vs pod
labels, ports, names, plugin references) and are otherwise untested.

The remaining tests tie the manifests to each other and to the timing
contract of `qlm serve --drain-timeout` (deploy/README.md, "Drain").
"""
import pathlib
import re

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# The Kubernetes minor whose schemas are checked: an old-enough stable release
# that every object here must also satisfy.
K8S_VERSION = "1.30.0"
CORE_KINDS = {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding",
              "PersistentVolumeClaim"}
# Slack beyond preStop + drain for the kubelet's SIGKILL (seconds).
GRACE_SLACK = 5


def load_all():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


DOCS = load_all()


def find(kind, name=None):
    hits = [d for _, d in DOCS if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert hits, f"no {kind} {name or ''} in deploy/k8s"
    return hits


def one(kind, name=None):
    hits = find(kind, name)
    assert len(hits) == 1, f"{len(hits)} objects {kind} {name or ''}"
    return hits[0]


def container(deploy, name):
    for c in deploy["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name} in Deployment {deploy['metadata']['name']}")


def flag(args, name):
    """Value of `--name VALUE` or `--name=VALUE` in a container's args."""
    for i, a in enumerate(args):
        if a == name:
            assert i + 1 < len(args), f"{name} has no value"
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def expand(value, env):
    """Kubernetes' $(VAR) expansion of args from literal env values."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def literal_env(c):
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def port_number(c, ref):
    if isinstance(ref, int):
        return ref
    for p in c.get("ports", []):
        if p.get("name") == ref:
            return p["containerPort"]
    raise AssertionError(f"container {c['name']} has no port named {ref}")


def qlm_deploy():
    return one("Deployment", "qlm")


def test_every_file_parses_and_has_objects():
    names = {n for n, _ in DOCS}
    assert {"qlm.yaml", "inferencepool.yaml", "epp-llm-d-precise.yaml"} <= names
    for name, doc in DOCS:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), name


@pytest.mark.parametrize("index", [i for i, (_, d) in enumerate(DOCS) if d.get("kind") in CORE_KINDS])
def test_core_objects_match_the_kubernetes_schema(index):
    name, doc = DOCS[index]
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {e.message} at {list(e.path)}")


def test_schema_check_rejects_a_broken_object():
    # The validator is live: a probe with a misspelled field must fail.
    broken = yaml.safe_load(yaml.safe_dump(qlm_deploy()))
    c = broken["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"]["httpGet"]["pathh"] = c["readinessProbe"]["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_probes_use_health_and_ready():
    c = container(qlm_deploy(), "qlm")
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["startupProbe"]["httpGet"]["path"] == "/health"
    http = port_number(c, "http")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert port_number(c, c[probe]["httpGet"]["port"]) == http, probe


def test_server_listens_on_the_container_port_for_everyone():
    c = container(qlm_deploy(), "qlm")
    assert c["args"][0] == "serve"
    assert flag(c["args"], "--host") == "0.0.0.0"
    assert int(flag(c["args"], "--port")) == port_number(c, "http")


def test_grace_period_covers_prestop_and_drain():
    d = qlm_deploy()
    spec = d["spec"]["template"]["spec"]
    c = container(d, "qlm")
    drain = int(flag(c["args"], "--drain-timeout"))
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre[0] == "sleep", pre
    grace = spec["terminationGracePeriodSeconds"]
    assert grace >= int(pre[1]) + drain + GRACE_SLACK, (grace, pre, drain)
    # The EPP should outlive the pods it routes to while they drain.
    epp = one("Deployment", "qlm-epp")
    assert epp["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= grace


def test_inference_pool_selects_the_qlm_pods():
    pool = one("InferencePool", "qlm-pool")
    assert pool["apiVersion"] == "inference.networking.k8s.io/v1"
    d = qlm_deploy()
    pod_labels = d["spec"]["template"]["metadata"]["labels"]
    sel = pool["spec"]["selector"]["matchLabels"]
    assert sel and all(pod_labels.get(k) == v for k, v in sel.items()), (sel, pod_labels)
    # The Deployment's own selector must select its template too.
    assert all(pod_labels.get(k) == v for k, v in d["spec"]["selector"]["matchLabels"].items())
    ports = [p["number"] for p in pool["spec"]["targetPorts"]]
    assert ports == [port_number(container(d, "qlm"), "http")]


def test_pool_points_at_the_epp_service_and_the_epp_at_the_pool():
    pool = one("InferencePool", "qlm-pool")
    ref = pool["spec"]["endpointPickerRef"]
    svc = one("Service", ref["name"])
    assert ref["port"]["number"] in [p["port"] for p in svc["spec"]["ports"]]
    epp = one("Deployment", ref["name"])
    assert all(epp["spec"]["template"]["metadata"]["labels"].get(k) == v
               for k, v in svc["spec"]["selector"].items())
    c = container(epp, "epp")
    assert flag(c["args"], "--pool-name") == pool["metadata"]["name"]
    ext_proc = [p["targetPort"] for p in svc["spec"]["ports"] if p["port"] == ref["port"]["number"]][0]
    assert port_number(c, ext_proc) == ext_proc
    # qlm publishes no LoRA metric: the EPP must not expect one.
    assert flag(c["args"], "--lora-info-metric") == ""
    sa = epp["spec"]["template"]["spec"]["serviceAccountName"]
    binding = one("RoleBinding", sa)
    assert binding["subjects"][0]["name"] == sa
    rules = one("Role", binding["roleRef"]["name"])["rules"]
    granted = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]
               if {"get", "list", "watch"} <= set(rule["verbs"])}
    assert ("", "pods") in granted and ("inference.networking.k8s.io", "inferencepools") in granted


def test_route_targets_the_pool():
    route = one("HTTPRoute")
    backends = [b for rule in route["spec"]["rules"] for b in rule["backendRefs"]]
    assert {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qlm-pool"} in backends


def epp_configs():
    for cm in find("ConfigMap"):
        for key, text in cm.get("data", {}).items():
            cfg = yaml.safe_load(text)
            if isinstance(cfg, dict) and cfg.get("kind") == "EndpointPickerConfig":
                yield cm["metadata"]["name"], key, cfg


def test_epp_configs_reference_only_declared_plugins():
    seen = 0
    for cm, key, cfg in epp_configs():
        seen += 1
        declared = {p.get("name", p["type"]) for p in cfg["plugins"]}
        used = {ref["pluginRef"] for prof in cfg["schedulingProfiles"] for ref in prof["plugins"]}
        for src in cfg.get("dataLayer", {}).get("sources", []):
            used.add(src["pluginRef"])
            used.update(e["pluginRef"] for e in src.get("extractors", []))
        assert used <= declared, f"{cm}/{key}: undeclared {used - declared}"
        types = {p["type"] for p in cfg["plugins"]}
        assert {"queue-scorer", "kv-cache-utilization-scorer"} <= types, f"{cm}/{key}"
    assert seen >= 2


def test_the_config_the_epp_loads_exists():
    epp = one("Deployment", "qlm-epp")
    c = container(epp, "epp")
    path = pathlib.PurePosixPath(flag(c["args"], "--config-file"))
    mount = [m for m in c["volumeMounts"] if path.is_relative_to(m["mountPath"])][0]
    vol = [v for v in epp["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]][0]
    cm = one("ConfigMap", vol["configMap"]["name"])
    assert str(path.relative_to(mount["mountPath"])) in cm["data"]


def test_kv_events_publisher_matches_the_precise_scorer():
    d = qlm_deploy()
    c = container(d, "qlm")
    env = literal_env(c)
    endpoint = flag(c["args"], "--kv-events-endpoint")
    m = re.fullmatch(r"tcp://\*:(\d+)", endpoint or "")
    assert m, f"the publisher must bind a wildcard TCP address: {endpoint}"
    assert port_number(c, "kv-events") == int(m.group(1))
    # POD_IP must come from the pod's status for the topic to name the pod.
    pod_ip = [e for e in c["env"] if e["name"] == "POD_IP"][0]
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    topic = expand(flag(c["args"], "--kv-events-topic"), env)
    tm = re.fullmatch(r"kv@\$\(POD_IP\):(\d+)@(.+)", topic)
    assert tm, topic
    assert int(tm.group(1)) == port_number(c, "http")
    model = expand(flag(c["args"], "--alias"), env)
    assert tm.group(2) == model

    cfg = yaml.safe_load(one("ConfigMap", "qlm-epp-precise-config")["data"]["precise-plugins.yaml"])
    plugins = {p["type"]: p.get("parameters", {}) for p in cfg["plugins"]}
    kv = plugins["precise-prefix-cache-producer"]["kvEventsConfig"]
    assert topic.startswith(kv["topicFilter"])
    disc = kv["podDiscoveryConfig"]
    assert disc["socketPort"] == int(m.group(1))
    key, value = disc["podLabelSelector"].split("=")
    assert d["spec"]["template"]["metadata"]["labels"].get(key) == value
    tok = plugins["token-producer"]
    assert tok["modelName"] == model
    svc = one("Service", "qlm")
    assert tok["vllm"]["url"] == f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"
    # The scorer's block size is qlm's KV block size (the engine's default).
    header = (ROOT / "include" / "qlm" / "engine.h").read_text()
    bs = re.search(r"int64_t\s+block_size\s*=\s*(\d+)\s*;", header)
    assert bs, "engine.h: default block_size not found"
    assert plugins["precise-prefix-cache-producer"]["tokenProcessorConfig"]["blockSize"] == int(bs.group(1))


def test_init_container_fetches_the_model_the_server_loads():
    d = qlm_deploy()
    c = container(d, "qlm")
    init = d["spec"]["template"]["spec"]["initContainers"][0]
    script = pathlib.Path(init["command"][0]).name
    text = (ROOT / "scripts" / script).read_text()
    name = re.search(r"^NAME=(\S+)$", text, re.M).group(1)
    model_path = pathlib.PurePosixPath(flag(c["args"], "-m"))
    assert model_path.name == name
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    server_mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    # The script writes <its folder>/../models; the image puts it in /opt/qlm/scripts.
    assert str(pathlib.PurePosixPath(init["command"][0]).parent.parent / "models") in mounts.values()
    assert str(model_path.parent) in server_mounts.values()
    shared = [n for n, p in mounts.items() if p == str(model_path.parent)]
    assert shared and server_mounts.get(shared[0]) == str(model_path.parent)
