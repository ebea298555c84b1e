"""The trading engine: pure functions over pandas, numpy and dataclasses.

Given bars, a bot's configuration and its money, it returns decisions with their reasons. It reads no
clock, touches no database or network, and imports nothing of Django's or of the apps' (an
import-linter contract in CI holds it so): the live tick and the backtester call the same functions.
"""
