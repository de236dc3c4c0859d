"""The App's lifecycle: `AppState` and the transitions `App` may make (one table, one guard).

Its own module so that observability (which the App starts) can read the state without
importing the App.
"""

from __future__ import annotations

import enum

__all__ = ["APP_TRANSITIONS", "AppState"]


class AppState(enum.Enum):
    """An App's lifecycle:

    CREATED ──> STARTING ──> RUNNING ──> STOPPING ──> STOPPED
       │           │            │           │  ^
       │           └────────────┴──> ERROR <┘  │
       │                               └───────┘ (stop() after an error ends in ERROR)
       └──> STOPPED (stop() before start())
    """

    CREATED = "CREATED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    ERROR = "ERROR"


APP_TRANSITIONS: dict[AppState, frozenset[AppState]] = {
    AppState.CREATED: frozenset({AppState.STARTING, AppState.STOPPED}),
    AppState.STARTING: frozenset({AppState.RUNNING, AppState.ERROR}),
    AppState.RUNNING: frozenset({AppState.STOPPING, AppState.ERROR}),
    AppState.STOPPING: frozenset({AppState.STOPPED, AppState.ERROR}),
    # An error while failing stays ERROR; stop() after an error goes through STOPPING.
    AppState.ERROR: frozenset({AppState.STOPPING, AppState.ERROR}),
    AppState.STOPPED: frozenset(),
}
