"""The JupyterHub of tests/test_hub.py: two users, servers as local processes, the
broker service holding the key. Every port is in 9000-9019 and every file under
$COLLAB_HUB_DIR; the test sets the environment variables read here."""

import os
import socket
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

root = Path(os.environ["COLLAB_HUB_DIR"])
here = Path(__file__).resolve().parent
BROKER = "jupyter-collab"
BROKER_PORT = 9003
SERVER_PORTS = range(9010, 9020)

c.JupyterHub.bind_url = "http://127.0.0.1:9000"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:9002"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:9001"
c.ConfigurableHTTPProxy.command = [str(here / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(root / "jupyterhub.pid")

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["COLLAB_HUB_PASSWORD"]
c.Authenticator.allowed_users = {"alice", "bob"}

# Servers run as the hub's own user (root here), each in its own home folder.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(root / "home" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    # What makes a user's server and kernels call the broker (core/hub/endpoint.py).
    "JUPYTER_COLLAB_HUB_BROKER_URL": f"http://127.0.0.1:{BROKER_PORT}/services/{BROKER}",
}


def free_port(spawner):
    """A single-user server's port, within this test's range."""
    for port in SERVER_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        spawner.port = port
        return
    raise RuntimeError(f"no free port in {SERVER_PORTS}")


c.Spawner.pre_spawn_hook = free_port

c.JupyterHub.services = [
    {
        "name": BROKER,
        "url": f"http://127.0.0.1:{BROKER_PORT}",
        "command": [
            sys.executable,
            "-m",
            "jupyter_collab.hub",
            f"--usage-file={root / 'usage.json'}",
            # bob may use this many tokens; alice has no limit.
            f"--CollabBrokerService.user_budgets=bob={os.environ['COLLAB_HUB_BOB_BUDGET']}",
        ],
        # The key lives in the service's environment only.
        "environment": {
            "ANTHROPIC_API_KEY": (root / "provider-key").read_text().strip(),
            "ANTHROPIC_BASE_URL": os.environ["COLLAB_HUB_UPSTREAM"],
        },
    }
]
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", f"access:services!service={BROKER}"]},
    {
        "name": "server",
        "scopes": [
            "users:activity!user",
            "access:servers!server",
            f"access:services!service={BROKER}",
        ],
    },
]
