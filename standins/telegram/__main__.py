"""`python -m standins.telegram`: the same command as the `infraguardian-telegram-standin` console script."""

from .cli import main

main()
