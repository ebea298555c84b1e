// Swagger UI for /api/docs, from the vendored bundle; "Try it out" with the session sends its CSRF token.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  var token = document.body.dataset.csrfToken;
  settings.dom_id = "#swagger-ui";
  settings.presets = [SwaggerUIBundle.presets.apis];
  settings.requestInterceptor = function (request) {
    if (token) request.headers["X-CSRFToken"] = token;
    return request;
  };
  SwaggerUIBundle(settings);
})();
