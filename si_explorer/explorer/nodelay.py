"""Send kernel websocket frames without the ~40 ms Nagle / delayed-ACK stall.

jupyter_server never calls tornado's ``set_nodelay(True)`` on the kernel websocket, so the last
small segment of a reply (a status message, the tail of a plane) can wait for the browser's
delayed ACK: about 40 ms added to every round trip on Linux. Interactive widgets pay it on each
slider move. This module sets TCP_NODELAY on every kernel websocket, through the server's own
configurable connection class, in either of two ways:

1. As configuration (works for JupyterLab, Notebook 7, ``jupyter server`` and standalone Voila)::

       jupyter lab --ServerApp.kernel_websocket_connection_class=\\
           si_explorer.explorer.nodelay.NoDelayWebsocketConnection
       voila app.ipynb --Voila.kernel_websocket_connection_class=\\
           si_explorer.explorer.nodelay.NoDelayWebsocketConnection

   (the same in a config file: ``c.ServerApp.kernel_websocket_connection_class = ...``)

2. As a server extension (JupyterLab / Notebook / jupyter server), enabled once per environment::

       jupyter server extension enable si_explorer.explorer.nodelay

   which swaps in :class:`NoDelayWebsocketConnection` unless another connection class was
   configured explicitly.

:func:`server_args` returns the right command-line options for a launcher.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

CLASS_PATH = "si_explorer.explorer.nodelay.NoDelayWebsocketConnection"


class NoDelayWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The default ZMQ-channels kernel connection, with TCP_NODELAY on its websocket."""

    def connect(self):
        # The websocket is open by now (connect runs from the handler's open()), so the
        # underlying stream exists; NODELAY then applies to every frame the kernel sends.
        self.websocket_handler.set_nodelay(True)
        self.log.info("si-explorer: TCP_NODELAY set on kernel websocket of %s", self.kernel_id)
        return super().connect()


def server_args(app: str = "lab") -> list[str]:
    """Command-line options enabling TCP_NODELAY for ``app`` ("lab", "notebook", "server", "voila").

    >>> server_args("voila")
    ['--Voila.kernel_websocket_connection_class=si_explorer.explorer.nodelay.NoDelayWebsocketConnection']
    """
    owner = "Voila" if app == "voila" else "ServerApp"
    return [f"--{owner}.kernel_websocket_connection_class={CLASS_PATH}"]


def _jupyter_server_extension_points():
    return [{"module": "si_explorer.explorer.nodelay"}]


def _load_jupyter_server_extension(serverapp) -> None:
    settings = serverapp.web_app.settings
    current = settings.get("kernel_websocket_connection_class")
    if current is None or current is ZMQChannelsWebsocketConnection:
        settings["kernel_websocket_connection_class"] = NoDelayWebsocketConnection
        serverapp.log.info("si-explorer: TCP_NODELAY enabled on kernel websockets")
    elif not issubclass(current, NoDelayWebsocketConnection):
        serverapp.log.warning(
            "si-explorer: kernel_websocket_connection_class is %s, so TCP_NODELAY was not "
            "enabled; kernel round trips may pay a ~40 ms delayed-ACK stall",
            current,
        )
