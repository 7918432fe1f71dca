"""The kernel door: the ``%%collab`` IPython magic, headless runs and the widget review.

Nothing here is needed by the broker core; the core never imports IPython.
"""
