"""Configuration: the YAML file's models and its loader."""

from pipeline_assets.config.loader import CONFIG_ENV_VAR, load_config, parse_config, secret
from pipeline_assets.config.models import ConnectionConfig, ProjectConfig, S3Config, StageConfig, TableConfig

__all__ = [
    "CONFIG_ENV_VAR",
    "ConnectionConfig",
    "ProjectConfig",
    "S3Config",
    "StageConfig",
    "TableConfig",
    "load_config",
    "parse_config",
    "secret",
]
