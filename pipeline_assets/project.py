"""Which configuration is in force: ``--config``, else $PIPELINE_ASSETS_CONFIG, else the embedded demo."""

import hashlib
import os
from pathlib import Path

from pipeline_assets.config import CONFIG_ENV_VAR, ProjectConfig, load_config

HOME_ENV_VAR = "PIPELINE_ASSETS_HOME"


def home() -> Path:
    """The folder that holds the demo's databases and stage, and the CLI's Dagster instance."""
    return Path(os.environ.get(HOME_ENV_VAR, ".pipeline_assets")).resolve()


def config_path(explicit: str | None = None) -> Path | None:
    path = explicit or os.environ.get(CONFIG_ENV_VAR)
    return Path(path) if path else None


def load_project(explicit: str | None = None) -> ProjectConfig:
    path = config_path(explicit)
    if path is None:
        from pipeline_assets.demo.shop import ensure_demo  # the demo's generator is only needed without a config

        path = ensure_demo(home())
    return load_config(path)


def default_dagster_home(explicit: str | None = None) -> Path:
    """The Dagster instance a configuration records its runs in when $DAGSTER_HOME is unset: the demo's own, and one
    per configuration file (named after it), so two configs never show each other's runs or partitions."""
    path = config_path(explicit)
    if path is None:
        return home() / "dagster_home"
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return home() / "instances" / f"{path.stem}-{digest}"
