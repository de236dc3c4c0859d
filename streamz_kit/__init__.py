"""streamz_kit: the Kafka Streams model in Python.

Build a topology with `StreamsBuilder`, test it with `streamz_kit.testing.TopologyTestDriver`,
run it with `App`.
"""

from streamz_kit import serdes, stores
from streamz_kit.app import App
from streamz_kit.app_state import AppState
from streamz_kit.dsl.branched import BranchedKStream
from streamz_kit.dsl.builder import StreamsBuilder
from streamz_kit.dsl.cogrouped import CogroupedKStream
from streamz_kit.dsl.grouped import KGroupedStream, KGroupedTable
from streamz_kit.dsl.kstream import KStream
from streamz_kit.dsl.ktable import GlobalKTable, KTable
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.emit import EmitStrategy
from streamz_kit.errors import (
    ConfigError,
    SerializationError,
    StreamsProcessingError,
    StreamzError,
    TopologyError,
)
from streamz_kit.schemas.registry import SchemaRegistry
from streamz_kit.topology.topology import Topology
from streamz_kit.windows import (
    JoinWindows,
    SessionWindows,
    SlidingWindows,
    Suppressed,
    TimeWindows,
    Window,
    Windowed,
)

__version__ = "0.1.0"

__all__ = [
    "App",
    "AppState",
    "BranchedKStream",
    "CogroupedKStream",
    "ConfigError",
    "EmitStrategy",
    "GlobalKTable",
    "JoinWindows",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "SchemaRegistry",
    "SerializationError",
    "SessionWindows",
    "SlidingWindows",
    "StreamsBuilder",
    "StreamsProcessingError",
    "StreamzError",
    "Suppressed",
    "TimeWindows",
    "Topology",
    "TopologyError",
    "Window",
    "Windowed",
    "__version__",
    "serdes",
    "stores",
]
