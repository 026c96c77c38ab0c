// Swagger UI on this service's own OpenAPI document; everything is served by the project.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never call out to the public validator
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    tryItOutEnabled: false,
  });
});
