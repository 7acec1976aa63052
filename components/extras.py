"""Cloud SDKs are extras: `pip install 'gpuplane[aws]'`, `[gcp]`, `[azure]` or `[all]`.

The core install (serving stack, existing clusters, the offline engine and the
policy pack) needs none of them; a cloud's cluster module imports its SDK and,
when it is missing, raises `MissingExtraError` with one line naming the extra.
"""

EXTRAS = {"pulumi_aws": "aws", "pulumi_gcp": "gcp", "pulumi_azure_native": "azure"}
"""Cloud SDK module -> the gpuplane extra that installs it."""


class MissingExtraError(ImportError):
    """A cloud component was imported without its cloud SDK installed."""


def missing_extra(error: ModuleNotFoundError, needed_by: str) -> ImportError:
    """The error to raise for `error`: a MissingExtraError when a cloud SDK is missing,
    otherwise `error` itself (a broken install of something else)."""
    extra = EXTRAS.get(error.name or "")
    if extra is None:
        return error
    package = (error.name or "").replace("_", "-")
    return MissingExtraError(
        f"{needed_by} needs {package}, which is not installed: "
        f"pip install 'gpuplane[{extra}]' (or 'gpuplane[all]')",
        name=error.name,
    )
