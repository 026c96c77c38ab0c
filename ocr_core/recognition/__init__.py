"""Bytes -> result: intake, documents (open, render pages), extract, the result cache.

No Flask and no buckets here; engines below, jobs and http above.
"""
