// A Socket.IO client of the shop: signs in over REST, connects with the token, prints every event it receives.
//   node examples/socket-client.js <email> <password> [baseUrl]     (baseUrl, else BASE_URL, else http://localhost:5000)
const { io } = require("socket.io-client");

const [email, password, baseArg] = process.argv.slice(2);
const base = (baseArg || process.env.BASE_URL || "http://localhost:5000").replace(/\/+$/, "");

/** The JWT for these credentials, or an error with the server's message. */
async function login() {
	const res = await fetch(`${base}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
	const body = await res.json().catch(() => ({}));
	if (!res.ok) throw new Error(`Login failed (${res.status}): ${body.message || res.statusText}`);
	return body.token;
}

async function main() {
	if (!email || !password) throw new Error("Usage: node examples/socket-client.js <email> <password> [baseUrl]");
	const token = await login().catch(err => {
		throw err.message === "fetch failed" ? new Error(`Cannot reach ${base}: ${err.cause?.code || err.cause?.message || err.message}`) : err;
	});
	const socket = io(base, { auth: { token } });
	socket.on("connect", () => {
		console.log(`connected to ${base} as ${email}`);
		socket.emit("call", "products.list", { pageSize: 3 }, (err, page) => console.log("products:", err ? err.message : page.total));
	});
	socket.on("connect_error", err => {
		// Refused by the server (a bad or expired token, a blocked customer): it will not retry. Otherwise Socket.IO reconnects by itself.
		if (socket.active) return console.error("connection lost, retrying:", err.message);
		console.error("refused:", err.message);
		process.exit(1);
	});
	socket.on("disconnect", reason => console.log("disconnected:", reason));
	socket.onAny((event, payload) => console.log(event, JSON.stringify(payload)));
}

main().catch(err => {
	console.error(err.message);
	process.exit(1);
});
