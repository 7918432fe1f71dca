"""The broker role on a JupyterHub: which broker a user's server or kernel talks
to (``endpoint``), what each response used (``metering``) and each user's usage
and budget (``ledger``). No web framework here: ``jupyter_collab.hub`` is the door."""
