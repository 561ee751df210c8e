"""Create the same manifest twice with the Python client's create_from_yaml.

Usage: create_from_yaml.py KUBECONFIG MANIFEST
Prints one JSON object: the text of the FailToCreateError the second
create raises (it embeds the server's error body verbatim), for
tests/tests/python_client.rs to compare with kube-apiserver's bytes.
"""

import json
import sys

from kubernetes import client, config, utils


def main():
    config.load_kube_config(config_file=sys.argv[1])
    api = client.ApiClient()
    utils.create_from_yaml(api, sys.argv[2], namespace="default")
    try:
        utils.create_from_yaml(api, sys.argv[2], namespace="default")
        error = None
    except utils.FailToCreateError as e:
        error = str(e)
    print(json.dumps({"error": error}))


if __name__ == "__main__":
    main()
