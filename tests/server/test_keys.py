"""Every `web.AppKey` of the app is declared in `server/keys.py`, none beside its handlers."""

from __future__ import annotations

import importlib
import pkgutil

from aiohttp import web

import slogate.server
from slogate.server import keys


def test_every_app_key_is_in_keys() -> None:
    declared = {id(v) for v in vars(keys).values() if isinstance(v, web.AppKey)}
    elsewhere = [
        f"{info.name}.{name}"
        for info in pkgutil.iter_modules(slogate.server.__path__, "slogate.server.")
        for name, value in vars(importlib.import_module(info.name)).items()
        if isinstance(value, web.AppKey) and id(value) not in declared
    ]
    assert elsewhere == []
    assert len(declared) >= 14
