"""`serdes.typed(Model)`: plain JSON (no registry, no framing) into and out of a model class.

orjson writes dataclasses natively; pydantic models go through `model_dump_json` and
`model_validate_json`, which parse and validate in one pass in Rust.
"""

from __future__ import annotations

from typing import Any

import orjson

from streamz_kit.errors import SerializationError
from streamz_kit.schemas import models
from streamz_kit.schemas.errors import describe_bytes


class TypedSerde:
    def __init__(self, model: type) -> None:
        if not models.is_model(model):
            raise TypeError(
                f"serdes.typed needs a dataclass or pydantic model class, not {model!r}"
            )
        self.model = model
        self._pydantic = models.is_pydantic(model)
        self._from_dict = models.from_dict(model)

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        try:
            if self._pydantic:
                if isinstance(obj, dict):
                    obj = self.model.model_validate(obj)  # type: ignore[attr-defined]
                return obj.model_dump_json().encode()  # type: ignore[no-any-return]
            if isinstance(obj, dict):
                obj = self._from_dict(obj)
            # exact-size copy: orjson over-allocates (see serdes._JSON_DUMPS)
            return b"%b" % orjson.dumps(models.to_dict(obj), option=orjson.OPT_NON_STR_KEYS)
        except Exception as exc:
            raise SerializationError(
                f"Cannot serialize {type(obj).__name__} {obj!r:.100} as {self.model.__name__} "
                f"JSON for topic {topic!r}: {exc}. Pass a {self.model.__name__} (or a dict "
                "with its fields)."
            ) from exc

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            if self._pydantic:
                return self.model.model_validate_json(data)  # type: ignore[attr-defined]
            return self._from_dict(orjson.loads(data))
        except Exception as exc:
            raise SerializationError(
                f"The bytes on topic {topic!r} are not a {self.model.__name__} as JSON ({exc}): "
                f"{describe_bytes(data)}. Check the producer or read the topic with serdes.JSON."
            ) from exc

    def __repr__(self) -> str:
        return f"serdes.typed({self.model.__name__})"
