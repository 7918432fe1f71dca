"""The hub door: the broker role as a JupyterHub-managed service.

It holds the provider key, speaks the Anthropic Messages API at its prefix,
authenticates every call with the caller's hub token, and records each user's
usage against a budget (``jupyter_collab.core.hub``). Run by the hub with
``python -m jupyter_collab.hub``; needs the ``[hub]`` extra.
"""
