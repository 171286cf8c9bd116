"""`python -m standins.ollama`: the same command as the `infraguardian-ollama-standin` console script."""

from .cli import main

main()
