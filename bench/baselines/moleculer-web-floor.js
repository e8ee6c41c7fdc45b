"use strict";
/**
 * The framework's floor: moleculer-web and one local action answering the
 * same product JSON (PRODUCT_JSON) on PORT, with nothing else: no context
 * tracking, cache, validation, authentication or rate limit. What the shop's
 * embedded read costs above this is its guards; what this costs above bare
 * node:http is Moleculer and moleculer-web themselves.
 */
const { ServiceBroker } = require("moleculer");
const ApiGateway = require("moleculer-web");

const product = JSON.parse(process.env.PRODUCT_JSON || "{}");
const broker = new ServiceBroker({ logger: false, tracking: { enabled: false } });
broker.createService({ name: "products", actions: { get: { handler: () => product } } });
broker.createService({
	name: "api",
	mixins: [ApiGateway],
	settings: {
		port: Number(process.env.PORT),
		ip: "127.0.0.1",
		logRequest: null,
		logResponse: null,
		routes: [{ path: "/api", logging: false, mappingPolicy: "restrict", aliases: { "GET /products/:id": "products.get" } }],
	},
});
void broker.start();
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
