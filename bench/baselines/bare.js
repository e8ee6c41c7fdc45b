"use strict";
/**
 * The yardstick: a bare node:http server answering every request with the
 * same product JSON the shop serves (PRODUCT_JSON), on PORT.
 */
const http = require("http");

const body = Buffer.from(process.env.PRODUCT_JSON || "{}");
http.createServer((req, res) => {
	res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
	res.end(body);
}).listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
