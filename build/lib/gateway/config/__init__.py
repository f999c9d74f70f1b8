"""The gateway's settings: declared in ``settings`` (each with its default and the reason
for it), read by ``load`` from the file and the environment, refused by ``checks`` when
they would misbehave later. Only ``app`` and ``cli`` import this package."""

from gateway.config.load import load_settings, reference
from gateway.config.settings import DEFAULT_CONFIG_PATH, ENV_PREFIX, ConfigError, Settings

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "ConfigError",
    "Settings",
    "load_settings",
    "reference",
]
