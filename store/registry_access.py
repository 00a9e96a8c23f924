"""What a registry's refusal (HTTP 401/403) means, and the setting that fixes it.

A private package on GHCR refuses for a handful of reasons, each with its own fix: the job has no
`packages:` permission or does not pass GITHUB_TOKEN to the step; it has `packages: read` but
pushes; the package does not let this repository in ("Manage Actions access" in the package's
settings); or, outside GitHub, no credentials at all (a cluster needs an image pull secret). The
message names the one that fits the operation, never the credential itself.
"""

from __future__ import annotations

from enum import StrEnum


class Access(StrEnum):
    """What the refused operation needed: the `packages:` permission it maps to on GitHub."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"


def access_for(method: str, intent: Access) -> Access:
    """The access a request needs: its own verb's, or the operation's when that is more."""
    own = {"DELETE": Access.DELETE, "POST": Access.WRITE, "PUT": Access.WRITE}.get(
        method.upper(), Access.READ
    )
    order = [Access.READ, Access.WRITE, Access.DELETE]
    return max(own, intent, key=order.index)


def refusal(
    registry: str, repository: str, status: int, access: Access, credential_source: str
) -> str:
    """The sentence for a 401/403 from `registry` on `repository`: what was tried, what to set."""
    tried = (
        "no credentials were found"
        if credential_source == "none"
        else f"the credentials came from {credential_source}"
    )
    verb = {Access.READ: "pull", Access.WRITE: "push", Access.DELETE: "delete"}[access]
    head = (
        f"the registry {registry} refused access to {repository} (HTTP {status}) to {verb}: "
        f"{tried}."
    )
    credentials = (
        f"Outside GitHub set MODEL_REGISTRY_USERNAME and MODEL_REGISTRY_PASSWORD, or run "
        f"`docker login {registry}`."
    )
    if access is Access.READ:
        return (
            f"{head} In GitHub Actions give the job `permissions: packages: read` and pass "
            f"`GITHUB_TOKEN: ${{{{ github.token }}}}` to the step; if the package is another "
            f"repository's, add this repository under the package's settings, \"Manage Actions "
            f'access" (role Read). {credentials} A Kubernetes cluster pulling it needs an image '
            f"pull secret (imagePullSecrets) for {registry}."
        )
    role = "Write" if access is Access.WRITE else "Admin"
    return (
        f"{head} In GitHub Actions give the job `permissions: packages: write` (a `packages: "
        f"read` token can pull but not {'push' if access is Access.WRITE else 'delete'}) and "
        f"pass `GITHUB_TOKEN: ${{{{ github.token }}}}` to the step; the package's \"Manage "
        f'Actions access" setting must give this repository the {role} role. {credentials}'
    )
