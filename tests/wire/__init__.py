"""Wire-level test doubles: real HTTP servers that speak provider protocols."""
