"""Drift correction of localization tables: redundant cross-correlation (RCC) across the cluster."""
