"""Errors of the model registry, each with a machine-readable code."""

from __future__ import annotations

from common.errors import CodedError


class ModelError(CodedError, RuntimeError):
    """Each subclass names its code; raisers give only the message."""

    code = "model_error"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class UnknownModelError(ModelError):
    code = "unknown_model"


class MissingPackageError(ModelError):
    code = "missing_package"


class LicenseNotAcceptedError(ModelError):
    code = "license_not_accepted"


class VerificationError(ModelError):
    code = "verification_failed"


class DeviceUnavailableError(ModelError):
    code = "device_unavailable"


class DownloadsDisabledError(ModelError):
    code = "downloads_disabled"
