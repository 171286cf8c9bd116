"""One watcher per Docker host, shared by every session.

The detectors of a host run in one process at a time: the one holding the host's lease in the
state store (`infraguardian-mcp watch`, or any `serve`). Signals, open and resolved, with their
history, live in the store (SQLite `<state_dir>/signals.sqlite3` now; the `SignalStore` interface
lets PostgreSQL replace it). Every MCP session reads them through a `SignalReader`.

Public API:
    Watcher(settings, store).run()              # take the lease and watch, or stand by
    ProcessWatcher(settings).in_use()           # the one watcher of a server process
    SignalReader(store, host)                   # active/resolved signals, history, changes()
    SqliteSignalStore.in_state_dir(state_dir)   # the store
"""

from .process import ProcessWatcher
from .reader import SignalReader
from .runner import LeaseTiming, StoreJournal, Watcher, host_key, new_holder_id
from .sqlite_store import SqliteSignalStore
from .store import Lease, LeaseLost, SignalStore, SignalStoreError, StoredChange

__all__ = [
    "Lease",
    "LeaseLost",
    "LeaseTiming",
    "ProcessWatcher",
    "SignalReader",
    "SignalStore",
    "SignalStoreError",
    "SqliteSignalStore",
    "StoreJournal",
    "StoredChange",
    "Watcher",
    "host_key",
    "new_holder_id",
]
