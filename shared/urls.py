"""URLs as messages show them: `redact` hides a password, for every line that names a server."""

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{username}:***@{hostport}").geturl()
