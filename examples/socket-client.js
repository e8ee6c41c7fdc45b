// A Socket.IO client of the shop: signs in over REST, connects with the token, prints every event it receives.
//   SHOP_PASSWORD=… node examples/socket-client.js <email> [baseUrl]     (baseUrl, else BASE_URL, else http://localhost:5000)
// Without SHOP_PASSWORD it asks for the password. Never on the command line, where `ps` shows it to every user.
const readline = require("readline");
const { io } = require("socket.io-client");

const USAGE = "Usage: SHOP_PASSWORD=… node examples/socket-client.js <email> [baseUrl] (or leave SHOP_PASSWORD unset to be asked)";
const args = process.argv.slice(2);
const [email, baseArg] = args;
const base = (baseArg || process.env.BASE_URL || "http://localhost:5000").replace(/\/+$/, "");

/** SHOP_PASSWORD, else one line typed at the prompt (not echoed on a terminal), or piped in. */
async function password() {
	if (process.env.SHOP_PASSWORD) return process.env.SHOP_PASSWORD;
	process.stderr.write("Password: ");
	const terminal = !!process.stdin.isTTY;
	// No output stream: on a terminal (raw mode) the typed password is not echoed.
	const rl = readline.createInterface({ input: process.stdin, terminal });
	const line = await new Promise(resolve => {
		rl.once("line", resolve);
		rl.once("close", () => resolve(""));
	});
	rl.close();
	if (terminal) process.stderr.write("\n");
	return line;
}

/** The JWT for these credentials, or an error with the server's message. */
async function login(password) {
	const res = await fetch(`${base}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
	const body = await res.json().catch(() => ({}));
	if (!res.ok) throw new Error(`Login failed (${res.status}): ${body.message || res.statusText}`);
	return body.token;
}

async function main() {
	if (!email || args.length > 2) throw new Error(args.length > 2 ? `The password is not taken on the command line (ps shows it): set SHOP_PASSWORD or type it when asked.\n${USAGE}` : USAGE);
	const secret = await password();
	if (!secret) throw new Error(`No password: set SHOP_PASSWORD or type it when asked.\n${USAGE}`);
	const token = await login(secret).catch(err => {
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
