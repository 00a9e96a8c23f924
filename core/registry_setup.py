"""Whether this machine can use an environment's registry store, and how to give it one.

staging and prod keep models in
`oci://${MODEL_REGISTRY:-ghcr.io}/${GITHUB_REPOSITORY:-local/taxi-tips}/models`
(environments/cloud.yaml). On GitHub, and in a clone whose origin is on GitHub, the namespace is
the repository's. Elsewhere it is a placeholder: good enough to compile offline and to use on a
registry of one's own (`make registry`), but on GHCR it names nobody's package, so a command that
would push or pull there stops first and says how to start the local registry instead.
"""

from __future__ import annotations

from core.config import EnvironmentConfig, source_of
from core.errors import ConfigError
from core.uris import display

# Where `make registry` listens (tools/local_registry.py); REGISTRY_PORT changes the port.
LOCAL_REGISTRY = "127.0.0.1:5001"
GHCR = "ghcr.io"
OCI_SCHEME = "oci://"
NAMESPACE_VARIABLE = "GITHUB_REPOSITORY"


def start_local() -> str:
    """The two steps that give a laptop a registry for staging and prod."""
    return f"start a registry with `make registry` and `export MODEL_REGISTRY={LOCAL_REGISTRY}`"


def registry_host(cfg: EnvironmentConfig) -> str:
    """The registry of an `oci://` store (lower-cased, as the store addresses it), else ''."""
    store = cfg.paths.model_store
    if not store.startswith(OCI_SCHEME):
        return ""
    return store[len(OCI_SCHEME) :].split("/", 1)[0].lower()


def placeholder_problem(cfg: EnvironmentConfig) -> str | None:
    """Why `cfg`'s store is not usable from here, without asking the network; None if it may be.

    The one case: GHCR under the placeholder namespace, i.e. neither MODEL_REGISTRY nor the
    repository is known on this machine.
    """
    if registry_host(cfg) != GHCR or NAMESPACE_VARIABLE not in cfg.store_defaults:
        return None
    return (
        f"{cfg.name}'s model store {cfg.paths.model_store} is GHCR under a placeholder "
        f"namespace ({NAMESPACE_VARIABLE} is unset and origin is not a GitHub remote)"
    )


def require_usable(cfg: EnvironmentConfig) -> None:
    """Stop before any push or pull to a store that cannot be this environment's."""
    problem = placeholder_problem(cfg)
    if problem is not None:
        raise ConfigError(
            f"{display(source_of(cfg, 'paths.model_store'))}: paths.model_store: {problem}: "
            f"{start_local()}, or `export {NAMESPACE_VARIABLE}=owner/repo` to use GHCR"
        )
