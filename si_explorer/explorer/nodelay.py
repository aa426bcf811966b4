"""Send kernel websocket frames without the ~40 ms Nagle / delayed-ACK stall.

jupyter_server never calls tornado's ``set_nodelay(True)`` on the kernel websocket, so the last
small segment of a reply (a status message, the tail of a plane) can wait for the browser's
delayed ACK: about 40 ms added to every round trip on Linux. Interactive widgets pay it on each
slider move. This module sets TCP_NODELAY on every kernel websocket, through the server's own
configurable connection class.

On by default
-------------
Installing si-explorer (``pip install si-explorer``, or ``pip install -e .`` from a checkout)
puts two configuration files into ``{sys.prefix}/etc/jupyter/``, so every Jupyter server started
from that environment uses the fix with nothing to configure:

* ``jupyter_server_config.d/si_explorer.explorer.nodelay.json`` enables this module as a server
  extension (JupyterLab, Notebook 7, ``jupyter server``, and Voila as a Lab/server extension).
  It swaps in :class:`NoDelayWebsocketConnection` unless another connection class was configured
  explicitly, and logs ``si-explorer: TCP_NODELAY enabled on kernel websockets``.
* ``voila.json`` sets ``Voila.kernel_websocket_connection_class``: standalone ``voila app.ipynb``
  (Voila 0.5) loads no server extensions, only its own ``voila.json`` / ``voila.py`` files.

Opting out
----------
* ``SI_EXPLORER_NODELAY=0`` in the server's environment leaves TCP_NODELAY off in every server,
  standalone Voila included (the extension keeps the default class, and the class itself checks
  it too, for servers configured through ``voila.json``).
* ``jupyter server extension disable si_explorer.explorer.nodelay`` disables the extension for
  JupyterLab / Notebook / ``jupyter server`` of the environment: it rewrites the installed file
  above, which a reinstall of si-explorer puts back. (jupyter_server 2 refuses ``--user`` for an
  extension enabled only in the environment; use the variable above for one user.) It does not
  reach standalone Voila: there pass ``--Voila.kernel_websocket_connection_class=\\
  jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection``.

By hand
-------
Where the configuration files are not installed (another environment runs the server), pass the
class on the command line or in a config file::

    jupyter lab --ServerApp.kernel_websocket_connection_class=\\
        si_explorer.explorer.nodelay.NoDelayWebsocketConnection
    voila app.ipynb --Voila.kernel_websocket_connection_class=\\
        si_explorer.explorer.nodelay.NoDelayWebsocketConnection

:func:`server_args` returns those options for a launcher.
"""

from __future__ import annotations

import os
import socket

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

CLASS_PATH = "si_explorer.explorer.nodelay.NoDelayWebsocketConnection"
OPT_OUT_VARIABLE = "SI_EXPLORER_NODELAY"


def enabled() -> bool:
    """False when the server's environment opts out with ``SI_EXPLORER_NODELAY=0`` (or off/no)."""
    value = os.environ.get(OPT_OUT_VARIABLE, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


class NoDelayWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The default ZMQ-channels kernel connection, with TCP_NODELAY on its websocket."""

    def connect(self):
        if not enabled():
            self.log.info(
                "si-explorer: TCP_NODELAY left off on kernel websocket of %s (%s=0)",
                self.kernel_id,
                OPT_OUT_VARIABLE,
            )
            return super().connect()
        # The websocket is open by now (connect runs from the handler's open()), so the
        # underlying stream exists; NODELAY then applies to every frame the kernel sends.
        self.websocket_handler.set_nodelay(True)
        # Read back from the socket itself, so the log states what the kernel's frames get
        # rather than what was asked for (tests and users check this line).
        if _socket_nodelay(self.websocket_handler):
            self.log.info("si-explorer: TCP_NODELAY set on kernel websocket of %s", self.kernel_id)
        else:
            self.log.warning(
                "si-explorer: could not set TCP_NODELAY on kernel websocket of %s", self.kernel_id
            )
        return super().connect()


def _socket_nodelay(handler) -> bool | None:
    """TCP_NODELAY as the handler's socket reports it (None if the socket is not reachable)."""
    try:
        sock = handler.ws_connection.stream.socket
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except (AttributeError, OSError):
        return None


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
    if not enabled():
        serverapp.log.info(
            "si-explorer: TCP_NODELAY not enabled on kernel websockets (%s=0)", OPT_OUT_VARIABLE
        )
        return
    settings = serverapp.web_app.settings
    current = settings.get("kernel_websocket_connection_class")
    if current is None or current is ZMQChannelsWebsocketConnection:
        settings["kernel_websocket_connection_class"] = NoDelayWebsocketConnection
        serverapp.log.info("si-explorer: TCP_NODELAY enabled on kernel websockets")
    elif issubclass(current, NoDelayWebsocketConnection):
        serverapp.log.info("si-explorer: TCP_NODELAY enabled on kernel websockets (configured)")
    else:
        serverapp.log.warning(
            "si-explorer: kernel_websocket_connection_class is %s, so TCP_NODELAY was not "
            "enabled; kernel round trips may pay a ~40 ms delayed-ACK stall",
            current,
        )
