"""eksa-firewall: the Pulumi program. See README.md; the work is done in components/program.py."""

from components.program import main

main()
