"""Exports of the flows for tools outside this project (``eksa-firewall export``).

``aerleon``  pure: flows + topology -> Aerleon network, service and policy YAML texts
``command``  the ``export`` command of the command line (writes the files)

Neither imports Aerleon: the texts are written by hand, and Aerleon (the optional ``export`` extra) is needed
only to turn them into vendor configurations.
"""
