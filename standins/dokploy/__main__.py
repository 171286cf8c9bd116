"""`python -m standins.dokploy`: the same command as the `infraguardian-standin` console script."""

from .cli import main

main()
