"""Whole-system tests: every URL against every role, the headers on every answer,
fuzzed API input, S3 and MongoDB as storage and database."""
