"""The one exception type kubesmith raises for problems a user can act on."""


class KubesmithError(Exception):
    """A failure with a message that says what went wrong and how to fix it."""
