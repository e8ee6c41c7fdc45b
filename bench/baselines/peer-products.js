"use strict";
/**
 * The seed's shape, service side: an Express products service holding the
 * one product (PRODUCT_JSON) in memory, `GET /products/:id` on PORT.
 */
const express = require("express");

const product = JSON.parse(process.env.PRODUCT_JSON || "{}");
const app = express();
app.get("/products/:id", (req, res) => {
	if (req.params.id !== product.id) return res.status(404).json({ message: "Product not found" });
	res.json(product);
});
app.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
