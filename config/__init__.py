"""Settings: the one leaf package every stage may import (it imports nothing of this project).

Each stage takes only its own section (``AsrSettings`` for ``asr/``, ``RetrievalSettings`` for
``retrieval/`` …); only the service (``assist/``) and the eval tools see the whole ``Settings``.
"""

from config.settings import (
    AlertsSettings,
    AsrSettings,
    AuthSettings,
    ConfigFileError,
    PrivacySettings,
    RetrievalSettings,
    SecuritySettings,
    ServerSettings,
    Settings,
    SummarizeSettings,
    TwilioSettings,
    default_home,
    load_settings,
)

__all__ = [
    "AlertsSettings",
    "AsrSettings",
    "AuthSettings",
    "ConfigFileError",
    "PrivacySettings",
    "RetrievalSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SummarizeSettings",
    "TwilioSettings",
    "default_home",
    "load_settings",
]
