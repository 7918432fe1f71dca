"""JupyterLab under test (see start-server.sh, which sets the environment)."""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 - provided by traitlets' config loader
configure_jupyter_server(c)

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("COLLAB_UI_PORT", "8866"))
c.ServerApp.root_dir = os.environ["COLLAB_UI_ROOT"]
c.ServerApp.allow_root = True  # CI runs as root
c.IdentityProvider.token = os.environ.get("COLLAB_UI_TOKEN", "collab-ui-test-token")
c.ServerApp.disable_check_xsrf = False

# "anthropic": the wire-level server; "local": the embedded SmolLM2 model.
provider = os.environ.get("COLLAB_UI_PROVIDER", "anthropic")
c.CollabExtension.provider = provider
if provider == "local":
    # Short answers keep the embedded model's turns (and the preview's probes)
    # to a few seconds each on two CPU cores.
    c.CollabExtension.max_tokens = 64

# Notebook 7 (COLLAB_UI_APP=notebook): `window.jupyterapp`, as galata's
# configuration does for JupyterLab.
c.JupyterNotebookApp.expose_app_in_browser = True
