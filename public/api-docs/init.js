window.ui = SwaggerUIBundle({
	url: "/api/openapi.json",
	dom_id: "#swagger-ui",
	deepLinking: true,
	validatorUrl: null,
	presets: [SwaggerUIBundle.presets.apis],
	layout: "BaseLayout",
});
