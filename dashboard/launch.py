"""How `fallwatch dashboard` starts Streamlit, and how the dashboard finds its settings again.

The launcher passes the configuration file, the store URL and the data directory through the environment (the
dashboard script takes no arguments: app/cli.py is the only argument parser); the Streamlit server options go on
its command line. No Streamlit import here: the CLI stays quick to start.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit's ASGI app on dashboard/app.py plus FallWatch's cookie route; `streamlit run` finds the app in it.
SERVER = Path(__file__).with_name("asgi.py")
CONFIG_ENV = "FALLWATCH_DASHBOARD_CONFIG"  # the YAML file, if any; the rest is FALLWATCH_* settings variables
STORE_URL_ENV = "FALLWATCH_STORE__URL"  # the settings' own variable for store.url
DATA_DIR_ENV = "FALLWATCH_DATA_DIR"  # the settings' own variable for data_dir


def environment(config: Path | None, url: str, data_dir: Path) -> dict[str, str]:
    """Variables that make the dashboard open the same settings and store as the command did."""
    variables = {STORE_URL_ENV: url, DATA_DIR_ENV: str(data_dir.resolve())}
    if config is not None:
        variables[CONFIG_ENV] = str(config.resolve())
    return variables


def streamlit_command(address: str, port: int) -> list[str]:
    """`streamlit run` on the dashboard: headless, no usage statistics, no file serving beyond the app."""
    options = {
        "server.address": address,
        "server.port": str(port),
        "server.headless": "true",  # never open a browser on the server
        "browser.gatherUsageStats": "false",
        "server.fileWatcherType": "none",  # production: no reloading when files change
        "server.runOnSave": "false",
        "server.enableStaticServing": "false",  # nothing on disk is served except through the app
        "server.enableXsrfProtection": "true",
        "server.enableAgentApi": "false",
        "server.maxUploadSize": "1",
        "global.developmentMode": "false",
        "client.toolbarMode": "viewer",
        "client.showErrorDetails": "none",  # operators see a one-line error, not a traceback
        "client.showErrorLinks": "false",
        "theme.base": "light",
        "theme.primaryColor": "#1f4e79",
        "logger.hideWelcomeMessage": "true",
    }
    flags = [f"--{name}={value}" for name, value in options.items()]
    return [sys.executable, "-m", "streamlit", "run", str(SERVER), *flags]
