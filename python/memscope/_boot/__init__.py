"""The folder `memscope run` puts first on the program's PYTHONPATH, so that
its sitecustomize starts the recorder (see memscope._launch)."""
