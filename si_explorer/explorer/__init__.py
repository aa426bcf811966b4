"""The explorer widget: a live plane view of a Stack with ROI traces and chunk-load timing.

``Explorer`` is an anywidget (it renders in JupyterLab, Notebook 7, Voila and marimo); its front
end is the bundle in ``static/``, built from ``js/`` in the repository.

Jupyter servers add a ~40 ms delayed-ACK stall to small kernel replies because they never set
TCP_NODELAY on the kernel websocket; :mod:`.nodelay` removes it. Enable it with::

    voila app.ipynb --Voila.kernel_websocket_connection_class=\\
        si_explorer.explorer.nodelay.NoDelayWebsocketConnection
    jupyter server extension enable si_explorer.explorer.nodelay    # JupyterLab / Notebook 7
"""

from .widget import Explorer

__all__ = ["Explorer"]
