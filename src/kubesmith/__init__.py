"""kubesmith: turn an Ansible inventory into a working Kubernetes cluster."""

__version__ = "0.1.0"
