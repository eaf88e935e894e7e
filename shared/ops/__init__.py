"""Queue inspection and operations: what the ops dashboard, /metrics and `guildhall queue` read
from Redis, and the few admin actions that change queue state (retry, abort, purge)."""
