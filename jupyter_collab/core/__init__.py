"""The broker core: plain Python, no tornado and no IPython.

Both doors (the jupyter-server extension and the ``%%collab`` magic) are thin
adapters over what lives here, so a collaborator cell gives the same output
whichever door ran it.
"""
