"""Test helpers shared by the test modules (import as `support.<module>`)."""
