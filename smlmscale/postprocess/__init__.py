"""Post-processing of localization tables: linking consecutive-frame localizations, filtering."""
