"""Delighted's public API v1 under ``/delighted/v1/``, answered from CXSurvey's models."""
