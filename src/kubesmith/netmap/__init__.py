"""`kubesmith map`: a picture of a live cluster's network, drawn from what is on the nodes.

collect.py reads the cluster (nodes over SSH, the API with the admin
kubeconfig) into the model of model.py; checks.py finds problems in that model;
render.py draws it as Graphviz DOT (SVG, HTML), JSON or text.
"""
