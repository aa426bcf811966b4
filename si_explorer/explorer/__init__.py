"""The explorer widget: a live plane view of a Stack with ROI traces and chunk-load timing.

``Explorer`` is an anywidget (it renders in JupyterLab, Notebook 7, Voila and marimo); its front
end is the bundle in ``static/``, built from ``js/`` in the repository.

Jupyter servers add a ~40 ms delayed-ACK stall to small kernel replies because they never set
TCP_NODELAY on the kernel websocket; :mod:`.nodelay` removes it, and installing si-explorer
switches it on in every Jupyter server of the environment (see that module for the opt-out).
"""

__all__ = ["Explorer"]


def __getattr__(name):
    # Every Jupyter server of the environment imports .nodelay (a server extension) at start:
    # importing the widget here too (anywidget, ipywidgets, matplotlib) cost each server start
    # 1.4-3.4 s on this project's 2-core machine. The widget loads when it is asked for.
    if name == "Explorer":
        from .widget import Explorer

        return Explorer
    raise AttributeError(f"module 'si_explorer.explorer' has no attribute {name!r}")
