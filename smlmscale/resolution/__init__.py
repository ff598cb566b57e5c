"""Resolution estimates of localization tables: Fourier ring correlation (FRC)."""
