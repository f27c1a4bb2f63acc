"""Inventory validation: the roles' argument specs plus the rules they cannot express.

Used by the preflight role's action plugin (on the controller, before any host
is contacted) and by the unit tests.
"""
