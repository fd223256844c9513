# wheelmagic: load the extension in every Jupyter kernel that reads this config file.
#
# Copy (or append) to one of IPython's config directories, for example
#   {sys.prefix}/etc/ipython/ipython_kernel_config.py     (one environment / image)
#   /etc/ipython/ipython_kernel_config.py                  (the whole machine)
#   ~/.ipython/profile_default/ipython_kernel_config.py    (one user)
#
# `.append` matters: a plain `c.InteractiveShellApp.extensions = [...]` in a higher-priority
# config file (a user's profile) would *replace* this list, while `.append` merges. IPython has
# no `ipython_kernel_config.d/` directory, and JSON config cannot append, so prefer the startup
# file (`wheelmagic enable`) when you can: it cannot be overridden by accident.
c = get_config()  # noqa: F821
c.InteractiveShellApp.extensions.append("wheelmagic")
