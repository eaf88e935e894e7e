"""The httpx clients of the benchmark (login, the nested read): keeping their CPU cost down,
since they share the machine's cores with the app they measure. The open-loop generator uses
bench/api/rawhttp.py instead."""

import importlib.util
import sys


def skip_sniffio_lookups() -> None:
    """httpcore runs `import sniffio` each time it sets up a lock, several times per request.
    sniffio is not installed here (anyio 4 no longer needs it), so each of those is a failed
    import that searches all of sys.path: about a sixth of the open-loop generator's CPU per
    request on this machine. A None entry in sys.modules makes that import fail at once, with
    the same outcome (httpcore then assumes asyncio, which it is)."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
