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

# Real-time collaboration (jupyter-collaboration, installed by the [dev] extra) is
# on only for the server of the `rtc` project (COLLAB_UI_RTC=1): installed, it
# would otherwise make every notebook of every other test a shared document.
rtc = os.environ.get("COLLAB_UI_RTC") == "1"
c.YDocExtension.disable_rtc = not rtc
# Its databases would otherwise be .jupyter_ystore.db in the current folder and a
# file id database in the user's Jupyter data folder, shared by every server.
c.SQLiteYStore.db_path = c.ServerApp.root_dir.rstrip("/") + "-ystore.db"
c.BaseFileIdManager.db_path = c.ServerApp.root_dir.rstrip("/") + "-file-ids.db"

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
