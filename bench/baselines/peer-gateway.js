"use strict";
/**
 * The seed's shape, gateway side: an Express gateway on PORT proxying
 * `GET /api/products/:id` with axios to the products service at UPSTREAM.
 */
const express = require("express");
const axios = require("axios");

const upstream = process.env.UPSTREAM;
const app = express();
app.use(express.json());
app.get("/api/products/:id", async (req, res) => {
	try {
		const answer = await axios.get(`${upstream}/products/${encodeURIComponent(req.params.id)}`);
		res.status(answer.status).json(answer.data);
	} catch (err) {
		if (err.response) return res.status(err.response.status).json(err.response.data);
		res.status(502).json({ message: "Products service unreachable" });
	}
});
app.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
