# Installed by wheelmagic (`wheelmagic enable`): load the wheelmagic IPython extension in every
# IPython and Jupyter kernel of this environment. Remove with `wheelmagic disable`.
# Opt out for one kernel or container with WHEELMAGIC_DISABLE=1.
# IPython runs this file at startup; it never stops a kernel from starting.
def _wheelmagic_autoload() -> None:
    import os

    if os.environ.get("WHEELMAGIC_DISABLE", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.extension_manager.load_extension("wheelmagic")
    except Exception as err:  # wheelmagic missing or broken: one line, never a traceback
        print(f"wheelmagic: not loaded ({type(err).__name__}: {err})")


_wheelmagic_autoload()
del _wheelmagic_autoload
