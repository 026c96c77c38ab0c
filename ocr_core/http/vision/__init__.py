"""Cloud Vision's REST surface (``/v1/...``) on the upload function: ``dispatch`` (routes,
access, Google's errors), ``images`` and ``files`` (the methods), ``sources`` (what
requests name), ``openapi`` (the routes' bodies, from ``recognition.vision_messages``).
The JSON is built by ``recognition.vision_wire``; operations and their output files are
``jobs.vision_operations``. Import the module you need: this package itself imports
nothing, so the OpenAPI document does not load the engines."""
