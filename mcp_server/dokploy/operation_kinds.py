"""What each Dokploy operation does: a plain read, a file-or-secret read, or a mutation.

The HTTP method is not enough: `docker.readContainerFile`, `settings.readTraefikEnv` and
`sshKey.one` are GETs, yet they hand out a container's files, Traefik's environment and private
keys. `dokploy_call` asks the safety gate for a different action per kind:

- `read`: any mode. The answer is redacted (secret-looking keys, connection strings, keys, tokens).
  Records that merely *contain* a secret among ordinary fields stay here, because the agent needs
  them and redaction masks those fields: `compose.one` (env, compose file), `application.one`,
  `postgres.one` (database password), `docker.getConfig` (container env), `backup.one`, `mounts.one`.
- `sensitive_read`: admin mode only (action `read_sensitive`), and still redacted. Two groups:
  FILE_READERS return the content or listing of files on the host, in a container, a volume or a
  git checkout (anything, not just what Dokploy owns); SECRET_READERS return a credential, or a
  record whose whole point is a credential (SSH keys, TLS certificates, registry, S3, notification,
  git, DNS, vault, AI and SSO provider settings, Swarm join tokens, session and metrics tokens).
  Redaction cannot be trusted with these: a file can hold a secret in any shape.
- `mutation`: every POST, even those that only "test" something: they send messages or use stored
  credentials against the outside world. Admin mode and a human's yes (action `dokploy_mutation`).

The table is loaded from the installed Dokploy, which may be newer than the document these lists
were made from (`shared/dokploy/openapi.json`, Dokploy v0.30.2, 597 operations). A GET that is in
none of the lists but whose name looks like a file or secret reader (SENSITIVE_NAME) is treated as
sensitive; READS_DESPITE_NAME lists the ones checked and found harmless.
"""

from __future__ import annotations

import re
from enum import StrEnum


class OperationKind(StrEnum):
    READ = "read"
    SENSITIVE_READ = "sensitive_read"
    MUTATION = "mutation"


# GETs that return files (content or listings) from the host, containers, volumes or repositories.
FILE_READERS = frozenset(
    {
        "docker.readContainerFile",
        "docker.listContainerFiles",
        "dockerVolume.readVolumeFile",
        "dockerVolume.listVolumeFiles",
        "settings.readTraefikFile",
        "settings.readTraefikConfig",
        "settings.readTraefikEnv",  # the Traefik container's environment: DNS provider API tokens
        "settings.readMiddlewareTraefikConfig",
        "settings.readWebServerTraefikConfig",
        "settings.readDirectories",  # the tree of Dokploy's Traefik directory on the host
        "application.readTraefikConfig",
        "patch.readRepoFile",
        "patch.readRepoDirectories",
    }
)

# GETs whose answer is a credential, or a record that exists to hold one.
SECRET_READERS = frozenset(
    {
        "sshKey.all",
        "sshKey.one",
        "sshKey.allForApps",
        "server.one",  # includes the server's SSH key
        "server.withSSHKey",
        "settings.getWebServerSettings",  # Dokploy host's SSH private key, metrics token
        "cluster.addManager",  # Swarm join tokens: whoever has one joins the cluster
        "cluster.addWorker",
        "certificates.all",  # TLS private keys
        "certificates.one",
        "registry.all",  # registry passwords
        "registry.one",
        "destination.all",  # S3 access and secret keys of backup destinations
        "destination.one",
        "notification.all",  # webhook URLs, bot tokens, SMTP passwords
        "notification.one",
        "notification.getEmailProviders",
        "github.one",  # app private key, client secret, webhook secret
        "github.githubProviders",
        "gitlab.one",  # access and refresh tokens, application secret
        "gitlab.gitlabProviders",
        "gitea.one",
        "gitea.giteaProviders",
        "bitbucket.one",  # app password, API token
        "bitbucket.bitbucketProviders",
        "gitProvider.getAll",
        "gitProvider.allForPermissions",
        "dnsProvider.all",  # DNS provider API tokens
        "dnsProvider.one",
        "vaultProvider.all",  # vault tokens
        "vaultProvider.one",
        "ai.one",  # AI provider API keys
        "ai.get",
        "ai.getAll",
        "ai.getCustomProviders",
        "sso.one",  # OIDC / SAML client secrets and certificates
        "sso.listProviders",
        "scim.listProviders",
        "forwardAuth.listProviders",
        "licenseKey.getEnterpriseSettings",  # the license key
        "security.one",  # an app's basic-auth user and password
        "user.getMetricsToken",
        "user.listSessions",  # session tokens
    }
)

# A GET named like one of these reads files or secrets (a guess for operations newer Dokploy adds).
SENSITIVE_NAME = re.compile(
    r"(?i)(file|director|traefik(config|env|file)|readenv|getenv|ssh|private|secret|token|password|"
    r"credential|certificate|apikey|api_key)"
)

# GETs that SENSITIVE_NAME flags but that return only names or metadata (checked one by one).
READS_DESPITE_NAME = frozenset(
    {
        "backup.listBackupFiles",  # names of the backups Dokploy made itself in its S3 destination
        "vaultProvider.listSecretNames",  # the names of the secrets, not their values
        "user.getUserByToken",  # takes an invitation token, returns the invitation
    }
)

_FILE_LOWER = frozenset(n.lower() for n in FILE_READERS)
_SECRET_LOWER = frozenset(n.lower() for n in SECRET_READERS)
_HARMLESS_LOWER = frozenset(n.lower() for n in READS_DESPITE_NAME)


def classify(name: str, method: str) -> OperationKind:
    """The kind of the operation `router.procedure` sent with HTTP `method` (GET or POST).
    Names compare case-insensitively, as Dokploy's own router does."""
    if method.upper() != "GET":
        return OperationKind.MUTATION
    key = name.strip().strip("/").lower()
    if key in _FILE_LOWER or key in _SECRET_LOWER:
        return OperationKind.SENSITIVE_READ
    if key in _HARMLESS_LOWER:
        return OperationKind.READ
    if SENSITIVE_NAME.search(key.partition(".")[2]):
        return OperationKind.SENSITIVE_READ
    return OperationKind.READ


def why_sensitive(name: str) -> str:
    """Half a sentence for a refusal: what the operation would hand out."""
    key = name.strip().strip("/").lower()
    if key in _FILE_LOWER:
        return (
            "it returns files (their content or listing) from the host, a container, a volume or a repository"
        )
    if key in _SECRET_LOWER:
        return "it returns credentials (keys, tokens, passwords of Dokploy's providers and servers)"
    return "its name says it returns files or secrets"
