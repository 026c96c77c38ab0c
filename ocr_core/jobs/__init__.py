"""A stored object -> a stored result: events, tasks, operations, image and document jobs.

Owns the bucket layout; uses recognition and storage below it, never http above it.
"""
