"""The local stack: the three functions under functions-framework, one front door, local events.

Development tooling only; it is not shipped with the functions.
"""
