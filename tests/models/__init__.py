"""Tests of smlmscale.models."""
