"""Shared gait pieces below GaitNet and DyGait: walks and P x K clips (``data``), user clips (``clip``), walkers
rendered on demand (``walkers``), the GEI baseline and the CASIA-B evaluation (``evaluate``). The tab's and the
CLI's layer over both models is ``core.gaitapp``."""
