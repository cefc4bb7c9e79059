"""One base for every method's configuration (modelled on diffusers' ``ConfigMixin``).

A config is a dataclass that inherits :class:`ConfigMixin`. Its defaults are the paper's; its other named
settings are *presets*, registered per class with :func:`preset` on a builder classmethod::

    @dataclass(frozen=True)
    class MyConfig(ConfigMixin):
        steps: int = 100_000

        @preset("small")
        @classmethod
        def small(cls) -> MyConfig:
            return cls(steps=3000)

    MyConfig.from_preset("small", steps=10)     # any preset, any field override: one signature
    MyConfig.preset_names()                     # ("paper", "small"); "paper" (the defaults) is always there
    cfg.save_config("run/config.yaml")          # or .json; MyConfig.from_config(path) reads it back

Nested dataclass sections (DG-Net's ``gen``, ``train``, ...) round-trip through :meth:`~ConfigMixin.to_dict`
/ :meth:`~ConfigMixin.from_dict`, which also coerce what JSON and YAML change (lists back to tuples,
``1e-4`` read as text back to a float) and refuse unknown keys instead of dropping them.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml

__all__ = ["ConfigMixin", "build_dataclass", "preset"]

_PRESET_MARK = "__config_preset__"


def preset(name: str) -> Callable[[Any], Any]:
    """Register the decorated classmethod (or function taking the class) as preset ``name`` of its class.

    The builder may take keyword arguments of its own (DG-Net's ``num_classes``, DR-GAN's ``multi``);
    :meth:`ConfigMixin.from_preset` passes them through.
    """

    def mark(builder: Any) -> Any:
        target = builder.__func__ if isinstance(builder, classmethod) else builder
        setattr(target, _PRESET_MARK, name)
        return builder

    return mark


class ConfigMixin:
    """Presets, overrides, dict / YAML / JSON round trips and validation for a dataclass config."""

    _presets: ClassVar[dict[str, Callable[..., Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        registry: dict[str, Callable[..., Any]] = {"paper": cls}  # the defaults are the paper's
        for attr in vars(cls).values():
            func = attr.__func__ if isinstance(attr, classmethod) else attr
            name = getattr(func, _PRESET_MARK, None)
            if name is not None:
                registry[name] = getattr(cls, func.__name__)
        cls._presets = registry

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the field when the values cannot be built (nothing to check by default)."""

    # ------------------------------------------------------------------ presets
    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        """The registered presets, ``paper`` (the defaults) first."""
        return tuple(cls._presets)

    @classmethod
    def from_preset(cls, name: str, /, **overrides: Any) -> Self:
        """Preset ``name`` with ``overrides`` applied.

        A keyword the preset's builder takes goes to the builder (DG-Net's ``num_classes``, DR-GAN's
        ``multi``, which also quarters the steps); any other keyword replaces a field: ``steps=10``, a
        nested section's fields as a dict (``train={"max_iter": 5}``) or a dotted key
        (``**{"train.max_iter": 5}``). Unknown presets and unknown keywords are a ValueError that lists
        the choices.
        """
        if name not in cls._presets:
            raise ValueError(f"unknown {cls.__name__} preset {name!r}; choose one of {list(cls._presets)}")
        builder = cls._presets[name]
        takes = _keyword_parameters(builder)
        own = {k: v for k, v in overrides.items() if k in takes}
        config = builder(**own)
        rest = {k: v for k, v in overrides.items() if k not in takes}
        return config.with_overrides(**rest) if rest else config

    def with_overrides(self, **overrides: Any) -> Self:
        """A copy with fields replaced; nested sections by dict or dotted key (see :meth:`from_preset`)."""
        data = self.to_dict()
        for key, value in overrides.items():
            _set_path(data, key, value, type(self))
        return self.from_dict(data)

    # ------------------------------------------------------------------ plain dicts and files
    def to_dict(self) -> dict[str, Any]:
        """Every field as plain values (nested sections as dicts; tuples stay tuples)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict` (also of its JSON / YAML form); unknown keys are a ValueError."""
        return build_dataclass(cls, data, cls.__name__)

    def save_config(self, path: str | Path) -> Path:
        """Write the config as YAML (``.yaml``/``.yml``) or JSON (any other suffix)."""
        path = Path(path)
        plain = _plain(self.to_dict())
        yaml_file = path.suffix in (".yaml", ".yml")
        text = yaml.safe_dump(plain, sort_keys=False) if yaml_file else json.dumps(plain, indent=2)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") else "\n"))
        return path

    @classmethod
    def from_config(cls, path: str | Path) -> Self:
        """Read a file :meth:`save_config` wrote (YAML or JSON, by suffix)."""
        path = Path(path)
        text = path.read_text()
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping of config fields, found {type(data).__name__}")
        return cls.from_dict(data)


def build_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    """``cls(**data)`` with every value coerced to its field's declared type; ``where`` names the section
    in errors. Nested dataclass fields take dicts; unknown keys, fractions for whole numbers and non-booleans
    for flags are a ValueError (they would otherwise be dropped, truncated or read as true)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping of fields, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown keys in {where}: {unknown}; known: {sorted(known)}")
    return cls(**{key: _coerce(hints[key], value, f"{where}.{key}") for key, value in data.items()})


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """``value`` as the annotated type ``hint`` (bool, int, float, str, tuple[...], a dataclass, else as is)."""
    if is_dataclass(hint) and isinstance(hint, type):
        return value if isinstance(value, hint) else build_dataclass(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, got {value!r}")
        args = typing.get_args(hint)
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            raise ValueError(f"{where} must have {len(items)} entries, got {value!r}")
        return tuple(_coerce(h, v, f"{where}[{i}]") for i, (h, v) in enumerate(zip(items, value, strict=True)))
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        return _number(hint, value, where)
    if hint is str and not isinstance(value, str):
        raise ValueError(f"{where} must be text, got {value!r}")
    if origin in (typing.Union, types.UnionType) and value is None and type(None) in typing.get_args(hint):
        return None
    return value


def _number(kind: type, value: Any, where: str) -> int | float:
    """An int or float field's value; text such as YAML's ``1e-4`` is parsed, whole numbers stay whole."""
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a {kind.__name__}, got {value!r}")
    try:
        number = float(value) if isinstance(value, str) else value
        converted = kind(number)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} must be a {kind.__name__}, got {value!r}") from err
    if kind is int and converted != number:
        raise ValueError(f"{where} must be a whole number, got {value!r}")  # int(2.5) would truncate
    return converted


def _set_path(data: dict[str, Any], key: str, value: Any, cls: type) -> None:
    """Set ``key`` (``field`` or ``section.field``) in the ``to_dict`` form; a dict merges into a section."""
    head, _, tail = key.partition(".")
    if head not in data:
        raise ValueError(f"{cls.__name__} has no field {key!r}; fields: {sorted(data)}")
    if tail:
        if not isinstance(data[head], dict):
            raise ValueError(f"{cls.__name__}.{head} is not a section; {key!r} cannot be set")
        _set_path(data[head], tail, value, cls)
    elif isinstance(data[head], dict) and isinstance(value, dict):
        for sub, sub_value in value.items():
            _set_path(data[head], sub, sub_value, cls)
    else:
        data[head] = asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def _keyword_parameters(builder: Callable[..., Any]) -> set[str]:
    """Names a preset builder takes as keywords (a dataclass itself, the ``paper`` preset, takes none here)."""
    if isinstance(builder, type):
        return set()
    return {p.name for p in inspect.signature(builder).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}  # fmt: skip


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, so that ``yaml.safe_dump`` and ``json`` write them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
