"""Cloud Vision's REST surface (``/v1/...``) on the upload function: ``dispatch`` (routes,
access, Google's errors), ``images`` and ``files`` (the methods), ``longrunning``
(operations and output files), ``wire`` (the JSON), ``sources`` (what requests name),
``openapi`` (the bodies, for the OpenAPI document). Import the module you need: this
package itself imports nothing, so the OpenAPI document does not load the engines."""
