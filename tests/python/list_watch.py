"""List and watch through the official Python `kubernetes` client.

Usage: list_watch.py KUBECONFIG
Prints one JSON object with what the client observed; the Rust test
tests/tests/python_client.rs checks it against the documented behaviour.
"""

import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def configmap(name, app):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"app": app}),
        data={"k": "v"},
    )


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    result = {}

    first = v1.create_namespaced_config_map("default", configmap("a", "web"))
    v1.create_namespaced_config_map("default", configmap("b", "db"))
    listed = v1.list_namespaced_config_map("default", label_selector="app=web")
    result["listed"] = [i.metadata.name for i in listed.items]
    result["list_kind"] = listed.kind

    rv = listed.metadata.resource_version
    v1.create_namespaced_config_map("default", configmap("c", "web"))
    v1.delete_namespaced_config_map("a", "default")
    events = []
    w = watch.Watch()
    for ev in w.stream(
        v1.list_namespaced_config_map,
        "default",
        label_selector="app=web",
        resource_version=rv,
        timeout_seconds=2,
    ):
        events.append([ev["type"], ev["object"].metadata.name])
    result["events"] = events

    try:
        v1.read_namespaced_config_map("missing", "default")
    except ApiException as e:
        result["not_found"] = [e.status, json.loads(e.body)["reason"]]

    # Enough writes to push the first object's version out of the history.
    for i in range(10):
        v1.create_namespaced_config_map("default", configmap("f%d" % i, "filler"))
    try:
        for _ in watch.Watch().stream(
            v1.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=2,
        ):
            pass
        result["expired"] = None
    except ApiException as e:
        result["expired"] = e.status

    print(json.dumps(result))


if __name__ == "__main__":
    main()
