#!/usr/bin/env python3
"""docs.deploy_manifests: the deployment files under deploy/ (docs/orchestrator.md) are what
they claim. Every Kubernetes YAML file parses (PyYAML, python3-yaml) into the objects the docs
name, with the fields that matter; every bombarder command line in them (container command +
args, systemd ExecStart) names a real subcommand, and every flag it passes is one that
subcommand's --help lists (the help is read from the binary under test, so a renamed flag
fails here).

Usage: deploy_manifests_test.py BOMBARDER_BINARY DEPLOY_DIR
"""
import pathlib
import re
import subprocess
import sys

import yaml

BOMBARDER = sys.argv[1]
DEPLOY = pathlib.Path(sys.argv[2])
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


_help_cache = {}


def flags_of(subcommand):
    """Every --flag the subcommand's --help lists."""
    if subcommand not in _help_cache:
        run = subprocess.run([BOMBARDER, *subcommand.split(), "--help"], capture_output=True,
                             text=True, timeout=30)
        check(run.returncode == 0, f"bombarder {subcommand} --help exited {run.returncode}")
        _help_cache[subcommand] = set(re.findall(r"(--[a-z][a-z0-9-]*)", run.stdout))
    return _help_cache[subcommand]


def check_command_line(where, argv):
    """argv: ["/usr/local/bin/bombarder", "orchestrator", "--port", "8480", ...]."""
    check(argv and argv[0].endswith("/bombarder"), f"{where}: not a bombarder command: {argv}")
    words = argv[1:]
    check(words and words[0] in ("orchestrator", "agent"), f"{where}: subcommand {words[:1]}")
    subcommand = words[0]
    if len(words) > 1 and words[1] == "keygen":
        subcommand = "agent keygen"
    known = flags_of(subcommand)
    used = [w.split("=")[0] for w in words if w.startswith("--")]
    check(used, f"{where}: no flags at all")
    for flag in used:
        check(flag in known, f"{where}: {flag} is not a flag of `bombarder {subcommand}`")
    return subcommand, words


def check_kubernetes():
    files = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
    check(len(files) >= 2, f"expected the orchestrator and agent manifests, found {files}")
    kinds = {}
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for doc in docs:
            for field in ("apiVersion", "kind", "metadata"):
                check(field in doc, f"{path.name}: a document without {field}")
            kinds[(doc["kind"], doc["metadata"]["name"])] = doc
            spec = doc.get("spec", {})
            if doc["kind"] in ("Deployment", "DaemonSet"):
                selector = spec["selector"]["matchLabels"]
                labels = spec["template"]["metadata"]["labels"]
                check(selector.items() <= labels.items(),
                      f"{path.name}: the selector does not match the pod labels")
                pod = spec["template"]["spec"]
                for c in pod.get("initContainers", []) + pod["containers"]:
                    check(c.get("image"), f"{path.name}: container {c['name']} has no image")
                    argv = c.get("command", []) + [str(a) for a in c.get("args", [])]
                    if argv[:2] == ["/bin/sh", "-c"]:
                        argv = argv[2].split("||")[-1].split()
                    check_command_line(f"{path.name}:{c['name']}", argv)
    deployment = kinds.get(("Deployment", "bombarder-orchestrator"))
    service = kinds.get(("Service", "bombarder-orchestrator"))
    daemonset = kinds.get(("DaemonSet", "bombarder-agent"))
    check(deployment is not None, "no Deployment bombarder-orchestrator")
    check(service is not None, "no Service bombarder-orchestrator")
    check(daemonset is not None, "no DaemonSet bombarder-agent")
    if failures:
        return
    # One replica with Recreate: the RocksDB state is held by one process at a time.
    check(deployment["spec"]["replicas"] == 1, "the orchestrator must have one replica")
    check(deployment["spec"]["strategy"]["type"] == "Recreate", "the orchestrator needs Recreate")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in container["args"]]
    port = args[args.index("--port") + 1]
    check(args[args.index("--host") + 1] == "0.0.0.0", "the orchestrator must listen on all addresses")
    check(container["ports"][0]["containerPort"] == int(port), "containerPort != --port")
    check(service["spec"]["selector"].items()
          <= deployment["spec"]["template"]["metadata"]["labels"].items(),
          "the Service does not select the orchestrator's pods")
    check(service["spec"]["ports"][0]["port"] == int(port), "the Service port != --port")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    check(args[args.index("--data") + 1] in mounts, "--data is not on a mounted volume")
    agent = daemonset["spec"]["template"]["spec"]["containers"][0]
    agent_args = [str(a) for a in agent["args"]]
    url = agent_args[agent_args.index("--orchestrator") + 1]
    check(url.startswith("wss://bombarder-orchestrator.") and url.endswith(":" + port),
          f"the agents' --orchestrator {url} is not the Service over wss on {port}")


def check_systemd():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    check({u.name for u in units} >= {"bombarder-orchestrator.service", "bombarder-agent.service"},
          f"systemd units: {[u.name for u in units]}")
    for unit in units:
        text = unit.read_text()
        for section in ("[Unit]", "[Service]", "[Install]"):
            check(section in text, f"{unit.name}: no {section}")
        exec_start = [l.split("=", 1)[1] for l in text.splitlines() if l.startswith("ExecStart=")]
        check(len(exec_start) == 1, f"{unit.name}: {len(exec_start)} ExecStart lines")
        if exec_start:
            check_command_line(unit.name, exec_start[0].split())


check_kubernetes()
check_systemd()
for failure in failures:
    print("FAIL:", failure)
print(f"deploy manifests: {len(failures)} failure(s); flags checked against "
      f"{sorted(_help_cache)}")
sys.exit(1 if failures else 0)
