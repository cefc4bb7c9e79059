"""The gait tab's and the CLI's layer over GaitNet and DyGait: both models behind one API (``api``), their
diagrams and pictures (``figures``), speed (``bench``), shipping (``ship``) and commands (``commands``).

It sits above ``core.gaitnet`` and ``core.dygait``, which sit above the shared pieces in ``core.gait``.
"""
