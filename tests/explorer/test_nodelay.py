"""The TCP_NODELAY kernel websocket option: configuration helpers and the server extension.

That Voila really uses the connection class is checked end to end in test_voila.py.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from si_explorer.explorer import nodelay


def fake_server(connection_class):
    return SimpleNamespace(
        web_app=SimpleNamespace(settings={"kernel_websocket_connection_class": connection_class}),
        log=logging.getLogger("fake-server"),
    )


def test_server_args_name_the_class_for_each_app():
    assert nodelay.server_args("lab") == [
        "--ServerApp.kernel_websocket_connection_class=" + nodelay.CLASS_PATH
    ]
    assert nodelay.server_args("voila")[0].startswith("--Voila.kernel_websocket_connection_class=")
    module, _, name = nodelay.CLASS_PATH.rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is nodelay.NoDelayWebsocketConnection


def test_extension_replaces_the_default_connection_class():
    server = fake_server(ZMQChannelsWebsocketConnection)
    nodelay._load_jupyter_server_extension(server)
    settings = server.web_app.settings
    assert settings["kernel_websocket_connection_class"] is nodelay.NoDelayWebsocketConnection


def test_extension_keeps_a_custom_connection_class(caplog):
    class Custom(ZMQChannelsWebsocketConnection):
        pass

    server = fake_server(Custom)
    with caplog.at_level(logging.WARNING, logger="fake-server"):
        nodelay._load_jupyter_server_extension(server)
    assert server.web_app.settings["kernel_websocket_connection_class"] is Custom
    assert "TCP_NODELAY was not enabled" in caplog.text


def test_extension_point_names_this_module():
    assert nodelay._jupyter_server_extension_points() == [
        {"module": "si_explorer.explorer.nodelay"}
    ]
