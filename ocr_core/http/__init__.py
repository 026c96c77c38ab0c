"""Flask lives only here: the route table, each function's dispatch, errors -> HTTP, forms,
access, one module per resource, the OpenAPI document and the web page.
"""
