"""The Processor API: `from streamz_kit.processor import Processor, ProcessorContext, Record,
PunctuationType` (the names ../API.md promises). Everything else in this package is the
runtime form of topology nodes, which user code does not import."""

from streamz_kit.processor.api import (
    Cancellable,
    Headers,
    Processor,
    ProcessorContext,
    PunctuationType,
    Record,
)

__all__ = [
    "Cancellable",
    "Headers",
    "Processor",
    "ProcessorContext",
    "PunctuationType",
    "Record",
]
